"""The mini-program server API through wechatpy: code2session, subscription messages,
and the access token they need, cached in a shared SessionStorage.

wechatpy hard-codes https://api.weixin.qq.com in places (the token URL, each API
class's API_BASE_URL); `_Client` points all of them at WECHAT_API_BASE, so the same
code talks to the sandbox locally.
"""

from __future__ import annotations

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from layers.domain.miniprogram import (
    InvalidCode,
    SubscriptionRefused,
    WeChatApiError,
    WeChatUnavailable,
)

# errcodes WeChat gives for a code that is not (or no longer) valid
INVALID_CODE_ERRCODES = {40029, 40163, 40226, 40125, 41008}
SUBSCRIPTION_REFUSED = 43101


__all__ = ["InvalidCode", "MiniProgram", "SubscriptionRefused", "WeChatApiError", "WeChatUnavailable"]


class _Client(WeChatClient):
    def __init__(self, appid, secret, api_base: str, session=None, timeout=5):
        super().__init__(appid, secret, session=session, timeout=timeout)
        self._base = api_base.rstrip("/") + "/"
        self.API_BASE_URL = self._base + "cgi-bin/"
        self.wxa.API_BASE_URL = self._base

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self._base + "cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


class MiniProgram:
    def __init__(self, appid: str, secret: str, api_base: str = "https://api.weixin.qq.com",
                 session=None, timeout: float = 5):
        self.client = _Client(appid, secret, api_base, session=session, timeout=timeout)

    def code2session(self, code: str) -> tuple[str, str | None]:
        try:
            answer = self.client.wxa.code_to_session(code)
        except WeChatClientException as exc:
            if exc.errcode in INVALID_CODE_ERRCODES:
                raise InvalidCode(str(exc.errmsg)) from exc
            raise WeChatUnavailable(f"{exc.errcode}: {exc.errmsg}") from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc
        openid = answer.get("openid")
        if not openid:
            raise InvalidCode("WeChat returned no openid")
        return openid, answer.get("unionid")

    def send_subscribe_message(self, openid: str, template_id: str, data: dict, page: str | None = None) -> None:
        try:
            self.client.wxa.send_subscribe_message(openid, template_id, data, page=page)
        except WeChatClientException as exc:
            if exc.errcode == SUBSCRIPTION_REFUSED:
                raise SubscriptionRefused(str(exc.errmsg)) from exc
            raise WeChatApiError(exc.errcode, exc.errmsg) from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc
