"""Login: WeChat's code2session gives the openid; the shop issues its own token. The
session_key WeChat returns is never stored or returned: nothing here decrypts user data.

Logins are rate-limited per source address (before WeChat is asked) and per
openid; a token carries the user's token version, and `revoke` raises it, so every
token issued before stops working (at once in this container, within
`TokenVersions.ttl_s` in the others, which cache versions briefly)."""

from __future__ import annotations

import time
from collections.abc import Callable

from layers.clock import iso
from layers.domain import errors
from layers.domain.miniprogram import (
    AppSecretRejected,
    InvalidCode,
    MiniProgramClient,
    WeChatUnavailable,
)
from layers.domain.rate_limit import RateLimiter
from layers.domain.users import UserRepository
from layers.observability import logger

LOGIN_WINDOW_S = 60


class TokenVersions:
    """Each user's current token version, cached briefly per container. Its own class (issue
    16): every shopper call checks a version, and that check needs the users and nothing of
    the login (WeChat's client, the rate limiter)."""

    def __init__(self, *, users: UserRepository, ttl_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.users = users
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._versions: dict[str, tuple[int, float]] = {}

    def check(self, user_id: str, version: int) -> None:
        """401 unless `version` is the user's current token version."""
        if not self.check_cached(user_id, version):
            self.check_read(user_id, version, self.users.token_version(user_id))

    def check_cached(self, user_id: str, version: int) -> bool:
        """True when this container knows the user's current version and `version` is it;
        401 when it knows another; False when it has to be read."""
        cached = self._versions.get(user_id)
        if cached is None or cached[1] < self.monotonic():
            return False
        if version != cached[0]:
            raise errors.Unauthorized("token revoked")
        return True

    def check_read(self, user_id: str, version: int, current: int) -> None:
        """401 unless `version` is `current`, the user's version as a read of theirs found it
        (placement's batch read: one DynamoDB call fewer on a cold container)."""
        self.learn(user_id, current)
        if version != current:
            raise errors.Unauthorized("token revoked")

    def learn(self, user_id: str, current: int) -> None:
        """Remember `current` as the user's version (read just now, or raised by a revoke)."""
        if len(self._versions) > 10_000:
            self._versions.clear()
        self._versions[user_id] = (current, self.monotonic() + self.ttl_s)


class AuthService:
    def __init__(self, *, users: UserRepository, mini_program: MiniProgramClient,
                 issue_token: Callable[..., tuple[str, int]], clock,
                 rate_limiter: RateLimiter | None = None, login_limit_per_address: int = 0,
                 login_limit_per_openid: int = 0, versions: TokenVersions | None = None):
        self.users = users
        self.mini_program = mini_program
        self.issue_token = issue_token
        self.clock = clock
        self.rate_limiter = rate_limiter
        self.login_limit_per_address = login_limit_per_address
        self.login_limit_per_openid = login_limit_per_openid
        self.versions = versions or TokenVersions(users=users)

    def login(self, code: str, source_address: str | None = None) -> dict:
        if source_address:
            self._limit(f"login:addr:{source_address}", self.login_limit_per_address)
        try:
            openid, unionid = self.mini_program.code2session(code)
        except InvalidCode as exc:
            raise errors.InvalidCode("WeChat rejected this login code") from exc
        except AppSecretRejected as exc:
            # The shop's configuration: no shopper can log in until the secret is fixed.
            logger.error("WeChat refused the app secret at login",
                         extra={"alarm": "WECHAT_APP_SECRET", "error": str(exc)[:200]})
            raise errors.UpstreamUnavailable("login is unavailable; try again later") from exc
        except WeChatUnavailable as exc:
            raise errors.UpstreamUnavailable("WeChat cannot be reached; try again") from exc
        self._limit(f"login:openid:{openid}", self.login_limit_per_openid)
        user = self.users.upsert_user(openid, unionid, iso(self.clock.now()))
        token, expires_in = self.issue_token(user.user_id, user.token_version)
        return {"token": token, "expires_in": expires_in, "user": {"id": user.user_id}}

    def _limit(self, key: str, limit: int) -> None:
        if self.rate_limiter is None or limit <= 0:
            return
        if not self.rate_limiter.hit(key, limit, LOGIN_WINDOW_S, int(self.clock.now().timestamp())):
            raise errors.RateLimited("too many logins; try again in a minute")

    def revoke(self, user_id: str) -> dict:
        """Every token of `user_id` issued so far stops working."""
        version = self.users.revoke_tokens(user_id)
        self.versions.learn(user_id, version)
        return {"user_id": user_id, "token_version": version}
