"""The mini-program server API: code2session (through wechatpy), and the calls that need
the access token (subscription messages, shipping information, trade management,
`wxacode.getUnlimited`) through one small `_call`.

The access token comes from `/cgi-bin/stable_token` and is shared by every container
through the table (`layers/wechat/access_token.py`): one caller refreshes it. A call
WeChat answers with an access-token error (40001, 40014, 42001) refreshes the token once
and is retried once; wechatpy's own retry is unbounded and fetches a token per process,
so the token-bearing calls do not go through it.

wechatpy hard-codes https://api.weixin.qq.com in places; `_Client` points it at
WECHAT_API_BASE, so the same code talks to the sandbox locally.
"""

from __future__ import annotations

import json
import time

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from layers.domain.miniprogram import (
    AppSecretRejected,
    InvalidCode,
    SubscriptionRefused,
    WeChatApiError,
    WeChatUnavailable,
)
from layers.wechat.access_token import AccessTokens, TokenStore

# errcodes WeChat gives for a code that is not (or no longer) valid
INVALID_CODE_ERRCODES = {40029, 40163, 40226, 41008}
# "invalid appsecret" (全局返回码 40125): the shop's app secret is wrong, whatever the code.
APP_SECRET_REJECTED = 40125
SUBSCRIPTION_REFUSED = 43101
# The access token is not (or no longer) valid: refresh once, retry once.
TOKEN_ERRCODES = {40001, 40014, 42001}


__all__ = ["InvalidCode", "MiniProgram", "SubscriptionRefused", "WeChatApiError", "WeChatUnavailable"]


class _Client(WeChatClient):
    def __init__(self, appid, secret, api_base: str, session=None, timeout=5):
        super().__init__(appid, secret, session=session, timeout=timeout)
        self._base = api_base.rstrip("/") + "/"
        self.API_BASE_URL = self._base + "cgi-bin/"
        self.wxa.API_BASE_URL = self._base
        self.tokens: AccessTokens | None = None

    @property
    def access_token(self):
        # wechatpy adds a token to every call (code2session included): the shared one.
        return self.tokens.get() if self.tokens is not None else None

    def fetch_access_token(self):
        raise RuntimeError("the access token comes from layers.wechat.access_token")


class MiniProgram:
    def __init__(self, appid: str, secret: str, api_base: str = "https://api.weixin.qq.com",
                 session=None, timeout: float = 5, token_store: TokenStore | None = None):
        self.appid, self.secret = appid, secret
        self.base = api_base.rstrip("/")
        self.timeout = timeout
        self.client = _Client(appid, secret, api_base, session=session, timeout=timeout)
        self.http = requests.Session()
        self.tokens = AccessTokens(self._stable_token, token_store or _ProcessTokenStore())
        self.client.tokens = self.tokens
        self.sleep = time.sleep  # between retries of an unknown outcome (tests make it instant)

    # -- code2session (no access token) --------------------------------------------------------

    def code2session(self, code: str) -> tuple[str, str | None]:
        """(openid, unionid). wechatpy adds the access token to this call too, so a token
        that cannot be fetched (stable_token refused, WeChat unreachable, the refreshing
        caller late) is WeChatUnavailable here, and a refused app secret, from either call,
        AppSecretRejected: neither is the shopper's code."""
        try:
            answer = self.client.wxa.code_to_session(code)
        except WeChatClientException as exc:
            if exc.errcode == APP_SECRET_REJECTED:
                raise AppSecretRejected(f"{exc.errcode}: {exc.errmsg}") from exc
            if exc.errcode in INVALID_CODE_ERRCODES:
                raise InvalidCode(str(exc.errmsg)) from exc
            raise WeChatUnavailable(f"{exc.errcode}: {exc.errmsg}") from exc
        except WeChatApiError as exc:  # the access token's fetch
            if int(exc.errcode) == APP_SECRET_REJECTED:
                raise AppSecretRejected(str(exc)) from exc
            raise WeChatUnavailable(f"no access token: {exc}") from exc
        except TimeoutError as exc:
            raise WeChatUnavailable(str(exc)) from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc
        openid = answer.get("openid")
        if not openid:
            raise InvalidCode("WeChat returned no openid")
        return openid, answer.get("unionid")

    # -- the access token ---------------------------------------------------------------------

    def _stable_token(self, force_refresh: bool) -> tuple[str, int]:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                "force_refresh": force_refresh}
        data = self._post(f"{self.base}/cgi-bin/stable_token", body, params=None)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise WeChatApiError(int(data.get("errcode", -1)), data.get("errmsg", "no access token"))
        return data["access_token"], int(data.get("expires_in", 7200))

    # -- calls that carry the access token ---------------------------------------------------------

    def _post(self, url: str, body: dict, params: dict | None, binary: bool = False):
        try:
            response = self.http.post(url, params=params, timeout=self.timeout,
                                      data=json.dumps(body, ensure_ascii=False).encode(),
                                      headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise WeChatUnavailable(f"HTTP {response.status_code}")
        content_type = response.headers.get("Content-Type", "")
        if binary and content_type.startswith("image/"):
            return response.content, content_type.split(";")[0]
        try:
            return response.json()
        except ValueError as exc:
            raise WeChatUnavailable(f"not JSON (HTTP {response.status_code})") from exc

    def _call(self, path: str, body: dict, binary: bool = False):
        """POST `path` with the access token; one refresh and one retry on a token error."""
        token = self.tokens.get()
        for attempt in range(2):
            answer = self._post(self.base + path, body, params={"access_token": token}, binary=binary)
            if isinstance(answer, tuple):
                return answer
            errcode = int(answer.get("errcode", 0) or 0)
            if errcode in TOKEN_ERRCODES and attempt == 0:
                token = self.tokens.refresh(rejected=token)
                continue
            if errcode != 0:
                raise WeChatApiError(errcode, answer.get("errmsg", ""))
            return answer
        raise WeChatApiError(errcode, answer.get("errmsg", ""))  # the token was rejected twice

    def send_subscribe_message(self, openid: str, template_id: str, data: dict, page: str | None = None) -> None:
        body = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            body["page"] = page
        try:
            self._call("/cgi-bin/message/subscribe/send", body)
        except WeChatApiError as exc:
            if exc.errcode == SUBSCRIPTION_REFUSED:
                raise SubscriptionRefused(str(exc.errmsg)) from exc
            raise

    # -- shipping information, trade management, share codes --------------------------

    def upload_shipping_info(self, body: dict) -> None:
        self._call("/wxa/sec/order/upload_shipping_info", body)

    def is_trade_managed(self) -> bool:
        """WeChat's answer, or WeChatUnavailable: only `errcode` 0 with a boolean
        `is_trade_managed` is an answer (a body without them is not "not managed")."""
        answer = self._call("/wxa/sec/order/is_trade_managed", {"appid": self.appid})
        if answer.get("errcode") != 0 or not isinstance(answer.get("is_trade_managed"), bool):
            raise WeChatUnavailable(f"is_trade_managed: no answer in {str(answer)[:100]}")
        return answer["is_trade_managed"]

    def get_delivery_list(self) -> list[dict]:
        """WeChat's couriers, `[{"delivery_id": "SF", "delivery_name": "顺丰速运"}, ...]`: the
        only `express_company` values upload_shipping_info accepts. POST, no body
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/weixin-express/express-msg/api_get_delivery_list.md)."""
        answer = self._call("/cgi-bin/express/delivery/open_msg/get_delivery_list", {})
        found = answer.get("delivery_list")
        if not isinstance(found, list):
            raise WeChatUnavailable("get_delivery_list: no delivery_list")
        return [{"delivery_id": str(d["delivery_id"]), "delivery_name": str(d.get("delivery_name") or d["delivery_id"])}
                for d in found if isinstance(d, dict) and d.get("delivery_id")]

    def get_phone_number(self, code: str) -> dict:
        """`{"phone", "country_code"}` for a getPhoneNumber button's `code`
        (phonenumber.getPhoneNumber, POST /wxa/business/getuserphonenumber,
        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html).
        wechatpy (1.8) has no method for this API, so it goes through `_call` with the shared
        access token like the other token-bearing calls. A code is single-use and lives 5
        minutes; a refused one (40029) is InvalidCode, the shopper's to fix by tapping again.
        The number is returned, never logged: the caller seals it."""
        try:
            answer = self._call("/wxa/business/getuserphonenumber", {"code": code})
        except WeChatApiError as exc:
            if int(exc.errcode) in INVALID_CODE_ERRCODES:
                raise InvalidCode("the phone number code is not valid (used, expired or unknown)") from None
            raise
        info = answer.get("phone_info")
        pure = info.get("purePhoneNumber") if isinstance(info, dict) else None
        if not isinstance(pure, str) or not pure.isdigit():
            raise WeChatUnavailable("getuserphonenumber: no phone_info.purePhoneNumber")
        watermark = info.get("watermark") or {}
        if watermark.get("appid") not in (None, self.appid):
            # The watermark names the mini-program the number was given to (the doc's
            # "敏感数据归属 appId"): another app's answer is not ours to store.
            raise WeChatUnavailable("getuserphonenumber: the watermark names another appid")
        return {"phone": pure, "country_code": str(info.get("countryCode") or "86")}

    def get_unlimited_code(self, scene: str, page: str, check_path: bool = False,
                           retries: int = 0) -> tuple[bytes, str]:
        """wxacode.getUnlimited (POST /wxa/getwxacodeunlimit): the image, or the errcode as
        WeChatApiError. `check_path` (WeChat's default true) refuses a page the published
        mini-program does not have (41030); share codes leave it off. `retries`: how many
        times an unknown outcome is asked again (`_retrying`)."""
        body = {"scene": scene, "page": page, "check_path": check_path}
        answer = self._retrying(lambda: self._call("/wxa/getwxacodeunlimit", body, binary=True), retries)
        if not isinstance(answer, tuple):
            raise WeChatApiError(int(answer.get("errcode", -1)), answer.get("errmsg", "no image"))
        return answer

    # -- links: URL Link and URL Scheme --------------------------------------------------------
    # Both expire, at most 30 days after they are made: WeChat makes no other kind since
    # 2023 (is_expire is always true; "最长间隔天数为30天"). Generating URL Links and Schemes
    # together is limited to 500,000 a day per mini-program (45009 past it) and, per the
    # older error table, 100 a second (44990). docs/links.md has the sources.

    def generate_url_link(self, path: str, query: str, expire_interval_days: int,
                          env_version: str = "release", retries: int = 2) -> str:
        """urllink.generate (POST /wxa/generate_urllink,
        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/url-link/generateUrlLink.html):
        body `path` (a published page, no query), `query` (at most 1024 of
        `0-9A-Za-z!#$&'()*+,/:;=?@-._~%`), `env_version`, `expire_type` 1 (an interval) with
        `expire_interval` in days (at most 30); answers `{"errcode": 0, "errmsg": "ok",
        "url_link": "https://wxaurl.cn/..."}`. WeChatApiError with WeChat's errcode
        (40165 path, 40212 query, 85401 expiry, 45009/44990 quota, 40002/40013 no
        permission), WeChatUnavailable when the outcome stayed unknown."""
        body = {"path": path, "query": query, "env_version": env_version, "is_expire": True,
                "expire_type": 1, "expire_interval": expire_interval_days}
        answer = self._retrying(lambda: self._call("/wxa/generate_urllink", body), retries)
        url = answer.get("url_link")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise WeChatUnavailable("generate_urllink: no url_link in the answer")
        return url

    def generate_scheme(self, path: str, query: str, expire_interval_days: int,
                        env_version: str = "release", retries: int = 2) -> str:
        """generatescheme (POST /wxa/generatescheme,
        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/url-scheme/generateScheme.html):
        body `jump_wxa: {path, query, env_version}` with the same path and query rules as a
        URL Link, `expire_type` 1 and `expire_interval` (days, at most 30); answers
        `{"errcode": 0, "errmsg": "ok", "openlink": "weixin://dl/business/?t=..."}`. Errors
        as generate_url_link."""
        body = {"jump_wxa": {"path": path, "query": query, "env_version": env_version}, "is_expire": True,
                "expire_type": 1, "expire_interval": expire_interval_days}
        answer = self._retrying(lambda: self._call("/wxa/generatescheme", body), retries)
        link = answer.get("openlink")
        if not isinstance(link, str) or not link.startswith("weixin://"):
            raise WeChatUnavailable("generatescheme: no openlink in the answer")
        return link

    def _retrying(self, call, retries: int):
        """`call()`, asked again (the same request) up to `retries` times while its outcome
        is unknown: a timeout, a connection error, HTTP 5xx or 429 (WeChatUnavailable) and
        errcode -1 ("系统繁忙，此时请开发者稍候再试", 全局返回码). A link or code made by an
        attempt whose answer was lost is never used, and costs one of the day's quota."""
        for attempt in range(retries + 1):
            try:
                return call()
            except AppSecretRejected:
                raise  # the configuration, not the moment: asking again changes nothing
            except WeChatUnavailable:
                if attempt == retries:
                    raise
            except WeChatApiError as exc:
                if int(exc.errcode) != -1:
                    raise
                if attempt == retries:
                    raise WeChatUnavailable(f"WeChat stayed busy: {exc}") from exc
            self.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")


class _ProcessTokenStore:
    """A token store for one process (tools and tests without the table)."""

    def __init__(self):
        self.token = None
        self.lease: str | None = None

    def get(self):
        return self.token

    def put(self, token) -> None:
        self.token = token

    def try_lease(self, owner: str, seconds: float) -> bool:
        if self.lease in (None, owner):
            self.lease = owner
            return True
        return False

    def release(self, owner: str) -> None:
        if self.lease == owner:
            self.lease = None
