"""The mini-program server API of the WeChat sandbox, as strict as WeChat's documentation.

- `POST /cgi-bin/stable_token` (normal mode answers the same token while it is valid;
  `force_refresh` makes a new one; a daily quota, then 45009), `GET /cgi-bin/token`.
  Every call below checks its `access_token` (40001 when it is not the current one).
- `POST /cgi-bin/message/subscribe/send`: 43101 for shoppers who refused; 47003 when a
  value does not fit its keyword (`time`/`date` in WeChat's forms, `thing` at most 20
  characters, `amount` a number of yuan, ...), and, for a template whose keywords were
  registered (`register_template`, as the merchant's WeChat account lays it out), when
  the `data` keys are not exactly those keywords.
- `POST /wxa/sec/order/upload_shipping_info`: `order_key` by (mchid, out_trade_no) or
  transaction_id; `shipping_list` must be an array of 1 to 15 (an object is 47001);
  10060001 while WeChat has not booked the payment; one change of shipping
  information per payment (a third upload is 10060003). `logistics_type` 4 (用户自提)
  carries no courier and no tracking number, only `item_desc` in its one parcel: WeChat
  answers 268485228 "统一发货模式下,物流信息列表长度必须为1" to an empty `shipping_list`
  in unified delivery (developer community,
  https://developers.weixin.qq.com/community/develop/doc/000a6402700e18f80a7299a6e66800 and
  .../000eaca1778c00e59a94de22166400: "传shipping_list 里面设置item_desc即可"), and
  "自提不需要传物流单号" (.../0008647af80e2083fae0d7cca66800).
- `POST /wxa/sec/order/is_trade_managed`.
- `POST /cgi-bin/express/delivery/open_msg/get_delivery_list`: the couriers (`DELIVERY_LIST`).
- `POST /wxa/business/getuserphonenumber` (phonenumber.getPhoneNumber): a code from
  `phone_code(number)` answers `phone_info` once; a reused, expired (5 minutes) or unknown
  code is 40029.
- `POST /wxa/getwxacodeunlimit`: `scene` at most 32 characters of the documented set
  (40169 / 40097 otherwise), `page` without a leading `/` or a query; with `check_path`
  (WeChat's default true) the page must be one of the published mini-program's (`pages`,
  41030 otherwise); answers a PNG.
- `POST /wxa/generate_urllink` (urllink.generate) and `POST /wxa/generatescheme`
  (generatescheme, `jump_wxa: {path, query, env_version}`), from
  https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/url-link/generateUrlLink.html
  and .../url-scheme/generateScheme.html (the older urlscheme.generate page has the error
  table): `path` a published page (`pages`) without a query (40165), `query` at most 1024
  of `0-9A-Za-z!#$&'()*+,/:;=?@-._~%` (40212), `expire_type` 0 with `expire_time` (a Unix
  time more than a minute and at most 30 days ahead) or 1 with `expire_interval` (1 to 30
  days), 85401 otherwise; every link expires (is_expire is ignored: "is_expire 值固定为
  true", WeChat's answer in the developer community, after the 2023 rule change). Both
  count against one daily quota ("每天生成 URL Scheme 和 URL Link 的总数量上限为50万",
  `link_quota`), 45009 past it. Each answer is a new link (`https://wxaurl.cn/<ticket>`,
  `weixin://dl/business/?t=<ticket>`), remembered with what it opens (`resolve`).
- The message push, signed with the push token and encrypted in safe mode (AES-256-CBC,
  written here from the documentation with `cryptography`): `settle(out_trade_no)` posts
  `trade_manage_order_settlement` to the shop, `build_push()` hands tests the request.
  WeChat sends `trade_manage_order_settlement` twice per payment (小程序发货信息管理服务,
  "三、相关消息推送", order-shipping.html; the community thread "消息推送
  trade_manage_order_settlement 事件返回内容问题" confirms the first one's
  `confirm_receive_time`/`settlement_time` are empty): once when an upload is accepted
  ("订单将要结算", with `estimated_settlement_time` only, sent here from a thread as WeChat
  sends it asynchronously, kept in `pushes`), and once at settlement (`settle`, with
  `confirm_receive_time` and `settlement_time`).
- Controls: `POST /sandbox/mp/templates/{template_id}` with `{"keywords": ["thing1", ...]}`
  (a template of the merchant's account and its keywords), `POST /sandbox/mp/settle/{out_trade_no}`, `POST /sandbox/mp/remind-shipping/{out_trade_no}`,
  `GET /sandbox/mp/shipping/{out_trade_no}` (what WeChat holds of the order's shipping),
  `POST /sandbox/mp/phone-codes/{number}` (the code the mini-program's getPhoneNumber button
  would give for `number`: `{"code"}`), `POST /sandbox/mp/pages` `{"path"}` (a page the
  published mini-program has), `POST /sandbox/mp/link-quota` `{"left": n}` (links WeChat
  will still make today), `POST /sandbox/mp/resolve` `{"url"}` (what a link opens:
  `{"kind", "path", "query", "env_version", "expires_at", "expired"}`, 404 for a link
  WeChat never made).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import struct
import threading
import time
import zlib
from datetime import datetime
from urllib.parse import urlencode, urlsplit

import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SCENE_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$")
_DAY = r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}"
_CLOCK = r"\d{1,2}:\d{2}(:\d{2})?"
_TIME_ONE = rf"(({_DAY}) ?)?{_CLOCK}"
_DATE_ONE = rf"({_DAY})( {_CLOCK})?"
TIME_RE = re.compile(rf"^{_TIME_ONE}(~{_TIME_ONE})?$")
DATE_RE = re.compile(rf"^{_DATE_ONE}(~{_DATE_ONE})?$")
AMOUNT_RE = re.compile(r"^[¥￥$]?\d{1,10}(\.\d{1,2})?元?$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# 发送订阅消息 (sendMessage), "订阅消息参数值内容限制说明":
# https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
# (formerly .../OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html#其他说明):
# each keyword is its kind followed by digits (`thing1`, `number01` in the doc's example),
# and each kind takes at most so many characters of its own set.
KEYWORD_RE = re.compile(r"^(thing|number|letter|symbol|character_string|time|date|amount|phone_number|car_number"
                        r"|name|phrase)[0-9]{1,3}$", re.ASCII)
LIMITS = {"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
          "car_number": 8, "name": 20, "phrase": 5}
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
_HAS_HAN = re.compile(r"[\u4e00-\u9fff]")
CAR_NUMBER = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9][A-Za-z0-9]{0,6}[\u4e00-\u9fffA-Za-z0-9]?$")
MASKED = re.compile(r"^(\+\d+-)?\d{3}\*{4}\d{4}$")
LINK_QUERY_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*$")
LINK_DAYS_MAX = 30
# The pages of the published mini-program (docs/miniprogram.md); `register_page` adds more.
DEFAULT_PAGES = ("pages/index/index", "pages/product/index", "pages/flash/index", "pages/group/detail",
                 "pages/order/detail", "pages/after-sale/detail", "pages/me/coupons")
# What get_delivery_list answers here: a few of WeChat's couriers in its documented shape
# (SF/顺丰速运 as in the documentation's example; the real list has hundreds).
DELIVERY_LIST = ({"delivery_id": "SF", "delivery_name": "顺丰速运"}, {"delivery_id": "ZTO", "delivery_name": "中通快递"},
                 {"delivery_id": "YTO", "delivery_name": "圆通速递"}, {"delivery_id": "STO", "delivery_name": "申通快递"},
                 {"delivery_id": "YD", "delivery_name": "韵达速递"}, {"delivery_id": "JTSD", "delivery_name": "极兔速递"},
                 {"delivery_id": "EMS", "delivery_name": "EMS"}, {"delivery_id": "JD", "delivery_name": "京东快递"})


def _err(errcode: int, errmsg: str) -> tuple[int, dict, bool]:
    return 200, {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(4)}"}, False


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class MiniProgramSandbox:
    def __init__(self, box, token_quota: int = 10000):
        self.box = box  # the WeChatSandbox: keys, WeChat Pay orders, messages, tokens_issued
        self.token_quota = token_quota
        self.token: str | None = None  # the stable_token's
        self.token_expires_at = 0.0
        # getAccessToken (/cgi-bin/token) keeps its own token: 获取稳定版接口调用凭据 says the
        # stable token is "与 getAccessToken 获取的调用凭证完全隔离，互不影响"; a new
        # getAccessToken token leaves the previous one usable for 5 minutes (获取接口调用凭据:
        # "5分钟内，新老 access_token 都可用").
        self.plain_token: str | None = None
        self.plain_expires_at = 0.0
        self.plain_previous: tuple[str | None, float] = (None, 0.0)
        self.token_calls_today = 0
        self.trade_managed = True
        self.push_token = secrets.token_urlsafe(16)
        self.aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 characters
        self.shipping: dict[str, dict] = {}  # out_trade_no -> {"uploads": [...], "refused": [...]}
        self.codes_made = 0
        self.pushes: list[dict] = []
        self._not_booked: dict[str, int] = {}
        self._upload_faults: list[int] = []
        self.templates: dict[str, tuple[str, ...]] = {}  # template_id -> its keywords
        self.phone_codes: dict[str, tuple[str, str, float]] = {}  # code -> (country code, number, issued at)
        self.pages: set[str] = set(DEFAULT_PAGES)
        self.link_quota = 500_000  # URL Links and Schemes WeChat still makes today
        self.links: dict[str, dict] = {}  # url -> what it opens
        self._lock = threading.RLock()

    def env(self) -> dict[str, str]:
        return {"WECHAT_PUSH_TOKEN": self.push_token, "WECHAT_PUSH_AES_KEY": self.aes_key}

    # -- test and developer controls ---------------------------------------------------------
    def register_template(self, template_id: str, keywords) -> None:
        """A template of the merchant's account (订阅消息 > 我的模板) with its keywords,
        as WeChat shows them (`{{thing1.DATA}}`). From then on a send to it must carry
        exactly these keywords. A template never registered is taken with whatever
        keywords a send names, each still checked against its kind."""
        keywords = tuple(keywords)
        if not keywords or any(not isinstance(k, str) or not KEYWORD_RE.fullmatch(k) for k in keywords):
            raise ValueError(f"not WeChat keywords: {keywords!r}")
        with self._lock:
            self.templates[template_id] = keywords

    def not_booked_yet(self, out_trade_no: str, times: int = 1) -> None:
        """The next `times` uploads for this payment answer 10060001, as right after payment."""
        self._not_booked[out_trade_no] = times

    def fail_uploads(self, errcode: int, times: int = 1) -> None:
        self._upload_faults.extend([errcode] * times)

    def phone_code(self, number: str, country_code: str = "86", issued_at: float | None = None) -> str:
        """The code the getPhoneNumber button (open-type="getPhoneNumber") hands the
        mini-program for a shopper whose WeChat phone number is `number`."""
        code = secrets.token_hex(16)
        with self._lock:
            self.phone_codes[code] = (country_code, number, time.time() if issued_at is None else issued_at)
        return code

    def register_page(self, path: str) -> None:
        """A page of the published mini-program (links and checked codes open only those)."""
        with self._lock:
            self.pages.add(path.removeprefix("/"))

    def resolve(self, url: str) -> dict | None:
        """What a link WeChat made opens, and whether it has expired; None for any other."""
        with self._lock:
            found = self.links.get(url)
        if found is None:
            return None
        return {**found, "expired": time.time() >= found["expires_at"]}

    def expire_token(self) -> None:
        """The current access token stops working (40001), as when WeChat revokes it."""
        with self._lock:
            self.token_expires_at = 0.0

    def accepted_uploads(self, out_trade_no: str) -> list[dict]:
        return list(self.shipping.get(out_trade_no, {}).get("uploads", []))

    # -- requests ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: bytes):
        box = self.box
        k = box.keys
        if path == "/cgi-bin/token":
            if query.get("appid") != k.appid or query.get("secret") != k.app_secret:
                return _err(40125, "invalid appsecret")
            return self._issue_plain_token()
        if path == "/cgi-bin/stable_token":
            data = self._json(body)
            if data is None:
                return _err(47001, "data format error")
            if data.get("grant_type") != "client_credential":
                return _err(40002, "invalid grant_type")
            if data.get("appid") != k.appid or data.get("secret") != k.app_secret:
                # getStableAccessToken's error codes: 40125 "不合法的 secret".
                return _err(40125, "invalid appsecret")
            return self._issue_token(force=bool(data.get("force_refresh")))
        if not self._token_ok(query.get("access_token")):
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        data = self._json(body)
        if data is None:
            return _err(47001, "data format error")
        if path == "/cgi-bin/message/subscribe/send":
            return self._subscribe_send(data)
        if path == "/wxa/sec/order/upload_shipping_info":
            return self._upload_shipping(data)
        if path == "/wxa/sec/order/is_trade_managed":
            # 查询小程序是否已开通发货信息管理服务 (isTradeManaged): {"errcode": 0, "errmsg": "ok",
            # "is_trade_managed": bool}; an appid that is not this mini-program's is refused.
            if data.get("appid") != k.appid:
                return _err(40013, "invalid appid")
            return 200, {"errcode": 0, "errmsg": "ok", "is_trade_managed": self.trade_managed}, False
        if path == "/wxa/getwxacodeunlimit":
            return self._code(data)
        if path == "/wxa/generate_urllink":
            return self._link("url_link", data, data)
        if path == "/wxa/generatescheme":
            jump = data.get("jump_wxa")
            if not isinstance(jump, dict):
                return _err(40097, "invalid args: jump_wxa is required")
            return self._link("url_scheme", jump, data)
        if path == "/wxa/business/getuserphonenumber":
            return self._phone_number(data)
        if path == "/cgi-bin/express/delivery/open_msg/get_delivery_list":
            # 获取运力id列表 (get_delivery_list): POST with the access token, no body; answers
            # {"errcode": 0, "delivery_list": [{"delivery_id", "delivery_name"}], "count"}
            # https://developers.weixin.qq.com/miniprogram/dev/server/API/weixin-express/express-msg/api_get_delivery_list.md
            return 200, {"errcode": 0, "errmsg": "ok", "delivery_list": [dict(d) for d in DELIVERY_LIST],
                         "count": len(DELIVERY_LIST)}, False
        return 404, {"errcode": 404, "errmsg": "unknown api"}, False

    @staticmethod
    def _json(body: bytes):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _issue_token(self, force: bool):
        with self._lock:
            self.box.tokens_issued += 1
            self.token_calls_today += 1
            if self.token_calls_today > self.token_quota:
                return _err(45009, "reach max api daily quota limit")
            now = time.time()
            if force or not self.token or self.token_expires_at <= now:
                self.token = "SANDBOX_" + secrets.token_hex(16)
                self.token_expires_at = now + 7200
            return 200, {"access_token": self.token, "expires_in": int(self.token_expires_at - now)}, False

    def _issue_plain_token(self):
        with self._lock:
            self.box.tokens_issued += 1
            self.token_calls_today += 1
            if self.token_calls_today > self.token_quota:
                return _err(45009, "reach max api daily quota limit")
            now = time.time()
            if self.plain_token:
                self.plain_previous = (self.plain_token, min(self.plain_expires_at, now + 300))
            self.plain_token = "SANDBOX_T_" + secrets.token_hex(16)
            self.plain_expires_at = now + 7200
            return 200, {"access_token": self.plain_token, "expires_in": 7200}, False

    def _token_ok(self, token: str | None) -> bool:
        with self._lock:
            now = time.time()
            if not token:
                return False
            if token == self.token and self.token_expires_at > now:
                return True
            if token == self.plain_token and self.plain_expires_at > now:
                return True
            return token == self.plain_previous[0] and self.plain_previous[1] > now

    # -- phone numbers ------------------------------------------------------------------------
    def _phone_number(self, data: dict):
        """手机号快速验证 phonenumber.getPhoneNumber:
        https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html
        POST {"code"} answers {"errcode": 0, "errmsg": "ok", "phone_info": {"phoneNumber",
        "purePhoneNumber", "countryCode", "watermark": {"timestamp", "appid"}}}; "code 有效期为
        5min，且只能使用一次" (手机号快速验证组件), and an invalid code is 40029 (the API's
        error codes: "code 无效"). `phoneNumber` carries the country code for numbers outside
        mainland China ("+1-..."), `purePhoneNumber` never does; `countryCode` has no `+`."""
        code = data.get("code")
        if not isinstance(code, str) or not code:
            return _err(47001, "data format error")
        with self._lock:
            found = self.phone_codes.pop(code, None)  # single use, whatever the outcome
        if found is None or time.time() - found[2] > 300:
            return _err(40029, "invalid code")
        country, number = found[0], found[1]
        return 200, {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": number if country == "86" else f"+{country}-{number}",
            "purePhoneNumber": number, "countryCode": country,
            "watermark": {"timestamp": int(time.time()), "appid": self.box.keys.appid}}}, False

    # -- subscription messages ------------------------------------------------------------------
    def _subscribe_send(self, data: dict):
        if not data.get("touser") or not data.get("template_id"):
            return _err(40003, "invalid openid or template_id")
        if data["touser"] in self.box._refusing:
            return _err(43101, "user refuse to accept the msg")
        values = data.get("data")
        if not isinstance(values, dict):
            return _err(47003, "argument invalid! data invalid")
        # 47003 "模板参数不准确，可能为空或者不满足规则，errmsg 会提示具体是哪个字段出错"
        # (sendMessage's error codes, URL above LIMITS): a keyword of the template that the
        # send leaves out is empty, and WeChat names it ("argument invalid! data.thing1.value
        # is empty", community thread 一次性订阅消息发送失败). A keyword the template does
        # not have is refused as well: the send was laid out for another template.
        expected = self.templates.get(data["template_id"])
        if expected is not None:
            for keyword in expected:
                if keyword not in values:
                    return _err(47003, f"argument invalid! data.{keyword}.value is empty")
            for keyword in values:
                if keyword not in expected:
                    return _err(47003, f"argument invalid! data.{keyword} is not a keyword of the template")
        for keyword, entry in values.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, str) or not self._fits(keyword, value):
                return _err(47003, f"argument invalid! data.{keyword}.value invalid")
        self.box.messages.append(data)
        return 200, {"errcode": 0, "errmsg": "ok"}, False

    @staticmethod
    def _fits(keyword: str, value: str) -> bool:
        """Each kind's limit from "订阅消息参数值内容限制说明" (URL above LIMITS)."""
        match = KEYWORD_RE.fullmatch(keyword)
        if not value or match is None:
            return False
        kind = match.group(1)
        if kind == "time":
            return TIME_RE.match(value) is not None
        if kind == "date":
            return DATE_RE.match(value) is not None
        if kind == "amount":
            return AMOUNT_RE.match(value) is not None
        if kind == "number":
            return re.match(r"^-?\d+(\.\d+)?$", value) is not None and len(value) <= 32
        if kind == "character_string":  # 32位以内数字、字母或符号
            return len(value) <= 32 and all(33 <= ord(c) <= 126 for c in value)
        if kind == "letter":  # 32位以内字母, 只能字母
            return re.fullmatch(r"[A-Za-z]{1,32}", value) is not None
        if kind == "symbol":  # 5位以内符号, 只能符号
            return len(value) <= 5 and not any(c.isalnum() or c.isspace() for c in value)
        if kind == "phone_number":  # 17位以内, 数字、符号 (+86-0766-66888866)
            return len(value) <= 17 and all(c.isascii() and not c.isalpha() and not c.isspace() for c in value)
        if kind == "car_number":  # 8位以内, 第一位与最后一位可为汉字, 其余为字母或数字
            return len(value) <= 8 and CAR_NUMBER.match(value) is not None
        if kind == "name":  # 10个以内纯汉字或20个以内纯字母或符号; 中文和字母混合按中文名算
            return len(value) <= (10 if _HAS_HAN.search(value) else 20)
        if kind == "phrase":  # 5个以内纯汉字
            return len(value) <= 5 and _HAN.match(value) is not None
        return len(value) <= LIMITS[kind]  # thing: 20个以内字符

    # -- shipping information -------------------------------------------------------------------
    def _upload_shipping(self, data: dict):
        key = data.get("order_key")
        if not isinstance(key, dict):
            return _err(47001, "data format error: order_key")
        shipping_list = data.get("shipping_list")
        if not isinstance(shipping_list, list):
            return _err(47001, "data format error: shipping_list must be an array")
        if data.get("delivery_mode") == 1 and len(shipping_list) != 1:
            return _err(268485228, "统一发货模式下,物流信息列表长度必须为1")
        if not 1 <= len(shipping_list) <= 15:
            return _err(47001, "data format error: shipping_list holds 1 to 15 parcels")
        for field_name in ("logistics_type", "delivery_mode", "upload_time", "payer"):
            if field_name not in data:
                return _err(47001, f"data format error: {field_name} is required")
        if data["logistics_type"] not in (1, 2, 3, 4):
            return _err(10060005, "物流类型有误")
        if data["delivery_mode"] not in (1, 2):
            return _err(47001, "data format error: delivery_mode")
        if data["delivery_mode"] == 1 and len(shipping_list) != 1:
            return _err(47001, "data format error: unified delivery is one parcel")
        if not isinstance(data["upload_time"], str) or not RFC3339.match(data["upload_time"]):
            return _err(47001, "data format error: upload_time must be RFC 3339")
        payer = data.get("payer")
        if not isinstance(payer, dict) or not payer.get("openid"):
            return _err(47001, "data format error: payer.openid")
        for parcel in shipping_list:
            if not isinstance(parcel, dict):
                return _err(47001, "data format error: shipping_list item")
            desc = parcel.get("item_desc")
            if not desc:
                return _err(10060008, "商品描述 item_desc 不能为空")
            if len(desc) > 120:
                return _err(10060009, "商品描述 item_desc 过长")
            if data["logistics_type"] == 1:
                if not parcel.get("tracking_no") or not parcel.get("express_company"):
                    return _err(47001, "data format error: express needs tracking_no and express_company")
                contact = parcel.get("contact") or {}
                if parcel["express_company"] == "SF":
                    masked = contact.get("receiver_contact") or contact.get("consignor_contact")
                    if not masked or not MASKED.match(masked):
                        return _err(47001, "data format error: SF needs a masked contact")
        with self._lock:
            if self._upload_faults:
                return _err(self._upload_faults.pop(0), "system error")
            order = self._order_for(key)
            if order is None:
                return _err(10060001, "支付单不存在")
            out_trade_no = order["out_trade_no"]
            if self._not_booked.get(out_trade_no, 0) > 0:
                self._not_booked[out_trade_no] -= 1
                return _err(10060001, "支付单不存在")
            if payer["openid"] != (order.get("payer") or {}).get("openid"):
                return _err(10060014, "参数错误: payer.openid")
            record = self.shipping.setdefault(out_trade_no, {"uploads": [], "settled": False})
            if record["settled"]:
                return _err(10060004, "支付单处于不可发货的状态")
            # 发货信息录入 (upload_shipping_info) error codes: 10060003 "支付单已使用重新发货机会":
            # the first accepted upload and one change; only accepted uploads are kept and
            # counted here (a refused one changed nothing at WeChat).
            if len(record["uploads"]) >= 2:
                return _err(10060003, "支付单已使用重新发货机会")
            if record["uploads"] and data["upload_time"] <= record["uploads"][-1]["upload_time"]:
                return _err(47001, "data format error: upload_time must be later than the last upload")
            record["uploads"].append(data)
        self._push_soon(self.shipping_settlement_event(out_trade_no), out_trade_no)
        return 200, {"errcode": 0, "errmsg": "ok"}, False

    def _order_for(self, key: dict) -> dict | None:
        """The payment an order_key names, with its out_trade_no, if WeChat knows it paid."""
        found = None
        if key.get("order_number_type") == 1:
            no = key.get("out_trade_no") or ""
            order = self.box.orders.get(no)
            if order is not None and key.get("mchid") == order.get("mchid"):
                found = (no, order)
        elif key.get("order_number_type") == 2:
            found = next(((n, o) for n, o in self.box.orders.items()
                          if key.get("transaction_id") and o.get("transaction_id") == key.get("transaction_id")), None)
        if found is None or found[1].get("trade_state") not in ("SUCCESS", "REFUND"):
            return None  # WeChat knows no payment for it
        return {**found[1], "out_trade_no": found[0]}

    # -- mini-program codes ------------------------------------------------------------------
    def _code(self, data: dict):
        scene = data.get("scene")
        if not isinstance(scene, str) or not scene or len(scene) > 32:
            return _err(40169, "invalid length for scene, or the data is not json string")
        if not SCENE_CHARS.match(scene):
            return _err(40097, "invalid args: scene has characters outside the allowed set")
        page = data.get("page", "pages/index/index")
        if not isinstance(page, str) or page.startswith("/") or "?" in page:
            return _err(41030, "invalid page")
        if data.get("check_path", True) is not False and page not in self.pages:
            return _err(41030, "invalid page: the page does not exist in the published mini-program")
        width = data.get("width", 430)
        if not isinstance(width, int) or not 280 <= width <= 1280:
            return _err(40097, "invalid args: width")
        with self._lock:
            self.codes_made += 1
        return 200, _png(scene + "|" + page), False

    # -- URL Link and URL Scheme --------------------------------------------------------------
    def _link(self, kind: str, target: dict, data: dict):
        """generate_urllink (`target` is the body) and generatescheme (`target` is its
        `jump_wxa`); the rules are in the module docstring."""
        path = target.get("path", "")
        query = target.get("query", "")
        env_version = target.get("env_version", "release")
        if not isinstance(path, str) or "?" in path:
            return _err(40165, "invalid path: it must be a page, without a query")
        path = path.removeprefix("/") or "pages/index/index"  # "path 为空时会跳转小程序主页"
        if path not in self.pages:
            return _err(40165, "invalid path: the page does not exist in the published mini-program")
        if not isinstance(query, str) or len(query) > 1024 or not LINK_QUERY_CHARS.match(query):
            return _err(40212, "invalid query")
        if env_version not in ("release", "trial", "develop"):
            return _err(40097, "invalid args: env_version")
        now = time.time()
        expire_type = data.get("expire_type")
        if expire_type == 0:
            at = data.get("expire_time")
            if isinstance(at, bool) or not isinstance(at, int) or not now + 60 < at <= now + LINK_DAYS_MAX * 86400:
                return _err(85401, "invalid expire_time: more than a minute and at most 30 days ahead")
            expires_at = float(at)
        elif expire_type == 1:
            days = data.get("expire_interval")
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= LINK_DAYS_MAX:
                return _err(85401, "invalid expire_interval: 1 to 30 days")
            expires_at = now + days * 86400
        else:
            return _err(40097, "invalid args: expire_type must be 0 or 1")
        ticket = secrets.token_urlsafe(9).replace("-", "a").replace("_", "b")
        url = f"https://wxaurl.cn/{ticket}" if kind == "url_link" else f"weixin://dl/business/?t={ticket}"
        with self._lock:
            if self.link_quota <= 0:
                return _err(45009, "reach max api daily quota limit")
            self.link_quota -= 1
            self.links[url] = {"kind": kind, "path": path, "query": query, "env_version": env_version,
                               "expires_at": expires_at}
        key = "url_link" if kind == "url_link" else "openlink"
        return 200, {"errcode": 0, "errmsg": "ok", key: url}, False

    # -- the message push -------------------------------------------------------------------------
    def _encrypt(self, text: str) -> str:
        key = base64.b64decode(self.aes_key + "=")
        raw = os.urandom(16) + struct.pack(">I", len(text.encode())) + text.encode() + self.box.keys.appid.encode()
        pad = 32 - len(raw) % 32
        raw += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def build_push(self, event: dict, safe: bool = True, token: str | None = None) -> tuple[str, bytes]:
        """(query string, body) of one push as WeChat sends it, signed with `token` (the
        push token by default; another token makes a forgery)."""
        token = token or self.push_token
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {"signature": _sha1(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        if not safe:
            return urlencode(query), json.dumps(event, ensure_ascii=False).encode()
        encrypted = self._encrypt(json.dumps(event, ensure_ascii=False))
        query.update(encrypt_type="aes", msg_signature=_sha1(token, timestamp, nonce, encrypted))
        body = {"ToUserName": "gh_sandbox", "Encrypt": encrypted}
        return urlencode(query), json.dumps(body).encode()

    def settlement_event(self, out_trade_no: str, confirm_receive_method: int = 2) -> dict:
        """The push at settlement ("订单已经结算"): the receipt's and the settlement's times."""
        now = int(time.time())
        return {**self.shipping_settlement_event(out_trade_no), "CreateTime": now,
                "confirm_receive_method": confirm_receive_method, "confirm_receive_time": now,
                "settlement_time": now}

    def shipping_settlement_event(self, out_trade_no: str) -> dict:
        """The push when WeChat accepts the shipping information ("订单将要结算"): only
        `estimated_settlement_time` (WeChat's automatic confirmation, 10 days for express
        here); `confirm_receive_time` and `settlement_time` are absent."""
        order = self.box.orders.get(out_trade_no) or {}
        record = self.shipping.get(out_trade_no) or {}
        uploads = record.get("uploads") or []
        now = int(time.time())
        shipped = _epoch(uploads[0]["upload_time"]) if uploads else now
        return {"ToUserName": "gh_sandbox", "FromUserName": (order.get("payer") or {}).get("openid", ""),
                "CreateTime": now, "MsgType": "event", "Event": "trade_manage_order_settlement",
                "transaction_id": order.get("transaction_id", ""), "merchant_id": self.box.keys.mchid,
                "sub_merchant_id": "", "merchant_trade_no": out_trade_no,
                "pay_time": _epoch(order.get("success_time")), "shipped_time": shipped,
                "estimated_settlement_time": shipped + 10 * 86400}

    def _push_soon(self, event: dict, out_trade_no: str) -> None:
        """Send `event` from a thread, as WeChat pushes after it answered the upload."""
        try:
            url = self.push_url(out_trade_no)
        except KeyError:
            with self._lock:
                self.pushes.append({"event": event, "status": None, "error": "no push URL"})
            return
        threading.Thread(target=self.push, args=(event, url), daemon=True).start()

    def pushes_for(self, out_trade_no: str) -> list[dict]:
        """The events pushed (or attempted) about this payment, oldest first."""
        with self._lock:
            return [p["event"] for p in self.pushes if p["event"].get("merchant_trade_no") == out_trade_no]

    def enrol(self, url: str | None = None) -> dict:
        """WeChat enrols the merchant in trade management (is_trade_managed turns true) and
        sends `trade_manage_remind_access_api` (小程序发货信息管理服务, "三、相关消息推送":
        提醒接入发货信息管理服务API, sent when the mini-program completes the settlement
        authorisation, at its first trade, and daily while trades are never shipped through
        the API). Returns the event; pushes it to `url` when given."""
        with self._lock:
            self.trade_managed = True
        event = {"ToUserName": "gh_sandbox", "FromUserName": "", "CreateTime": int(time.time()),
                 "MsgType": "event", "Event": "trade_manage_remind_access_api",
                 "msg": "你已开通小程序发货信息管理服务，请尽快接入发货信息录入接口"}
        if url:
            self.push(event, url)
        return event

    def remind_shipping_event(self, out_trade_no: str) -> dict:
        order = self.box.orders.get(out_trade_no) or {}
        return {"ToUserName": "gh_sandbox", "FromUserName": (order.get("payer") or {}).get("openid", ""),
                "CreateTime": int(time.time()), "MsgType": "event", "Event": "trade_manage_remind_shipping",
                "transaction_id": order.get("transaction_id", ""), "merchant_id": self.box.keys.mchid,
                "merchant_trade_no": out_trade_no, "pay_time": _epoch(order.get("success_time")),
                "msg": "请尽快发货"}

    def push_url(self, out_trade_no: str) -> str:
        """The shop's message push URL, from the notify_url its payment named."""
        notify = (self.box.orders.get(out_trade_no) or {}).get("notify_url") or ""
        parts = urlsplit(notify)
        if not parts.scheme:
            raise KeyError(out_trade_no)
        return f"{parts.scheme}://{parts.netloc}/wechat/message-push"

    def push(self, event: dict, url: str) -> dict:
        """Post one push and report the shop's own answer. The shop has taken a push only
        when it answered within 5 seconds with `success` or an empty body (message push
        doc, "消息推送": https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html,
        "直接回复success（推荐方式）/ 直接回复空串"); anything else, a 401 for a signature
        the shop could not verify included, is not taken: the control says so (`accepted:
        false`) and the shipping record keeps `settlement_push_accepted: false`."""
        query, body = self.build_push(event)
        try:
            r = requests.post(f"{url}?{query}", data=body, headers={"Content-Type": "application/json"}, timeout=5)
            answer = {"status": r.status_code, "body": r.text[:200]}
            accepted = r.status_code == 200 and r.text.strip() in ("success", "")
        except requests.RequestException as exc:
            answer, accepted = {"status": None, "error": str(exc)}, False
        answer["accepted"] = accepted
        if event.get("Event") == "trade_manage_order_settlement" and event.get("settlement_time"):
            with self._lock:
                record = self.shipping.get(event.get("merchant_trade_no", ""))
                if record is not None:
                    # Settled is WeChat's own fact (the receipt confirmed, the funds released)
                    # whatever the shop answered; whether the shop took the push is kept apart,
                    # and a push it refused is one WeChat would send again.
                    record["settled"] = True
                    record["settlement_push_accepted"] = accepted
        with self._lock:
            self.pushes.append({"event": event, **answer})
        return answer

    def settle(self, out_trade_no: str, url: str | None = None) -> dict:
        return self.push(self.settlement_event(out_trade_no), url or self.push_url(out_trade_no))

    def control(self, method: str, path: str, body: bytes = b""):
        parts = path.strip("/").split("/")  # sandbox, mp, <what>, <out_trade_no | template_id>
        if len(parts) == 3 and method == "POST" and parts[2] in ("pages", "link-quota", "resolve"):
            data = self._json(body) or {}
            if parts[2] == "pages" and isinstance(data.get("path"), str):
                self.register_page(data["path"])
                return 200, {"pages": sorted(self.pages)}, False
            if parts[2] == "link-quota" and isinstance(data.get("left"), int):
                with self._lock:
                    self.link_quota = data["left"]
                return 200, {"left": self.link_quota}, False
            if parts[2] == "resolve" and isinstance(data.get("url"), str):
                found = self.resolve(data["url"])
                if found is None:
                    return 404, {"code": "NOT_FOUND", "message": "WeChat made no such link"}, False
                return 200, found, False
            return 400, {"code": "INVALID_REQUEST", "message": path}, False
        if len(parts) != 4:
            return 404, {"code": "NOT_FOUND", "message": path}, False
        what, out_trade_no = parts[2], parts[3]
        if method == "POST" and what == "phone-codes":
            return 200, {"code": self.phone_code(out_trade_no)}, False
        if method == "POST" and what == "templates":
            data = self._json(body) or {}
            try:
                self.register_template(out_trade_no, data.get("keywords") or ())
            except (TypeError, ValueError) as exc:
                return 400, {"code": "INVALID_REQUEST", "message": str(exc)}, False
            return 200, {"template_id": out_trade_no, "keywords": list(self.templates[out_trade_no])}, False
        if out_trade_no not in self.box.orders:
            return 404, {"code": "NOT_FOUND", "message": f"no payment {out_trade_no}"}, False
        if method == "POST" and what == "settle":
            return 200, self.settle(out_trade_no), False
        if method == "POST" and what == "remind-shipping":
            return 200, self.push(self.remind_shipping_event(out_trade_no), self.push_url(out_trade_no)), False
        if method == "GET" and what == "shipping":
            return 200, self.shipping.get(out_trade_no, {"uploads": [], "settled": False}), False
        return 404, {"code": "NOT_FOUND", "message": path}, False


def _epoch(rfc3339: str | None) -> int:
    if not rfc3339:
        return int(time.time())
    return int(datetime.fromisoformat(rfc3339).timestamp())


def _png(seed: str, size: int = 64) -> bytes:
    """A real PNG (grey, size x size) whose pixels come from `seed`."""
    digest = hashlib.sha256(seed.encode()).digest()
    rows = b"".join(b"\x00" + bytes(digest[(y * size + x) % 32] & 0xF0 for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
