"""What the shop needs of the mini-program server API, as a Protocol, and the errors it
answers with. `layers/wechat/miniprogram.py` implements it through wechatpy;
`tests/fakes/miniprogram.py` has an in-memory one."""

from __future__ import annotations

from typing import Protocol


class InvalidCode(Exception):
    """wx.login's code is not (or no longer) valid."""


class WeChatUnavailable(Exception):
    """Timeout, connection error, or WeChat failed: nothing is known; retry."""


class AppSecretRejected(WeChatUnavailable):
    """WeChat refused the mini-program's app secret (40125): the shop's configuration is
    wrong, not the shopper's code. Nothing works until an operator fixes it."""


class SubscriptionRefused(Exception):
    """The shopper has not (or no longer) accepted this template."""


class WeChatApiError(Exception):
    def __init__(self, errcode, errmsg):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


class MiniProgramClient(Protocol):
    def code2session(self, code: str) -> tuple[str, str | None]:
        """(openid, unionid) for a wx.login code; InvalidCode or WeChatUnavailable."""

    def send_subscribe_message(self, openid: str, template_id: str, data: dict, page: str | None = None) -> None:
        """SubscriptionRefused, WeChatApiError or WeChatUnavailable when not sent."""


# -- shipping information, share codes ---------------------------------------------

class ShippingApi(Protocol):
    def upload_shipping_info(self, body: dict) -> None:
        """WeChatApiError (with WeChat's errcode) or WeChatUnavailable when not taken."""

    def is_trade_managed(self) -> bool:
        """Whether WeChat holds this mini-program's money until shipping is uploaded."""


class CodeApi(Protocol):
    def get_unlimited_code(self, scene: str, page: str) -> tuple[bytes, str]:
        """(image, content type) of `wxacode.getUnlimited`; WeChatApiError or WeChatUnavailable."""


class LinkApi(Protocol):
    """URL Links, URL Schemes and mini-program codes for links (layers/domain/links.py).
    Each asks again while the outcome is unknown, then raises WeChatUnavailable; a refusal
    is WeChatApiError with WeChat's errcode."""

    def generate_url_link(self, path: str, query: str, expire_interval_days: int) -> str: ...

    def generate_scheme(self, path: str, query: str, expire_interval_days: int) -> str: ...

    def get_unlimited_code(self, scene: str, page: str, check_path: bool = False,
                           retries: int = 0) -> tuple[bytes, str]: ...


class PhoneApi(Protocol):
    def get_phone_number(self, code: str) -> dict:
        """`{"phone", "country_code"}` for a getPhoneNumber code; InvalidCode (used,
        expired, unknown), WeChatApiError or WeChatUnavailable."""


class ImageStore(Protocol):
    """Where generated images are kept (an S3 bucket)."""

    def get(self, key: str) -> tuple[bytes, str] | None: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
