"""A WeChat sandbox that speaks WeChat's real protocols, for `make dev` and the tests.

- Mini-program: code2session (any code works, codes starting `invalid` are refused),
  access tokens, subscription messages (43101 for openids that refused).
- WeChat Pay APIv3 with its own keys: every request's `WECHATPAY2-SHA256-RSA2048`
  signature is checked against the merchant's public key, every answer is signed with
  the platform key (public-key mode) or the current platform certificate (certificate
  mode), and payment, refund and transfer notifications are posted back signed and
  AES-256-GCM-encrypted, retried until answered 2xx.
- Control endpoints for people and tests: `POST /sandbox/pay/{out_trade_no}` (the
  shopper pays), `POST /sandbox/refunds/{out_refund_no}/{SUCCESS|ABNORMAL|CLOSED}`,
  `POST /sandbox/transfers/{out_bill_no}/{confirm|fail}`.

State is in memory; nothing here is deployed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from layers.wechat import paycrypto
from sandbox.keys import SandboxKeys, new_certificate, private_pem, public_pem

BEIJING = timezone(timedelta(hours=8))


def _bj(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).astimezone(BEIJING).replace(microsecond=0).isoformat()


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _CrowdServer(ThreadingHTTPServer):
    """-- issue 15 -- a listen backlog for a crowd (the default 5 resets connections
    when a flash sale's prepay calls arrive together)."""

    request_queue_size = 1024


class WeChatSandbox:
    def __init__(self, keys: SandboxKeys | None = None, notify_attempts: int = 5, notify_delay_s: float = 0.2):
        self.keys = keys or SandboxKeys()
        self.sign_mode = "public_key"  # or "certificate"
        self.notify_attempts = notify_attempts
        self.notify_delay_s = notify_delay_s
        self.orders: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.messages: list[dict] = []
        self.requests_log: list[dict] = []
        self.deliveries: list[dict] = []
        self.tokens_issued = 0
        self._refusing: set[str] = set()
        self._faults: list[dict] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._server = _CrowdServer((host, port), Handler)  # issue 15: a crowd is not dropped
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="wechat-sandbox").start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def env(self, certificate_mode: bool = False) -> dict[str, str]:
        """The contract's WeChat settings, pointing at this sandbox."""
        k = self.keys
        self.sign_mode = "certificate" if certificate_mode else "public_key"
        env = {
            "WECHAT_APPID": k.appid, "WECHAT_APP_SECRET": k.app_secret, "WECHAT_API_BASE": self.base_url,
            "WECHATPAY_MCHID": k.mchid, "WECHATPAY_API_BASE": self.base_url, "WECHATPAY_APIV3_KEY": k.apiv3_key,
            "WECHATPAY_MERCHANT_PRIVATE_KEY": private_pem(k.merchant_key),
            "WECHATPAY_MERCHANT_SERIAL": k.merchant_serial,
        }
        if not certificate_mode:
            env.update(WECHATPAY_PUBLIC_KEY=public_pem(k.platform_key), WECHATPAY_PUBLIC_KEY_ID=k.public_key_id)
        return env

    # -- test and developer controls -------------------------------------------------------
    def refuse_subscriptions(self, openid: str) -> None:
        self._refusing.add(openid)

    def rotate_certificate(self) -> str:
        """A new platform certificate, listed beside the old one and used to sign from now on."""
        cert = new_certificate()
        self.keys.certificates.append(cert)
        return cert.serial

    def fail_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next `times` requests under `path_prefix` answer `status` (fault injection)."""
        self._faults.append({"prefix": path_prefix, "status": status, "times": times})

    def pay(self, out_trade_no: str, notify: bool = True, wait: bool = True) -> dict:
        """The shopper pays the order; WeChat Pay notifies its notify_url (unless notify=False)."""
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None:
                raise SandboxError(404, "ORDER_NOT_EXIST", "no such order")
            if order["trade_state"] == "CLOSED":
                raise SandboxError(400, "ORDER_CLOSED", "the order is closed")
            if order["trade_state"] != "SUCCESS":
                order.update(trade_state="SUCCESS", transaction_id="42000" + secrets.token_hex(12)[:23],
                             success_time=_bj())
        resource = self.transaction(out_trade_no)
        if notify:
            self._notify(order["notify_url"], "TRANSACTION.SUCCESS", resource, "transaction", wait=wait)
        return resource

    def transaction(self, out_trade_no: str) -> dict:
        o = self.orders[out_trade_no]
        body = {"appid": o["appid"], "mchid": o["mchid"], "out_trade_no": out_trade_no,
                "trade_state": o["trade_state"], "trade_state_desc": o["trade_state"],
                "amount": {"total": o["amount"]["total"], "currency": "CNY"}, "payer": o["payer"]}
        if o["trade_state"] in ("SUCCESS", "REFUND"):
            body.update(transaction_id=o["transaction_id"], trade_type="JSAPI", bank_type="OTHERS",
                        success_time=o["success_time"], attach="")
            body["amount"].update(payer_total=o["amount"]["total"], payer_currency="CNY")
        return body

    def refund_resource(self, out_refund_no: str, status: str | None = None) -> dict:
        r = self.refunds[out_refund_no]
        order = self.orders[r["out_trade_no"]]
        return {"mchid": self.keys.mchid, "out_trade_no": r["out_trade_no"],
                "transaction_id": order.get("transaction_id"), "out_refund_no": out_refund_no,
                "refund_id": r["refund_id"], "refund_status": status or r["status"],
                "success_time": _bj() if (status or r["status"]) == "SUCCESS" else None,
                "user_received_account": "支付用户零钱",
                "amount": {"total": r["amount"]["total"], "refund": r["amount"]["refund"],
                           "payer_total": r["amount"]["total"], "payer_refund": r["amount"]["refund"]}}

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS", notify: bool = True, wait: bool = True) -> dict:
        with self._lock:
            r = self.refunds[out_refund_no]
            r["status"] = status
            if status == "SUCCESS":
                r["success_time"] = _bj()
        resource = self.refund_resource(out_refund_no)
        if notify and r.get("notify_url"):
            self._notify(r["notify_url"], f"REFUND.{status}", resource, "refund", wait=wait)
        return resource

    def transfer_resource(self, out_bill_no: str) -> dict:
        t = self.transfers[out_bill_no]
        return {"out_bill_no": out_bill_no, "transfer_bill_no": t["transfer_bill_no"], "state": t["state"],
                "mch_id": self.keys.mchid, "transfer_amount": t["transfer_amount"], "openid": t["openid"],
                "fail_reason": t.get("fail_reason"), "create_time": t["create_time"], "update_time": _bj()}

    def finish_transfer(self, out_bill_no: str, succeed: bool = True, notify: bool = True, wait: bool = True) -> dict:
        with self._lock:
            t = self.transfers[out_bill_no]
            t["state"] = "SUCCESS" if succeed else "FAIL"
            if not succeed:
                t["fail_reason"] = "PAYEE_ACCOUNT_ABNORMAL"
        resource = self.transfer_resource(out_bill_no)
        if notify and t.get("notify_url"):
            self._notify(t["notify_url"], "MCHTRANSFER.BILL.FINISHED", resource, "mch_payment", wait=wait)
        return resource

    # -- signing -------------------------------------------------------------------------
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

    def build_notification(self, event_type: str, resource: dict, timestamp: int | None = None,
                           sign_with: str | None = None, original_type: str | None = None) -> tuple[dict, str]:
        """Headers and body of a notification exactly as WeChat Pay posts it."""
        original_type = original_type or {"TRANSACTION": "transaction", "REFUND": "refund"}.get(
            event_type.split(".")[0], "mch_payment")
        nonce = secrets.token_hex(6)
        envelope = {
            "id": str(uuid.uuid4()), "create_time": _bj(), "resource_type": "encrypt-resource",
            "event_type": event_type, "summary": {"TRANSACTION.SUCCESS": "支付成功"}.get(event_type, event_type),
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": paycrypto.aead_encrypt(self.keys.apiv3_key, nonce, original_type,
                                                              json.dumps(resource, ensure_ascii=False).encode()),
                         "associated_data": original_type, "nonce": nonce},
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        headers = self.signed_headers(body, timestamp, sign_with)
        headers["Content-Type"] = "application/json"
        return headers, body

    def _notify(self, url: str, event_type: str, resource: dict, original_type: str, wait: bool) -> None:
        headers, body = self.build_notification(event_type, resource, original_type=original_type)

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

    # -- request handling ------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict, body: bytes) -> tuple[int, dict | str | None, bool]:
        """(status, payload, signed?) for one request."""
        parts = urlsplit(target)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault["prefix"]) and fault["times"] > 0:
                    fault["times"] -= 1
                    return fault["status"], {"code": "SYSTEM_ERROR", "message": "injected fault"}, False
        entry = {"method": method, "path": path, "query": query}
        self.requests_log.append(entry)
        if path.startswith("/sandbox/"):
            return self._control(method, path)
        if path.startswith("/sns/") or path.startswith("/cgi-bin/"):
            return self._mini_program(method, path, query, body)
        if path.startswith("/v3/"):
            text = body.decode() if body else ""
            self._check_signature(method, target, headers, text)
            data = json.loads(text) if text else {}
            entry.update({k: data[k] for k in ("out_trade_no", "out_refund_no", "out_bill_no") if k in data})
            return self._pay(method, path, query, data)
        return 404, {"code": "NOT_FOUND", "message": path}, False

    def _check_signature(self, method: str, target: str, headers: dict, body: str) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        try:
            fields = paycrypto.parse_authorization(h.get("authorization", ""))
        except ValueError as exc:
            raise SandboxError(401, "SIGN_ERROR", "missing or malformed Authorization") from exc
        if fields.get("mchid") != self.keys.mchid or fields.get("serial_no") != self.keys.merchant_serial:
            raise SandboxError(401, "SIGN_ERROR", "unknown merchant or certificate serial")
        if abs(time.time() - int(fields.get("timestamp", "0"))) > 300:
            raise SandboxError(401, "SIGN_ERROR", "stale timestamp")
        message = paycrypto.request_message(method, target, int(fields["timestamp"]), fields["nonce_str"], body)
        if not paycrypto.verify(self.keys.merchant_key.public_key(), message, fields.get("signature", "")):
            raise SandboxError(401, "SIGN_ERROR", "signature does not verify")

    def _mini_program(self, method, path, query, body):
        k = self.keys
        if path == "/sns/jscode2session":
            if query.get("appid") != k.appid or query.get("secret") != k.app_secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}, False
            code = query.get("js_code", "")
            if not code or code.startswith("invalid"):
                return 200, {"errcode": 40029, "errmsg": "invalid code"}, False
            digest = hashlib.sha256(f"{k.appid}:{code}".encode()).hexdigest()
            return 200, {"openid": "o" + digest[:27], "session_key": secrets.token_urlsafe(16)}, False
        if path in ("/cgi-bin/token", "/cgi-bin/stable_token"):
            self.tokens_issued += 1
            return 200, {"access_token": "SANDBOX_" + secrets.token_hex(16), "expires_in": 7200}, False
        if path == "/cgi-bin/message/subscribe/send":
            data = json.loads(body or b"{}")
            if data.get("touser") in self._refusing:
                return 200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"}, False
            self.messages.append(data)
            return 200, {"errcode": 0, "errmsg": "ok"}, False
        return 404, {"errcode": 404, "errmsg": "unknown api"}, False

    def _pay(self, method, path, query, data):
        k = self.keys
        if method == "POST" and path == "/v3/pay/transactions/jsapi":
            for field_name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount", "payer"):
                if field_name not in data:
                    raise SandboxError(400, "PARAM_ERROR", f"{field_name} is required")
            if data["mchid"] != k.mchid or data["appid"] != k.appid:
                raise SandboxError(400, "INVALID_REQUEST", "appid and mchid do not match")
            with self._lock:
                existing = self.orders.get(data["out_trade_no"])
                if existing:
                    if existing["amount"]["total"] != data["amount"]["total"]:
                        raise SandboxError(400, "INVALID_REQUEST", "out_trade_no reused with other parameters")
                    if existing["trade_state"] != "NOTPAY":
                        raise SandboxError(400, "ORDERPAID" if existing["trade_state"] == "SUCCESS" else "ORDER_CLOSED",
                                           "the order is not payable")
                    return 200, {"prepay_id": existing["prepay_id"]}, True
                self.orders[data["out_trade_no"]] = {**data, "prepay_id": "wx" + secrets.token_hex(15),
                                                     "trade_state": "NOTPAY"}
                return 200, {"prepay_id": self.orders[data["out_trade_no"]]["prepay_id"]}, True
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            no = path.split("/")[5]
            order = self.orders.get(no)
            if order is None:
                raise SandboxError(404, "ORDER_NOT_EXIST", "订单不存在")
            if method == "GET":
                return 200, self.transaction(no), True
            if method == "POST" and path.endswith("/close"):
                with self._lock:
                    if order["trade_state"] == "SUCCESS":
                        raise SandboxError(400, "ORDERPAID", "订单已支付")
                    order["trade_state"] = "CLOSED"
                return 204, None, True
        if path == "/v3/refund/domestic/refunds" and method == "POST":
            return self._refund(data)
        if path.startswith("/v3/refund/domestic/refunds/") and method == "GET":
            no = path.rsplit("/", 1)[1]
            if no not in self.refunds:
                raise SandboxError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return 200, self._refund_view(no), True
        if path == "/v3/fund-app/mch-transfer/transfer-bills" and method == "POST":
            return self._transfer(data)
        if path.startswith("/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/") and method == "GET":
            no = path.rsplit("/", 1)[1]
            if no not in self.transfers:
                raise SandboxError(404, "NOT_FOUND", "单据不存在")
            return 200, self.transfer_resource(no), True
        if path == "/v3/certificates" and method == "GET":
            return 200, {"data": [self._certificate_entry(c) for c in self.keys.certificates]}, True
        if path == "/v3/bill/tradebill" and method == "GET":
            day = query.get("bill_date", "")
            text = self.trade_bill(day)
            return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(text.encode()).hexdigest(),
                         "download_url": f"{self.base_url}/v3/billdownload/file?day={day}"}, True
        if path == "/v3/billdownload/file" and method == "GET":
            return 200, self.trade_bill(query.get("day", "")), False
        raise SandboxError(404, "NOT_FOUND", f"{method} {path}")

    def _refund(self, data):
        no, trade_no = data.get("out_refund_no"), data.get("out_trade_no")
        order = self.orders.get(trade_no)
        if order is None or order["trade_state"] not in ("SUCCESS", "REFUND"):
            raise SandboxError(400, "INVALID_REQUEST", "the order is not paid")
        with self._lock:
            if no in self.refunds:
                return 200, self._refund_view(no), True
            refunded = sum(r["amount"]["refund"] for r in self.refunds.values()
                           if r["out_trade_no"] == trade_no and r["status"] != "CLOSED")
            amount = data["amount"]
            if amount["total"] != order["amount"]["total"] or refunded + amount["refund"] > amount["total"]:
                raise SandboxError(400, "INVALID_REQUEST", "refund exceeds what was paid")
            self.refunds[no] = {"out_trade_no": trade_no, "refund_id": "50300" + secrets.token_hex(11)[:22],
                                "status": "PROCESSING", "amount": {"refund": amount["refund"], "total": amount["total"]},
                                "notify_url": data.get("notify_url"), "created": _bj()}
            order["trade_state"] = "REFUND"
        return 200, self._refund_view(no), True

    def _refund_view(self, no):
        r = self.refunds[no]
        return {"refund_id": r["refund_id"], "out_refund_no": no, "out_trade_no": r["out_trade_no"],
                "transaction_id": self.orders[r["out_trade_no"]].get("transaction_id"),
                "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "status": r["status"],
                "create_time": r["created"], "amount": {**r["amount"], "currency": "CNY"}}

    def _transfer(self, data):
        for field_name in ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount",
                           "transfer_remark", "transfer_scene_report_infos"):
            if field_name not in data:
                raise SandboxError(400, "PARAM_ERROR", f"{field_name} is required")
        if data["transfer_scene_id"] == "1005":
            kinds = {i.get("info_type") for i in data["transfer_scene_report_infos"]}
            if not {"岗位类型", "报酬说明"} <= kinds:
                raise SandboxError(400, "PARAM_ERROR", "scene 1005 needs 岗位类型 and 报酬说明")
        with self._lock:
            existing = self.transfers.get(data["out_bill_no"])
            if existing:
                if existing["transfer_amount"] != data["transfer_amount"] or existing["openid"] != data["openid"]:
                    raise SandboxError(400, "INVALID_REQUEST", "out_bill_no reused with other parameters")
            else:
                self.transfers[data["out_bill_no"]] = {
                    **data, "transfer_bill_no": "1330000" + secrets.token_hex(10), "state": "WAIT_USER_CONFIRM",
                    "create_time": _bj(), "package_info": "ABBQO+oYAAABAAAAAAAk" + secrets.token_urlsafe(24)}
            t = self.transfers[data["out_bill_no"]]
        return 200, {"out_bill_no": data["out_bill_no"], "transfer_bill_no": t["transfer_bill_no"],
                     "create_time": t["create_time"], "state": t["state"], "package_info": t["package_info"]}, True

    def _certificate_entry(self, cert) -> dict:
        nonce = secrets.token_hex(6)
        return {"serial_no": cert.serial, "effective_time": _bj(cert.not_before), "expire_time": _bj(cert.not_after),
                "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
                                        "associated_data": "certificate",
                                        "ciphertext": paycrypto.aead_encrypt(self.keys.apiv3_key, nonce, "certificate",
                                                                             cert.pem.encode())}}

    def trade_bill(self, day: str) -> str:
        """WeChat's trade bill CSV (ALL) for a Beijing date: trades, refunds, then the summary."""
        header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                  "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                  "商品名称,商户数据包,手续费,费率")
        rows, paid_total, refund_total = [], 0, 0
        yuan = lambda fen: f"{fen / 100:.2f}"  # noqa: E731
        for no, o in list(self.orders.items()):
            if o.get("success_time", "").startswith(day):
                total = o["amount"]["total"]
                paid_total += total
                rows.append([o["success_time"].replace("T", " ")[:19], o["appid"], o["mchid"], "0", "",
                             o["transaction_id"], no, o["payer"]["openid"], "JSAPI", "SUCCESS", "OTHERS", "CNY",
                             yuan(total), "0.00", "0", "0", "0.00", "0.00", "", "", o["description"][:20], "",
                             yuan(round(total * 0.006)), "0.60%"])
        for no, r in list(self.refunds.items()):
            if r["status"] == "SUCCESS" and r.get("success_time", "").startswith(day):
                o = self.orders[r["out_trade_no"]]
                refund_total += r["amount"]["refund"]
                rows.append([r["success_time"].replace("T", " ")[:19], o["appid"], o["mchid"], "0", "",
                             o["transaction_id"], r["out_trade_no"], o["payer"]["openid"], "JSAPI", "REFUND", "OTHERS",
                             "CNY", "0.00", "0.00", r["refund_id"], no, yuan(r["amount"]["refund"]), "0.00",
                             "ORIGINAL", "SUCCESS", o["description"][:20], "", "0.00", "0.60%"])
        lines = [header] + [",".join("`" + v for v in row) for row in rows]
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        lines.append(",".join("`" + v for v in [str(len(rows)), yuan(paid_total), yuan(refund_total), "0.00",
                                                  yuan(round(paid_total * 0.006)), yuan(paid_total), yuan(refund_total)]))
        return "\n".join(lines) + "\n"

    def _control(self, method, path):
        parts = path.strip("/").split("/")
        try:
            if method == "POST" and parts[1] == "pay" and len(parts) == 3:
                return 200, self.pay(parts[2], wait=False), False
            if method == "POST" and parts[1] == "refunds" and len(parts) == 4:
                return 200, self.finish_refund(parts[2], parts[3].upper(), wait=False), False
            if method == "POST" and parts[1] == "transfers" and len(parts) == 4:
                return 200, self.finish_transfer(parts[2], parts[3] == "confirm", wait=False), False
            if method == "GET" and parts[1] == "state":
                return 200, {"orders": self.orders, "refunds": self.refunds, "transfers": self.transfers,
                             "messages": self.messages, "deliveries": self.deliveries[-50:]}, False
        except KeyError as exc:
            raise SandboxError(404, "NOT_FOUND", f"unknown {exc}") from exc
        raise SandboxError(404, "NOT_FOUND", path)


class _Handler(BaseHTTPRequestHandler):
    box: WeChatSandbox

    def log_message(self, *args):  # quiet
        pass

    def _serve(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, payload, signed = self.box.handle(method, self.path, dict(self.headers), body)
        except SandboxError as exc:
            status, payload, signed = exc.status, {"code": exc.code, "message": exc.message}, False
        if payload is None:
            text = ""
            content_type = None
        elif isinstance(payload, str):
            text, content_type = payload, "text/plain; charset=utf-8"
        else:
            text, content_type = json.dumps(payload, ensure_ascii=False), "application/json"
        data = text.encode()
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if signed:
            for name, value in self.box.signed_headers(text).items():
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")
