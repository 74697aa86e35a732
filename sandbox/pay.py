"""WeChat Pay APIv3 as the sandbox plays it: a test oracle built from WeChat Pay's
documentation, never from our application code.

Every rule below names the document it comes from. Where the documents do not say
which error code WeChat answers, the comment says "docs unclear" and the choice made.

ALWAYS ON (plain WeChat rules; a sandbox that accepts what WeChat refuses is useless):
- every request's WECHATPAY2-SHA256-RSA2048 signature (401 SIGN_ERROR);
- JSAPI prepay field rules (out_trade_no, description, notify_url, time_expire, amount),
  a repeat of an out_trade_no with other parameters (403 OUT_TRADE_NO_USED), prepay ids
  that live 2 hours;
- refund rules (unpaid order 404 RESOURCE_NOT_EXISTS, amounts 400 INVALID_REQUEST,
  out_refund_no reused with other parameters 400 INVALID_REQUEST, 50 refunds per order);
- merchant transfer rules (out_bill_no letters+digits <= 32, amount >= 10 fen, user_name
  from 200000 fen, encrypted with WeChat Pay's key named by `Wechatpay-Serial`);
- trade bills: 400 NO_STATEMENT_EXIST for a day without trades or refunds, served as
  `text/plain` without a charset, hashed (SHA1) over the file's bytes; day D's bill exists
  only from 10:00 on D+1 Beijing time (`sandbox/bill.py`: `readiness`), by the sandbox clock.

SWITCHES (default off), for situations a test sets up:
- `fail_next(prefix, status=500, times=1, code=None)`: the next `times` calls under the
  path prefix are refused BEFORE processing (nothing moves): 429 -> FREQUENCY_LIMITED,
  5xx -> SYSTEM_ERROR, else `code`.
- `frequency_limit_next(prefix, times=1)`: 429 FREQUENCY_LIMITED, not processed.
- `system_error_next(prefix, times=1, processed=False)`: 500 SYSTEM_ERROR; with
  processed=True the call is carried out first (the money moved), then 500 answered.
- `bad_signature_next(prefix, times=1)`: processed, answered 2xx with a signature that
  does not verify.
- `lose_answer_next(prefix, times=1, stall_s=0.0)`: processed, then the connection is
  closed without an answer (after stalling `stall_s` seconds: pass more than the
  client's read timeout to make it time out).
- `set_balance(fen | None)`: the merchant's available balance; refunds and transfers
  above it are refused 403 NOT_ENOUGH (None, the default: unlimited).
- `refund_spacing(on=True)`: a new refund of an order within 60 s (sandbox clock) of
  its previous refund is refused 429 FREQUENCY_LIMITED.
- `migration(on=True)`: WeChat's move from platform certificates to the public key:
  answers are signed by the platform CERTIFICATE unless the request's
  `Wechatpay-Serial` header names the public key id.
- `mixed_callbacks(on=True)`: notifications alternate certificate / public key.
- `comma_product_names(on=True)`: the bill's 商品名称 carries a comma.
- `advance(seconds)`: the sandbox clock moves on (prepay expiry, refund spacing, the
  24 h transfer expiry, which ends the transfer FAIL and notifies).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from layers.wechat import paycrypto
from sandbox import bill as bills

BEIJING = timezone(timedelta(hours=8))
PREPAY_TTL_S = 2 * 3600          # JSAPI下单 应答 prepay_id: "有效期为2小时"
DEFAULT_PAY_WINDOW_S = 7 * 86400  # JSAPI下单 time_expire: "超过 7 天未支付的订单,无法再支付"
REFUND_SPACING_S = 60             # 申请退款 注意 1: "请更换商户退款单号并间隔1分钟后再次调用"
MAX_REFUNDS_PER_ORDER = 50        # 申请退款 注意 1: "一笔订单最多支持50次部分退款"
# 商家转账 (2025 version, 发起转账 / 商家转账回调通知 state): a bill left WAIT_USER_CONFIRM for
# 24 h is closed by WeChat as FAIL; CANCELLED is only the merchant's own 撤销转账.
TRANSFER_CONFIRM_S = 24 * 3600
TRANSFER_TIMEOUT_REASON = "TRANSFER_TIMEOUT"  # fail_reason of that closing (docs unclear on the code)
TRANSFER_MIN_FEN = 10             # 商家转账 转账额度说明: 单笔最低 0.1 元
USER_NAME_FROM_FEN = 200000       # 发起转账 user_name: "转账金额 >= 2,000元时，该笔明细必须填写"

# JSAPI下单 out_trade_no: "要求6-32个字符内，只能是数字、大小写字母_-|* 且在同一个商户号下唯一"
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
# 申请退款 out_refund_no: "只能是数字、大小写字母_-|*@ ... 不可超过64个字节数"
OUT_REFUND_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{1,64}$")
# 发起转账 out_bill_no string(32): "只能由数字、大小写字母组成"
OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{1,32}$")
# 免确认收款授权 out_authorization_no string(32) (character set not stated: docs unclear;
# taken as out_bill_no's)
OUT_AUTHORIZATION_NO = OUT_BILL_NO
# JSAPI下单 time_expire: "rfc3339标准格式: yyyy-MM-DDTHH:mm:ss+TIMEZONE" (an explicit
# ±HH:MM offset; no fraction, no `Z`)
TIME_EXPIRE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
# 发起转账 transfer_scene_report_infos: fixed info_type sets per scene
SCENE_REPORT_TYPES = {"1000": {"活动名称", "奖励说明"}, "1002": {"补贴类型"},
                      "1004": {"保险产品备案编号", "保险名称", "保险操作单号"}, "1005": {"岗位类型", "报酬说明"},
                      "1009": {"采购商品名称"}, "1010": {"回收商品名称"}, "1011": {"赔付原因"},
                      "1013": {"公益活动名称", "公益活动备案编号"}}
TRANSFER_FINAL = {"SUCCESS", "FAIL", "CANCELLED"}
TRANSFER_CANCELLABLE = {"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING"}


def _utf8_len(text: str) -> int:
    # WeChat Pay APIv3 field lengths (string(N) in every API's parameter table) are bytes
    # of the UTF-8 body, the encoding the API requires (API规则说明: "使用UTF-8字符编码").
    return len(text.encode("utf-8"))


def _outside_bmp(text: str) -> bool:
    return any(ord(ch) > 0xFFFF for ch in text)


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Answer:
    """One answer of the sandbox, with how the HTTP layer must send it."""
    status: int
    payload: dict | str | bytes | None
    signed: bool
    sign_with: str | None = None   # "public_key" | "certificate" | None (the sandbox's mode)
    corrupt_signature: bool = False
    lose: bool = False
    stall_s: float = 0.0
    content_type: str | None = None


def _param(message: str) -> SandboxError:
    return SandboxError(400, "PARAM_ERROR", message)


def _check_notify_url(url, field_name: str = "notify_url", max_len: int = 255) -> None:
    # JSAPI下单 notify_url string(255): "通知URL必须为外网可访问的URL，不能携带参数。公网域名必须为
    # HTTPS，如果是走专线接入 ... 可使用HTTP" -> http(s), a host, no query string.
    if not isinstance(url, str) or len(url) > max_len:
        raise _param(f"{field_name} must be a URL of at most {max_len} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _param(f"{field_name} must be an http(s) URL")
    if parts.query or "?" in url or parts.fragment:
        raise _param(f"{field_name} must not carry parameters")


class PaySandbox:
    """WeChat Pay's half of `sandbox.server.WeChatSandbox` (mixed into it)."""

    # -- state -----------------------------------------------------------------------------
    def _init_pay(self) -> None:
        self.sign_mode = "public_key"  # or "certificate"
        self.orders: dict[str, dict] = {}
        self.prepays: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.authorizations: dict[str, dict] = {}
        self.outbox: list[dict] = []  # every notification the sandbox sent: event_type, resource, url
        self.deliveries: list[dict] = []
        self.requests_log: list[dict] = []
        self.balance_fen: int | None = None
        self._faults: list[dict] = []
        self._offset_s = 0.0
        self._refund_spacing = False
        self._migration = False
        self._mixed_callbacks = False
        self._callback_flip = False
        self._comma_product_names = False
        self._pay_lock = threading.RLock()

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> float:
        """The sandbox clock (epoch seconds): real time plus what tests advanced."""
        return time.time() + self._offset_s

    def _stamp(self, epoch: float | None = None) -> str:
        moment = datetime.fromtimestamp(self.now() if epoch is None else epoch, UTC)
        return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()

    def advance(self, seconds: float, notify: bool = True, wait: bool = False) -> list[str]:
        """Move the sandbox clock on; transfers left unconfirmed for 24 h end FAIL (and are
        notified). Returns the out_bill_nos that expired."""
        with self._pay_lock:
            self._offset_s += seconds
            expired = [no for no, t in self.transfers.items()
                       if t["state"] == "WAIT_USER_CONFIRM" and self.now() - t["created"] >= TRANSFER_CONFIRM_S]
        for no in expired:
            self.expire_transfer(no, notify=notify, wait=wait)
        return expired

    def reset_clock(self) -> None:
        """Back to real time: a test that advanced the clock leaves the next one a sandbox
        whose time matches the app's."""
        with self._pay_lock:
            self._offset_s = 0.0

    # -- switches ----------------------------------------------------------------------------
    def fail_next(self, path_prefix: str, status: int = 500, times: int = 1, code: str | None = None,
                  method: str | None = None, body_contains: str | None = None) -> None:
        """The next `times` requests under `path_prefix` are refused with `status`, unprocessed.
        `method`, `body_contains`: only requests of that method, whose body holds that text
        (one refund's number, when the app also sends others on the same path)."""
        code = code or ("FREQUENCY_LIMITED" if status == 429 else "SYSTEM_ERROR" if status >= 500 else "INVALID_REQUEST")
        self._faults.append({"prefix": path_prefix, "times": times, "kind": "refuse", "status": status, "code": code,
                             "method": method, "body_contains": body_contains})

    def frequency_limit_next(self, path_prefix: str, times: int = 1, method: str | None = None,
                             body_contains: str | None = None) -> None:
        self.fail_next(path_prefix, 429, times, "FREQUENCY_LIMITED", method, body_contains)

    def system_error_next(self, path_prefix: str, times: int = 1, processed: bool = False) -> None:
        if processed:
            self._faults.append({"prefix": path_prefix, "times": times, "kind": "after", "status": 500,
                                 "code": "SYSTEM_ERROR"})
        else:
            self.fail_next(path_prefix, 500, times, "SYSTEM_ERROR")

    def bad_signature_next(self, path_prefix: str, times: int = 1) -> None:
        self._faults.append({"prefix": path_prefix, "times": times, "kind": "bad_signature"})

    def lose_answer_next(self, path_prefix: str, times: int = 1, stall_s: float = 0.0) -> None:
        self._faults.append({"prefix": path_prefix, "times": times, "kind": "lose", "stall_s": stall_s})

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_balance(self, fen: int | None) -> None:
        self.balance_fen = fen

    def refund_spacing(self, on: bool = True) -> None:
        self._refund_spacing = on

    def migration(self, on: bool = True) -> None:
        self._migration = on

    def mixed_callbacks(self, on: bool = True) -> None:
        self._mixed_callbacks = on

    def comma_product_names(self, on: bool = True) -> None:
        self._comma_product_names = on

    def reset_switches(self) -> None:
        """Every switch back to its default (faults, balance, spacing, migration, ...)."""
        self._faults.clear()
        self.balance_fen = None
        self._refund_spacing = self._migration = self._mixed_callbacks = self._comma_product_names = False

    def _take_fault(self, path: str, kinds: set[str], method: str = "", body: bytes = b"") -> dict | None:
        with self._pay_lock:
            for fault in self._faults:
                if fault.get("method") and fault["method"] != method:
                    continue
                if fault.get("body_contains") and fault["body_contains"].encode() not in body:
                    continue
                if fault["kind"] in kinds and fault["times"] > 0 and path.startswith(fault["prefix"]):
                    fault["times"] -= 1
                    return fault
        return None

    # -- shopper, operator and user helpers ---------------------------------------------------
    def prepay_valid(self, prepay_id: str) -> bool:
        """Whether wx.requestPayment would still accept this prepay id (2 hours)."""
        p = self.prepays.get(prepay_id)
        return p is not None and self.now() - p["created"] < PREPAY_TTL_S

    def pay(self, out_trade_no: str, notify: bool = True, wait: bool = True, prepay_id: str | None = None,
            coupon_fen: int = 0) -> dict:
        """The shopper pays the order; WeChat Pay notifies its notify_url (unless notify=False).

        With `prepay_id`, pays through that prepay id as wx.requestPayment would, refusing
        one that is not this order's or is older than 2 hours (the client-side failure has
        no API error code: the sandbox raises SandboxError(400, "PREPAY_EXPIRED")).
        `coupon_fen`: a WeChat Pay (免充值) coupon paid part of it (payer_total is less)."""
        with self._pay_lock:
            order = self.orders.get(out_trade_no)
            if order is None:
                raise SandboxError(404, "ORDER_NOT_EXIST", "no such order")
            if prepay_id is not None:
                p = self.prepays.get(prepay_id)
                if p is None or p["out_trade_no"] != out_trade_no:
                    raise SandboxError(400, "PREPAY_NOT_EXIST", "not this order's prepay id")
                if not self.prepay_valid(prepay_id):
                    raise SandboxError(400, "PREPAY_EXPIRED", "the prepay id has expired (2 hours)")
            if order["trade_state"] == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", "the order is closed")
            if order["trade_state"] == "NOTPAY" and self.now() > order["pay_until"]:
                # JSAPI下单 time_expire: "超过此时间后，用户将无法对该笔订单进行支付"
                raise SandboxError(400, "TIME_EXPIRED", "past the order's time_expire")
            if order["trade_state"] == "NOTPAY":
                order.update(trade_state="SUCCESS", transaction_id="42000" + secrets.token_hex(12)[:23],
                             success_time=self._stamp(), paid_at=self.now(), coupon_fen=int(coupon_fen))
                if self.balance_fen is not None:
                    self.balance_fen += order["amount"]["total"] - int(coupon_fen)
        resource = self.transaction(out_trade_no)
        if notify:
            self._notify(order["notify_url"], "TRANSACTION.SUCCESS", resource, "transaction", wait=wait)
        return resource

    def transaction(self, out_trade_no: str) -> dict:
        """The order as 查询订单 / TRANSACTION.SUCCESS describe it."""
        o = self.orders[out_trade_no]
        body = {"appid": o["appid"], "mchid": o["mchid"], "out_trade_no": out_trade_no,
                "trade_state": o["trade_state"], "trade_state_desc": o["trade_state"],
                "amount": {"total": o["amount"]["total"], "currency": "CNY"}, "payer": o["payer"]}
        if o["trade_state"] in ("SUCCESS", "REFUND"):
            coupon = o.get("coupon_fen", 0)
            body.update(transaction_id=o["transaction_id"], trade_type="JSAPI", bank_type="OTHERS",
                        success_time=o["success_time"], attach=o.get("attach", ""))
            body["amount"].update(payer_total=o["amount"]["total"] - coupon, payer_currency="CNY")
            if coupon:
                body["promotion_detail"] = [{"coupon_id": "sandbox-coupon", "name": "sandbox", "scope": "GLOBAL",
                                             "type": "NOCASH", "amount": coupon, "stock_id": "0",
                                             "wechatpay_contribute": 0, "merchant_contribute": coupon,
                                             "other_contribute": 0, "currency": "CNY"}]
        return body

    def refund_resource(self, out_refund_no: str, status: str | None = None) -> dict:
        """A refund notification's resource (退款结果通知: mchid, out_trade_no, transaction_id,
        out_refund_no, refund_id, refund_status, success_time, user_received_account, amount)."""
        r = self.refunds[out_refund_no]
        order = self.orders[r["out_trade_no"]]
        state = status or r["status"]
        body = {"mchid": self.keys.mchid, "out_trade_no": r["out_trade_no"],
                "transaction_id": order.get("transaction_id"), "out_refund_no": out_refund_no,
                "refund_id": r["refund_id"], "refund_status": state,
                "user_received_account": r.get("user_received_account", "支付用户零钱"),
                "amount": {"total": r["amount"]["total"], "refund": r["amount"]["refund"],
                           "payer_total": r["amount"]["total"] - order.get("coupon_fen", 0),
                           "payer_refund": r["amount"]["refund"] - r.get("discount_refund", 0)}}
        if state == "SUCCESS":
            body["success_time"] = r.get("success_time") or self._stamp()
        return body

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS", notify: bool = True,
                      wait: bool = True) -> dict:
        """WeChat settles the refund: SUCCESS, ABNORMAL (the card is void) or CLOSED, and
        notifies REFUND.<status> (退款结果通知 event_type REFUND.SUCCESS|ABNORMAL|CLOSED)."""
        if status not in ("SUCCESS", "ABNORMAL", "CLOSED", "PROCESSING"):
            raise SandboxError(400, "INVALID_REQUEST", f"no refund status {status}")
        with self._pay_lock:
            r = self.refunds[out_refund_no]
            if status == "CLOSED" and r["status"] != "CLOSED" and self.balance_fen is not None:
                self.balance_fen += r["amount"]["refund"]  # the money comes back
            r["status"] = status
            if status == "SUCCESS":
                r["success_time"] = self._stamp()
        resource = self.refund_resource(out_refund_no)
        if notify and r.get("notify_url") and status != "PROCESSING":
            self._notify(r["notify_url"], f"REFUND.{status}", resource, "refund", wait=wait)
        return resource

    def transfer_resource(self, out_bill_no: str) -> dict:
        """商家转账回调通知 MCHTRANSFER.BILL.FINISHED's resource (and the query's core)."""
        t = self.transfers[out_bill_no]
        body = {"out_bill_no": out_bill_no, "transfer_bill_no": t["transfer_bill_no"], "state": t["state"],
                "mch_id": self.keys.mchid, "transfer_amount": t["transfer_amount"], "openid": t["openid"],
                "create_time": t["create_time"], "update_time": t["update_time"]}
        if t.get("fail_reason"):
            body["fail_reason"] = t["fail_reason"]
        return body

    def _move_transfer(self, out_bill_no: str, state: str, fail_reason: str | None, notify: bool,
                       wait: bool, allowed: set[str]) -> dict:
        with self._pay_lock:
            t = self.transfers[out_bill_no]
            if t["state"] not in allowed and t["state"] != state:
                raise SandboxError(400, "INVALID_REQUEST", f"transfer is {t['state']}")
            changed = t["state"] != state
            if changed:
                t.update(state=state, update_time=self._stamp())
                if fail_reason:
                    t["fail_reason"] = fail_reason
                if state in ("FAIL", "CANCELLED") and self.balance_fen is not None:
                    self.balance_fen += t["transfer_amount"]
                if state == "SUCCESS" and t.get("authorization_info"):
                    self._authorize(t["authorization_info"]["out_authorization_no"], notify=notify, wait=wait)
        resource = self.transfer_resource(out_bill_no)
        if notify and changed and t.get("notify_url"):
            self._notify(t["notify_url"], "MCHTRANSFER.BILL.FINISHED", resource, "mch_payment", wait=wait)
        return resource

    def confirm_transfer(self, out_bill_no: str, notify: bool = True, wait: bool = True) -> dict:
        """The user confirms receipt (wx.requestMerchantTransfer): -> SUCCESS, notified."""
        return self._move_transfer(out_bill_no, "SUCCESS", None, notify, wait,
                                   {"WAIT_USER_CONFIRM", "TRANSFERING", "ACCEPTED", "PROCESSING"})

    def fail_transfer(self, out_bill_no: str, reason: str = "PAYEE_ACCOUNT_ABNORMAL", notify: bool = True,
                      wait: bool = True) -> dict:
        return self._move_transfer(out_bill_no, "FAIL", reason, notify, wait,
                                   {"WAIT_USER_CONFIRM", "TRANSFERING", "ACCEPTED", "PROCESSING"})

    def expire_transfer(self, out_bill_no: str, notify: bool = True, wait: bool = True) -> dict:
        """24 hours pass unconfirmed: -> FAIL, notified (what `advance` does)."""
        return self._move_transfer(out_bill_no, "FAIL", TRANSFER_TIMEOUT_REASON, notify, wait,
                                   {"WAIT_USER_CONFIRM"})

    def finish_transfer(self, out_bill_no: str, succeed: bool = True, notify: bool = True, wait: bool = True) -> dict:
        """Old name: confirm (succeed=True) or fail the transfer."""
        if succeed:
            return self.confirm_transfer(out_bill_no, notify=notify, wait=wait)
        return self.fail_transfer(out_bill_no, notify=notify, wait=wait)

    def confirm_authorization(self, out_authorization_no: str, notify: bool = True, wait: bool = True) -> dict:
        """The user grants the 免确认收款授权 on the package page: -> TAKING_EFFECT."""
        return self._authorize(out_authorization_no, notify=notify, wait=wait)

    def _authorize(self, out_authorization_no: str, notify: bool, wait: bool) -> dict:
        with self._pay_lock:
            a = self.authorizations[out_authorization_no]
            changed = a["state"] == "WAIT_USER_CONFIRM"
            if changed:
                a.update(state="TAKING_EFFECT", authorization_id="2012025" + secrets.token_hex(10),
                         authorize_time=self._stamp())
        view = self._authorization_view(out_authorization_no)
        if notify and changed and a.get("authorization_notify_url"):
            # 免确认收款授权结果通知 event_type: MCHTRANSFER.AUTHORIZATION.CONFIRMED when the
            # user grants it, MCHTRANSFER.AUTHORIZATION.CLOSED when it is closed.
            self._notify(a["authorization_notify_url"], "MCHTRANSFER.AUTHORIZATION.CONFIRMED", view,
                         "mch_payment", wait=wait)
        return view

    # -- signing -----------------------------------------------------------------------------
    def _signer(self, sign_with: str | None = None):
        mode = sign_with or self.sign_mode
        if mode == "public_key":
            return self.keys.public_key_id, self.keys.platform_key
        cert = self.keys.certificates[-1]
        return cert.serial, cert.key

    def signed_headers(self, body: str, timestamp: int | None = None, sign_with: str | None = None) -> dict:
        serial, key = self._signer(sign_with)
        ts = str(int(timestamp if timestamp is not None else time.time()))
        nonce = paycrypto.nonce()
        return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Serial": serial,
                "Wechatpay-Signature": paycrypto.sign(key, paycrypto.response_message(ts, nonce, body)),
                "Wechatpay-Signature-Type": paycrypto.SCHEMA}

    def _answer_signer(self, request_headers: dict) -> str | None:
        """Public-key mode answers with the public key; during the migration, only when the
        request's Wechatpay-Serial names the public key id (如何从平台证书切换成微信支付公钥:
        应答 follows the request's Wechatpay-Serial, else the platform certificate)."""
        if self.sign_mode != "public_key" or not self._migration:
            return None
        asked = {k.lower(): v for k, v in request_headers.items()}.get("wechatpay-serial")
        return "public_key" if asked == self.keys.public_key_id else "certificate"

    def _callback_signer(self) -> str | None:
        # 切换期间 回调 are signed by either, by WeChat's ratio: a mixed stream.
        if not self._mixed_callbacks:
            return None
        self._callback_flip = not self._callback_flip
        return "certificate" if self._callback_flip else "public_key"

    def build_notification(self, event_type: str, resource: dict, timestamp: int | None = None,
                           sign_with: str | None = None, original_type: str | None = None) -> tuple[dict, str]:
        """Headers and body of a notification exactly as WeChat Pay posts it."""
        original_type = original_type or {"TRANSACTION": "transaction", "REFUND": "refund"}.get(
            event_type.split(".")[0], "mch_payment")
        nonce = secrets.token_hex(6)
        summary = {"TRANSACTION.SUCCESS": "支付成功", "REFUND.SUCCESS": "退款成功", "REFUND.ABNORMAL": "退款异常",
                   "REFUND.CLOSED": "退款关闭"}.get(event_type, event_type)
        envelope = {
            "id": str(uuid.uuid4()), "create_time": self._stamp(), "resource_type": "encrypt-resource",
            "event_type": event_type, "summary": summary,
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": paycrypto.aead_encrypt(self.keys.apiv3_key, nonce, original_type,
                                                              json.dumps(resource, ensure_ascii=False).encode()),
                         "associated_data": original_type, "nonce": nonce},
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        headers = self.signed_headers(body, timestamp, sign_with or self._callback_signer())
        headers["Content-Type"] = "application/json"
        return headers, body

    def _notify(self, url: str, event_type: str, resource: dict, original_type: str, wait: bool) -> None:
        headers, body = self.build_notification(event_type, resource, original_type=original_type)
        self.outbox.append({"url": url, "event_type": event_type, "resource": resource,
                            "headers": headers, "body": body})

        def deliver():
            for attempt in range(1, self.notify_attempts + 1):
                try:
                    r = requests.post(url, data=body.encode(), headers=headers, timeout=5)
                    status = r.status_code
                except requests.RequestException as exc:
                    status = f"error: {type(exc).__name__}"
                self.deliveries.append({"url": url, "event_type": event_type, "attempt": attempt, "status": status})
                if isinstance(status, int) and 200 <= status < 300:
                    return
                time.sleep(self.notify_delay_s * attempt)

        if wait:
            deliver()
        else:
            threading.Thread(target=deliver, daemon=True).start()

    # -- request handling ----------------------------------------------------------------------
    def _check_signature(self, method: str, target: str, headers: dict, body: str) -> None:
        # 签名生成 / 签名验证: WECHATPAY2-SHA256-RSA2048 over method, URL, timestamp, nonce, body.
        h = {k.lower(): v for k, v in headers.items()}
        try:
            fields = paycrypto.parse_authorization(h.get("authorization", ""))
        except ValueError as exc:
            raise SandboxError(401, "SIGN_ERROR", "missing or malformed Authorization") from exc
        if fields.get("mchid") != self.keys.mchid or fields.get("serial_no") != self.keys.merchant_serial:
            raise SandboxError(401, "SIGN_ERROR", "unknown merchant or certificate serial")
        if abs(time.time() - int(fields.get("timestamp", "0") or 0)) > 300:
            raise SandboxError(401, "SIGN_ERROR", "stale timestamp")
        message = paycrypto.request_message(method, target, int(fields["timestamp"]), fields.get("nonce_str", ""), body)
        if not paycrypto.verify(self.keys.merchant_key.public_key(), message, fields.get("signature", "")):
            raise SandboxError(401, "SIGN_ERROR", "signature does not verify")

    def handle_pay(self, method: str, target: str, path: str, query: dict, headers: dict, body: bytes,
                   entry: dict) -> Answer:
        fault = self._take_fault(path, {"refuse"}, method, body or b"")
        if fault:
            return Answer(fault["status"], {"code": fault["code"], "message": "injected fault"}, False)
        text = body.decode() if body else ""
        self._check_signature(method, target, headers, text)
        try:
            data = json.loads(text) if text else {}
        except ValueError as exc:
            raise _param("the body is not JSON") from exc
        if not isinstance(data, dict):
            raise _param("the body is not a JSON object")
        entry.update({k: data[k] for k in ("out_trade_no", "out_refund_no", "out_bill_no") if k in data})
        status, payload, signed = self._pay(method, path, query, data, headers)
        answer = Answer(status, payload, signed, sign_with=self._answer_signer(headers))
        if isinstance(payload, bytes):
            # 下载账单 (the file): "text/plain" without a charset; the file itself is not signed
            answer.content_type = "text/plain"
        after = self._take_fault(path, {"after", "bad_signature", "lose"})
        if after and after["kind"] == "after":
            return Answer(500, {"code": "SYSTEM_ERROR", "message": "injected fault (processed)"}, False)
        if after and after["kind"] == "bad_signature":
            answer.corrupt_signature = True
        if after and after["kind"] == "lose":
            answer.lose, answer.stall_s = True, after.get("stall_s", 0.0)
        return answer

    def _pay(self, method, path, query, data, headers):
        if method == "POST" and path == "/v3/pay/transactions/jsapi":
            return self._prepay(data)
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            no = path.split("/")[5]
            with self._pay_lock:
                order = self.orders.get(no)
                if order is None:
                    # 查询订单 / 关闭订单: 404 ORDER_NOT_EXIST
                    raise SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
                if method == "GET":
                    return 200, self.transaction(no), True
                if method == "POST" and path.endswith("/close"):
                    # 关闭订单 (https://pay.weixin.qq.com/doc/v3/merchant/4012556398): body
                    # `mchid` 必填; answer "204 No Content", 无应答包体. Once closed, the order
                    # cannot be paid (`pay` refuses it ORDER_CLOSED, as JSAPI下单 does a repeat).
                    if not (data or {}).get("mchid"):
                        raise _param("mchid: 必填")
                    if order["trade_state"] in ("SUCCESS", "REFUND"):
                        raise SandboxError(400, "ORDERPAID", "订单已支付")
                    order["trade_state"] = "CLOSED"
                    return 204, None, True
        if path == "/v3/refund/domestic/refunds" and method == "POST":
            return self._refund(data)
        if path.startswith("/v3/refund/domestic/refunds/") and path.endswith("/apply-abnormal-refund") \
                and method == "POST":
            return self._abnormal_refund(path.split("/")[5], data, headers)
        if path.startswith("/v3/refund/domestic/refunds/") and method == "GET":
            no = path.rsplit("/", 1)[1]
            if no not in self.refunds:
                # 查询单笔退款: 404 RESOURCE_NOT_EXISTS
                raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return 200, self._refund_view(no), True
        if path == "/v3/fund-app/mch-transfer/transfer-bills" and method == "POST":
            return self._transfer(data, headers)
        if path == "/v3/fund-app/mch-transfer/transfer-bills/pre-transfer-with-authorization" and method == "POST":
            return self._transfer(data, headers, with_authorization=True)
        if path == "/v3/fund-app/mch-transfer/transfer-bills/transfer" and method == "POST":
            return self._authorized_transfer(data, headers)
        if path.startswith("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"):
            no = path.split("/")[6]
            if no not in self.transfers:
                # 商户单号查询转账单: 404 NOT_FOUND
                raise SandboxError(404, "NOT_FOUND", "单据不存在")
            if method == "GET" and path.count("/") == 6:
                return 200, self._transfer_view(no), True
            if method == "POST" and path.endswith("/cancel"):
                return self._cancel_transfer(no)
        if path == "/v3/fund-app/mch-transfer/user-confirm-authorization" and method == "POST":
            return self._apply_authorization(data)
        if path.startswith("/v3/fund-app/mch-transfer/user-confirm-authorization/out-authorization-no/"):
            no = path.split("/")[6]
            if no not in self.authorizations:
                raise SandboxError(404, "NOT_FOUND", "授权单不存在")
            if method == "GET" and path.count("/") == 6:
                return 200, self._authorization_view(no), True
            if method == "POST" and path.endswith("/close"):
                return self._close_authorization(no)
        if path == "/v3/certificates" and method == "GET":
            return 200, {"data": [self._certificate_entry(c) for c in self.keys.certificates]}, True
        if path == "/v3/bill/tradebill" and method == "GET":
            return self._bill_answer(query)
        if path == "/v3/billdownload/file" and method == "GET":
            return 200, self._bill_bytes(query.get("day", "")), False
        raise SandboxError(404, "NOT_FOUND", f"{method} {path}")

    # -- JSAPI prepay -------------------------------------------------------------------------
    def _prepay(self, data):
        k = self.keys
        for field_name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount", "payer"):
            if field_name not in data:
                raise _param(f"{field_name} is required")  # JSAPI下单: 必填
        if data["mchid"] != k.mchid or data["appid"] != k.appid:
            raise SandboxError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")  # JSAPI下单 错误码
        no = data["out_trade_no"]
        if not isinstance(no, str) or not OUT_TRADE_NO.match(no):
            raise _param("out_trade_no: 6-32 characters of 0-9 A-Z a-z _ - | *")
        description = data["description"]
        if not isinstance(description, str) or not description or _utf8_len(description) > 127:
            # JSAPI下单 description string(127): WeChat Pay counts a string field's length in
            # UTF-8 bytes (a Chinese character is 3), so 43 Chinese characters are too many.
            raise _param("description: 1-127 bytes")
        if _outside_bmp(description):
            # JSAPI下单 description: emoji (characters of 4 UTF-8 bytes) are refused as 特殊字符
            # (docs: "商品描述 ... 不支持特殊字符"; merchants report PARAM_ERROR for emoji).
            raise _param("description: emoji and other 4-byte characters are not allowed")
        _check_notify_url(data["notify_url"])
        if "attach" in data and (not isinstance(data["attach"], str) or len(data["attach"]) > 128):
            raise _param("attach: at most 128 characters")  # JSAPI下单 attach string(128)
        amount = data["amount"]
        total = amount.get("total") if isinstance(amount, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 1:
            raise _param("amount.total: an integer number of fen, at least 1")  # 订单金额 total int 单位为分
        if amount.get("currency", "CNY") != "CNY":
            raise _param("amount.currency: CNY")  # "境内商户号仅支持人民币"
        payer = data["payer"]
        if not isinstance(payer, dict) or not payer.get("openid"):
            raise _param("payer.openid is required")
        pay_until = self.now() + DEFAULT_PAY_WINDOW_S
        if "time_expire" in data:
            te = data["time_expire"]
            if not isinstance(te, str) or not TIME_EXPIRE.match(te):
                raise _param("time_expire: yyyy-MM-DDTHH:mm:ss+TIMEZONE")
            try:
                pay_until = datetime.fromisoformat(te).timestamp()
            except ValueError as exc:
                raise _param("time_expire: not a date") from exc
            # "支付结束时间不能早于下单时间后1分钟 ... 系统将自动调整为下单时间后1分钟"
            pay_until = max(pay_until, self.now() + 60)
        same = ("appid", "mchid", "description", "time_expire", "attach")
        with self._pay_lock:
            existing = self.orders.get(no)
            if existing:
                # JSAPI下单: "若未超过支付结束时间，则可使用原参数重新请求下单接口，以获取当前订单最新的
                # prepay_id"; other parameters: 403 OUT_TRADE_NO_USED "商户订单号重复"
                # ("time_expire 参数仅在用户首次下单时可设置，且不允许后续修改，尝试修改将导致错误").
                # notify_url is not compared (docs unclear).
                if any(existing["request"].get(f) != data.get(f) for f in same) \
                        or existing["amount"]["total"] != total or existing["payer"] != payer:
                    raise SandboxError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
                if existing["trade_state"] in ("SUCCESS", "REFUND"):
                    # docs unclear on the code for a paid order's repeat: ORDERPAID (as 关闭订单)
                    raise SandboxError(400, "ORDERPAID", "订单已支付")
                if existing["trade_state"] == "CLOSED":
                    raise SandboxError(400, "ORDER_CLOSED", "订单已关闭")  # JSAPI下单 错误码 ORDER_CLOSED
                order = existing
            else:
                order = {**data, "request": dict(data), "trade_state": "NOTPAY", "pay_until": pay_until,
                         "created": self.now()}
                self.orders[no] = order
            prepay_id = "wx" + secrets.token_hex(16)[:30]
            self.prepays[prepay_id] = {"out_trade_no": no, "created": self.now()}
            order["prepay_id"] = prepay_id
        return 200, {"prepay_id": prepay_id}, True

    # -- refunds --------------------------------------------------------------------------------
    def _refund(self, data):
        no, trade_no = data.get("out_refund_no"), data.get("out_trade_no")
        if not trade_no and not data.get("transaction_id"):
            raise _param("transaction_id or out_trade_no is required")  # 申请退款: 二选一
        if not isinstance(no, str) or not OUT_REFUND_NO.match(no):
            raise _param("out_refund_no: 1-64 characters of 0-9 A-Z a-z _ - | * @")
        if "notify_url" in data:
            _check_notify_url(data["notify_url"], max_len=256)  # 申请退款 notify_url string(256), 不能携带参数
        if "reason" in data and (not isinstance(data["reason"], str) or _utf8_len(data["reason"]) > 80):
            # 申请退款 reason string(80): 80 UTF-8 bytes (26 Chinese characters), not 80 characters
            raise _param("reason: at most 80 bytes")
        amount = data.get("amount")
        if not isinstance(amount, dict) or not all(isinstance(amount.get(f), int) for f in ("refund", "total")):
            raise _param("amount.refund and amount.total are required integers")
        if amount.get("currency", "CNY") != "CNY":
            raise _param("amount.currency: CNY")
        if amount["refund"] < 1:
            raise _param("amount.refund: at least 1 fen")
        with self._pay_lock:
            if not trade_no:
                trade_no = next((k for k, o in self.orders.items()
                                 if o.get("transaction_id") == data["transaction_id"]), None)
            order = self.orders.get(trade_no) if trade_no else None
            existing = self.refunds.get(no)
            if existing:
                # 申请退款: "同一商户退款单号多次请求只退一笔"; another order or amount under the same
                # number: 400 INVALID_REQUEST "请确认相同单号是否使用了不同的参数" (公共错误码).
                if existing["out_trade_no"] != trade_no or existing["amount"] != {
                        "refund": amount["refund"], "total": amount["total"]}:
                    raise SandboxError(400, "INVALID_REQUEST", "请确认相同单号是否使用了不同的参数")
                return 200, self._refund_view(no), True
            if order is None or order["trade_state"] not in ("SUCCESS", "REFUND"):
                # 申请退款 错误码: 404 RESOURCE_NOT_EXISTS "订单不存在" (unpaid or unknown)
                raise SandboxError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            mine = [r for r in self.refunds.values() if r["out_trade_no"] == trade_no]
            if amount["total"] != order["amount"]["total"]:
                raise SandboxError(400, "INVALID_REQUEST", "订单金额与原订单不符")
            refunded = sum(r["amount"]["refund"] for r in mine if r["status"] != "CLOSED")
            if refunded + amount["refund"] > amount["total"]:
                raise SandboxError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
            if len(mine) >= MAX_REFUNDS_PER_ORDER:
                raise SandboxError(400, "INVALID_REQUEST", "一笔订单最多支持50次部分退款")
            if self._refund_spacing and mine and self.now() - max(r["created"] for r in mine) < REFUND_SPACING_S:
                # 申请退款 注意 1 "间隔1分钟后再次调用": the code is not documented (docs unclear);
                # WeChat answers FREQUENCY_LIMITED "单笔订单请求频率过高，请于1分钟后重试" (as reported
                # by merchants), 429 like the documented FREQUENCY_LIMITED.
                raise SandboxError(429, "FREQUENCY_LIMITED", "单笔订单请求频率过高，请于1分钟后重试")
            if self.balance_fen is not None and amount["refund"] > self.balance_fen:
                # 申请退款 错误码: 403 NOT_ENOUGH "余额不足" (retry later with the same number)
                raise SandboxError(403, "NOT_ENOUGH", "余额不足")
            if self.balance_fen is not None:
                self.balance_fen -= amount["refund"]
            coupon = order.get("coupon_fen", 0)
            self.refunds[no] = {"out_trade_no": trade_no, "refund_id": "50300" + secrets.token_hex(12)[:24],
                                "status": "PROCESSING", "amount": {"refund": amount["refund"], "total": amount["total"]},
                                "discount_refund": amount["refund"] * coupon // amount["total"],
                                "notify_url": data.get("notify_url"), "created": self.now(), "reason": data.get("reason"),
                                "create_time": self._stamp()}
            order["trade_state"] = "REFUND"
        return 200, self._refund_view(no), True

    def _refund_view(self, no):
        """退款单 (申请退款 / 查询单笔退款 应答); status SUCCESS|CLOSED|PROCESSING|ABNORMAL."""
        r = self.refunds[no]
        order = self.orders[r["out_trade_no"]]
        coupon = order.get("coupon_fen", 0)
        view = {"refund_id": r["refund_id"], "out_refund_no": no, "out_trade_no": r["out_trade_no"],
                "transaction_id": order.get("transaction_id"), "channel": r.get("channel", "ORIGINAL"),
                "user_received_account": r.get("user_received_account", "支付用户零钱"), "status": r["status"],
                "create_time": r["create_time"], "funds_account": "AVAILABLE",
                "amount": {**r["amount"], "payer_total": r["amount"]["total"] - coupon,
                           "payer_refund": r["amount"]["refund"] - r["discount_refund"],
                           "settlement_total": r["amount"]["total"] - coupon,
                           "settlement_refund": r["amount"]["refund"] - r["discount_refund"],
                           "discount_refund": r["discount_refund"], "currency": "CNY"}}
        if r["status"] == "SUCCESS":
            view["success_time"] = r.get("success_time")
        return view

    def _abnormal_refund(self, refund_id, data, headers):
        # 发起异常退款 POST /v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund: only for a
        # refund in ABNORMAL; type USER_BANK_CARD (bank_type, bank_account, real_name, the last two
        # encrypted with WeChat Pay's key named by Wechatpay-Serial) or MERCHANT_BANK_CARD.
        with self._pay_lock:
            no = next((k for k, r in self.refunds.items() if r["refund_id"] == refund_id), None)
            if no is None:
                raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            if data.get("out_refund_no") != no:
                raise _param("out_refund_no does not match the refund")
            kind = data.get("type")
            if kind not in ("USER_BANK_CARD", "MERCHANT_BANK_CARD"):
                raise _param("type: USER_BANK_CARD or MERCHANT_BANK_CARD")
            if kind == "USER_BANK_CARD":
                for field_name in ("bank_type", "bank_account", "real_name"):
                    if not data.get(field_name):
                        raise _param(f"{field_name} is required for USER_BANK_CARD")
                for field_name in ("bank_account", "real_name"):
                    self._decrypt_sensitive(data[field_name], headers)
            r = self.refunds[no]
            if r["status"] != "ABNORMAL":
                # docs unclear on the code: 400 INVALID_REQUEST (the refund is not abnormal)
                raise SandboxError(400, "INVALID_REQUEST", f"退款状态为{r['status']}，不能发起异常退款")
            r["status"] = "PROCESSING"
            r["channel"] = "OTHER_BANKCARD" if kind == "USER_BANK_CARD" else "OTHER_BALANCE"
        return 200, self._refund_view(no), True

    # -- merchant transfers (2025 version) ------------------------------------------------------
    def _decrypt_sensitive(self, ciphertext: str, headers: dict) -> str:
        # 微信支付公钥加密敏感信息指引: RSA OAEP (SHA-1, MGF1-SHA-1) with WeChat Pay's public key
        # (or a platform certificate), named by the request's Wechatpay-Serial header.
        serial = {k.lower(): v for k, v in headers.items()}.get("wechatpay-serial")
        if serial == self.keys.public_key_id:
            key = self.keys.platform_key
        else:
            key = next((c.key for c in self.keys.certificates if c.serial == serial), None)
        if key is None:
            raise _param("Wechatpay-Serial must name WeChat Pay's public key id or a platform certificate")
        try:
            plain = key.decrypt(base64.b64decode(ciphertext, validate=True),
                                padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
            return plain.decode()
        except Exception as exc:  # noqa: BLE001 - any failure is WeChat's refusal
            # the message WeChat answers for a field it cannot decrypt
            raise _param("请确认待处理的消息是否为加密后的密文") from exc

    def _check_transfer(self, data, headers):
        for field_name in ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount",
                           "transfer_remark", "transfer_scene_report_infos"):
            if field_name not in data:
                raise _param(f"{field_name} is required")  # 发起转账: 必填
        if data["appid"] != self.keys.appid:
            raise SandboxError(400, "INVALID_REQUEST", "appid与商户号不匹配")
        if not isinstance(data["out_bill_no"], str) or not OUT_BILL_NO.match(data["out_bill_no"]):
            raise _param("out_bill_no: at most 32 letters and digits")
        amount = data["transfer_amount"]
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise _param("transfer_amount: an integer number of fen")
        if amount < TRANSFER_MIN_FEN:
            # 转账额度说明: 单笔最低 0.1 元; the code is not in the searchable docs (docs unclear):
            # 400 INVALID_REQUEST
            raise SandboxError(400, "INVALID_REQUEST", "转账金额不能低于0.1元")
        if not isinstance(data["transfer_remark"], str) or not data["transfer_remark"] \
                or len(data["transfer_remark"]) > 32:
            raise _param("transfer_remark: 1-32 characters")  # "最多允许32个字符"
        if "notify_url" in data:
            _check_notify_url(data["notify_url"], max_len=256)  # notify_url string(256), 不能携带参数
        infos = data["transfer_scene_report_infos"]
        required = SCENE_REPORT_TYPES.get(str(data["transfer_scene_id"]))
        kinds = {i.get("info_type") for i in infos} if isinstance(infos, list) else set()
        if required is not None and not required <= kinds:
            raise _param(f"scene {data['transfer_scene_id']} needs {sorted(required)}")
        if "user_name" in data:
            self._decrypt_sensitive(data["user_name"], headers)
        elif amount >= USER_NAME_FROM_FEN:
            # "转账金额 >= 2,000元时，该笔明细必须填写" (code: docs unclear, PARAM_ERROR)
            raise _param("user_name is required from 2000 yuan")

    def _require_serial(self, headers) -> None:
        # 发起转账并完成免确认收款授权 and 用户授权后转账: the header Wechatpay-Serial is 必填,
        # naming WeChat Pay's public key id or a platform certificate's serial (whichever
        # the merchant verifies with), even when no field is encrypted.
        serial = {k.lower(): v for k, v in headers.items()}.get("wechatpay-serial")
        if not serial:
            raise _param("Wechatpay-Serial is required")
        if serial != self.keys.public_key_id and all(c.serial != serial for c in self.keys.certificates):
            raise _param("Wechatpay-Serial names no WeChat Pay public key or platform certificate")

    def _transfer(self, data, headers, with_authorization: bool = False):
        # 发起转账 POST /v3/fund-app/mch-transfer/transfer-bills (用户确认模式): 200 with state
        # WAIT_USER_CONFIRM and package_info for wx.requestMerchantTransfer.
        if with_authorization:
            self._require_serial(headers)
        self._check_transfer(data, headers)
        auth = data.get("authorization_info") if with_authorization else None
        if auth is not None:
            # 发起转账并完成免确认收款授权: authorization_info {user_display_name, out_authorization_no,
            # authorization_notify_url}
            for field_name in ("user_display_name", "out_authorization_no", "authorization_notify_url"):
                if not auth.get(field_name):
                    raise _param(f"authorization_info.{field_name} is required")
            if not OUT_AUTHORIZATION_NO.match(str(auth["out_authorization_no"])):
                raise _param("out_authorization_no: at most 32 letters and digits")
            _check_notify_url(auth["authorization_notify_url"], "authorization_notify_url", 256)
        same = ("openid", "transfer_amount", "transfer_scene_id", "transfer_remark")
        with self._pay_lock:
            existing = self.transfers.get(data["out_bill_no"])
            if existing:
                # The same out_bill_no: the same transfer (never a second one). Other parameters:
                # docs unclear on the code; 400 INVALID_REQUEST. A final one (SUCCESS, FAIL,
                # CANCELLED) is answered as it is: the number cannot carry a new transfer.
                if any(existing[f] != data[f] for f in same):
                    raise SandboxError(400, "INVALID_REQUEST", "商户单号重复，且参数不一致")
            else:
                if self.balance_fen is not None and data["transfer_amount"] > self.balance_fen:
                    # 发起转账 错误码: 403 NOT_ENOUGH "资金不足" (充值后原单重试)
                    raise SandboxError(403, "NOT_ENOUGH", "商户运营账户资金不足")
                if self.balance_fen is not None:
                    self.balance_fen -= data["transfer_amount"]
                stamp = self._stamp()
                self.transfers[data["out_bill_no"]] = {
                    **data, "transfer_bill_no": "1330000" + secrets.token_hex(12), "state": "WAIT_USER_CONFIRM",
                    "create_time": stamp, "update_time": stamp, "created": self.now(),
                    "package_info": "ABBQO+oYAAABAAAAAAAk" + secrets.token_urlsafe(24),
                    "authorization_info": auth}
                if auth is not None and auth["out_authorization_no"] not in self.authorizations:
                    self.authorizations[auth["out_authorization_no"]] = {
                        "out_authorization_no": auth["out_authorization_no"], "appid": data["appid"],
                        "openid": data["openid"], "user_display_name": auth["user_display_name"],
                        "transfer_scene_id": data["transfer_scene_id"], "state": "WAIT_USER_CONFIRM",
                        "authorization_notify_url": auth["authorization_notify_url"], "create_time": stamp,
                        "package_info": None}
            t = self.transfers[data["out_bill_no"]]
        answer = {"out_bill_no": data["out_bill_no"], "transfer_bill_no": t["transfer_bill_no"],
                  "create_time": t["create_time"], "state": t["state"]}
        if t["state"] == "WAIT_USER_CONFIRM":
            answer["package_info"] = t["package_info"]
        if auth is not None:
            answer.update(user_display_name=auth["user_display_name"],
                          out_authorization_no=auth["out_authorization_no"])
        return 200, answer, True

    def _authorized_transfer(self, data, headers):
        # 用户授权后转账 POST /v3/fund-app/mch-transfer/transfer-bills/transfer: Wechatpay-Serial
        # 必填; authorization_id of a TAKING_EFFECT authorization of this openid; no package,
        # states ACCEPTED|PROCESSING|TRANSFERING|SUCCESS. The sandbox answers SUCCESS at once
        # and notifies MCHTRANSFER.BILL.FINISHED.
        self._require_serial(headers)
        self._check_transfer(data, headers)
        auth = next((a for a in self.authorizations.values()
                     if a.get("authorization_id") == data.get("authorization_id")), None)
        if auth is None or auth["state"] != "TAKING_EFFECT" or auth["openid"] != data["openid"]:
            raise SandboxError(403, "NO_AUTH", "用户未授权免确认收款或授权已失效")
        status, answer, signed = self._transfer({k: v for k, v in data.items() if k != "authorization_id"}, headers)
        no = data["out_bill_no"]
        t = self.transfers[no]
        if t["state"] == "WAIT_USER_CONFIRM":
            t["package_info"] = None
            self.confirm_transfer(no, wait=False)
        view = {**self.transfer_resource(no), "appid": t["appid"], "transfer_remark": t["transfer_remark"]}
        return 200, view, True

    def _transfer_view(self, no):
        # 商户单号查询转账单: mch_id, out_bill_no, transfer_bill_no, appid, state, transfer_amount,
        # transfer_remark, fail_reason, openid, create_time, update_time
        t = self.transfers[no]
        return {**self.transfer_resource(no), "appid": t["appid"], "transfer_remark": t["transfer_remark"]}

    def _cancel_transfer(self, no):
        # 撤销转账: "在用户确认收款之前可以通过该接口撤销付款 ... 返回成功仅表示撤销请求已受理"
        # -> answered CANCELING, then CANCELLED (notified). After confirmation: docs unclear on
        # the code; 400 INVALID_REQUEST.
        with self._pay_lock:
            t = self.transfers[no]
            if t["state"] == "CANCELLED":
                return 200, {"out_bill_no": no, "transfer_bill_no": t["transfer_bill_no"], "state": "CANCELLED",
                             "update_time": t["update_time"]}, True
            if t["state"] not in TRANSFER_CANCELLABLE:
                raise SandboxError(400, "INVALID_REQUEST", f"转账单状态为{t['state']}，不可撤销")
            t.update(state="CANCELING", update_time=self._stamp())
            answer = {"out_bill_no": no, "transfer_bill_no": t["transfer_bill_no"], "state": "CANCELING",
                      "update_time": t["update_time"]}
        self._move_transfer(no, "CANCELLED", None, True, False, {"CANCELING"})
        return 200, answer, True

    # -- 免确认收款授权 ------------------------------------------------------------------------
    def _apply_authorization(self, data):
        # 发起免确认收款授权 POST /v3/fund-app/mch-transfer/user-confirm-authorization:
        # out_authorization_no, appid, openid, transfer_scene_id, user_display_name (<= 32),
        # authorization_notify_url 必填; answers state WAIT_USER_CONFIRM and package_info; the user
        # has 24 hours.
        for field_name in ("out_authorization_no", "appid", "openid", "transfer_scene_id", "user_display_name",
                           "authorization_notify_url"):
            if not data.get(field_name):
                raise _param(f"{field_name} is required")
        no = data["out_authorization_no"]
        if not isinstance(no, str) or not OUT_AUTHORIZATION_NO.match(no):
            raise _param("out_authorization_no: at most 32 letters and digits")
        if len(data["user_display_name"]) > 32:
            raise _param("user_display_name: at most 32 characters")
        _check_notify_url(data["authorization_notify_url"], "authorization_notify_url", 256)
        with self._pay_lock:
            a = self.authorizations.get(no)
            if a is None:
                a = self.authorizations[no] = {
                    **{k: data[k] for k in ("out_authorization_no", "appid", "openid", "transfer_scene_id",
                                            "user_display_name", "authorization_notify_url")},
                    "user_recv_perception": data.get("user_recv_perception"), "state": "WAIT_USER_CONFIRM",
                    "create_time": self._stamp(), "package_info": "AUTH" + secrets.token_urlsafe(24)}
            elif a["openid"] != data["openid"]:
                raise SandboxError(400, "INVALID_REQUEST", "授权单号重复，且参数不一致")
        return 200, {"out_authorization_no": no, "state": a["state"], "create_time": a["create_time"],
                     "package_info": a["package_info"]}, True

    def _authorization_view(self, no):
        # 商户单号查询免确认收款授权: state TAKING_EFFECT | CLOSED | WAIT_USER_CONFIRM
        a = self.authorizations[no]
        view = {k: a.get(k) for k in ("out_authorization_no", "appid", "openid", "user_display_name",
                                      "authorization_id", "state", "authorize_time", "transfer_scene_id",
                                      "user_recv_perception", "create_time", "package_info", "close_info")}
        return {k: v for k, v in view.items() if v is not None}

    def _close_authorization(self, no):
        # 解除免确认收款授权: -> CLOSED, close_info.close_reason CLOSE_VIA_MCH_API
        with self._pay_lock:
            a = self.authorizations[no]
            changed = a["state"] != "CLOSED"
            if changed:
                a.update(state="CLOSED", close_info={"close_time": self._stamp(), "close_reason": "CLOSE_VIA_MCH_API"})
        view = self._authorization_view(no)
        if changed and a.get("authorization_notify_url"):
            # 免确认收款授权结果通知: MCHTRANSFER.AUTHORIZATION.CLOSED when the authorization closes
            self._notify(a["authorization_notify_url"], "MCHTRANSFER.AUTHORIZATION.CLOSED", view, "mch_payment",
                         wait=False)
        return 200, view, True

    # -- certificates and bills ------------------------------------------------------------------
    def _certificate_entry(self, cert) -> dict:
        nonce = secrets.token_hex(6)
        return {"serial_no": cert.serial, "effective_time": self._stamp(cert.not_before.timestamp()),
                "expire_time": self._stamp(cert.not_after.timestamp()),
                "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
                                        "associated_data": "certificate",
                                        "ciphertext": paycrypto.aead_encrypt(self.keys.apiv3_key, nonce, "certificate",
                                                                             cert.pem.encode())}}

    def trade_bill(self, day: str) -> str:
        """WeChat's trade bill (bill_type ALL) for a Beijing date, as text."""
        return bills.trade_bill(self, day)

    def _bill_bytes(self, day: str) -> bytes:
        return self.trade_bill(day).encode("utf-8")

    def _bill_answer(self, query):
        # 申请交易账单 GET /v3/bill/tradebill?bill_date=yyyy-MM-DD[&bill_type=ALL]: hash_type SHA1,
        # hash_value of the file, download_url; a day without trades or refunds: 400
        # NO_STATEMENT_EXIST "账单文件不存在".
        day = query.get("bill_date", "")
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", day):
            raise _param("bill_date: yyyy-MM-DD")
        if query.get("bill_type", "ALL") not in ("ALL", "SUCCESS", "REFUND"):
            raise _param("bill_type: ALL, SUCCESS or REFUND")
        ready = bills.readiness(self, day)
        if ready == "NOT_MADE":
            raise SandboxError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        if ready == "CREATING":
            raise SandboxError(400, "STATEMENT_CREATING", "账单生成中")
        if not bills.has_activity(self, day):
            raise SandboxError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        data = self._bill_bytes(day)
        return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(data).hexdigest(),
                     "download_url": f"{self.base_url}/v3/billdownload/file?day={day}"}, True
