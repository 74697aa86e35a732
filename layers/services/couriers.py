"""WeChat's couriers (get_delivery_list) for the console's courier picker: the shipping
form shows their names and sends their ids, the only `express_company` values WeChat's
upload_shipping_info accepts (typing 顺丰 instead of SF fails the upload).

The list changes rarely: each container keeps it a day. When WeChat cannot be asked, the
last list is used however old; with none at all, `names()` is empty and the form falls
back to a typed id (the upload then says whether WeChat knows it)."""

from __future__ import annotations

from collections.abc import Callable

from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable

DAY_S = 86400


class Couriers:
    def __init__(self, *, fetch: Callable[[], list[dict]], clock, ttl_s: int = DAY_S):
        self.fetch = fetch  # MiniProgram.get_delivery_list
        self.clock = clock
        self.ttl_s = ttl_s
        self._list: list[dict] | None = None
        self._fetched_at: float | None = None

    def all(self) -> list[dict]:
        """`[{"delivery_id", "delivery_name"}]`, as WeChat lists them; [] when never known."""
        now = self.clock.now().timestamp()
        if self._list is None or self._fetched_at is None or now - self._fetched_at >= self.ttl_s:
            try:
                self._list, self._fetched_at = self.fetch(), now
            except (WeChatUnavailable, WeChatApiError):
                if self._list is None:
                    return []
        return list(self._list)

    def names(self) -> dict[str, str]:
        return {d["delivery_id"]: d["delivery_name"] for d in self.all()}

    def checked(self, delivery_id: str | None) -> str | None:
        """The id when WeChat lists it (or when the list cannot be had); else None."""
        names = self.names()
        return delivery_id if not names or delivery_id in names else None
