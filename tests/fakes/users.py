"""In-memory twins of layers/storage/users.py, layers/storage/cart.py and the
mini-program client. Keys: ("user", id) -> User, ("cart", user_id, sku_id) -> CartLine."""

from __future__ import annotations

from dataclasses import replace

from layers.domain.cart import CartLine
from layers.domain.miniprogram import InvalidCode, SubscriptionRefused, WeChatUnavailable
from layers.domain.users import User, user_id_for
from tests.fakes.memory import MemoryStore


class MemoryUserRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def upsert_user(self, openid: str, unionid: str | None, now: str) -> User:
        user_id = user_id_for(openid)
        key = ("user", user_id)
        with self.store.lock:
            before = self.store.items.get(key)
            if before is None:
                after = User(user_id, openid, unionid, now, now,
                             token_version=self.store.items.get(("token_version", user_id), 0))
            else:
                after = replace(before, openid=openid, last_login_at=now, unionid=unionid or before.unionid)
            self.store.items[key] = after
            return after

    def get_user(self, user_id: str) -> User | None:
        return self.store.get(("user", user_id))

    def token_version(self, user_id: str) -> int:
        user = self.store.get(("user", user_id))
        return user.token_version if user else self.store.get(("token_version", user_id)) or 0

    def revoke_tokens(self, user_id: str) -> int:
        with self.store.lock:
            user = self.store.items.get(("user", user_id))
            if user is None:
                version = (self.store.items.get(("token_version", user_id)) or 0) + 1
                self.store.items[("token_version", user_id)] = version
                return version
            self.store.items[("user", user_id)] = replace(user, token_version=user.token_version + 1)
            return user.token_version + 1


class MemoryCartRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def lines(self, user_id: str) -> list[CartLine]:
        return self.store.scan(("cart", user_id))

    def put_line(self, line: CartLine) -> None:
        with self.store.lock:
            self.store.items[("cart", line.user_id, line.sku_id)] = line

    def remove_line(self, user_id: str, sku_id: str) -> None:
        with self.store.lock:
            self.store.items.pop(("cart", user_id, sku_id), None)


class FakeMiniProgram:
    """code2session: "invalid..." codes are refused, "down..." ones find WeChat unreachable,
    any other code is the openid `o-<code>`. Messages to `refusing` openids are refused."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.refusing: set[str] = set()
        self.failing = False

    def code2session(self, code: str) -> tuple[str, str | None]:
        if code.startswith("invalid"):
            raise InvalidCode("40029: invalid code")
        if code.startswith("down"):
            raise WeChatUnavailable("timeout")
        return f"o-{code}", None

    def send_subscribe_message(self, openid: str, template_id: str, data: dict, page: str | None = None) -> None:
        if openid in self.refusing:
            raise SubscriptionRefused("43101")
        if self.failing:
            raise WeChatUnavailable("timeout")
        self.sent.append({"touser": openid, "template_id": template_id, "data": data, "page": page})
