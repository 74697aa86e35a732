"""A WeChat sandbox that speaks WeChat's real protocols, for `make dev` and the tests.

- Mini-program: code2session (any code works, codes starting `invalid` are refused),
  access tokens, subscription messages (43101 for openids that refused).
- WeChat Pay APIv3 (`sandbox/pay.py`, with its rules, their sources and the switches in
  its docstring; trade bills in `sandbox/bill.py`): every request's
  `WECHATPAY2-SHA256-RSA2048` signature is checked against the merchant's public key,
  every answer is signed with the platform key (public-key mode) or the current platform
  certificate (certificate mode), and payment, refund and transfer notifications are
  posted back signed and AES-256-GCM-encrypted, retried until answered 2xx.
- Control endpoints for people and tests: `POST /sandbox/pay/{out_trade_no}` (the
  shopper pays), `POST /sandbox/refunds/{out_refund_no}/{SUCCESS|ABNORMAL|CLOSED}`,
  `POST /sandbox/transfers/{out_bill_no}/{confirm|fail|expire}`,
  `POST /sandbox/authorizations/{out_authorization_no}/confirm`,
  `POST /sandbox/advance/{seconds}`, `GET /sandbox/state`.

State is in memory; nothing here is deployed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sandbox import datacube  # analytics
from sandbox.keys import SandboxKeys, new_certificate, private_pem, public_pem
from sandbox.pay import BEIJING, Answer, PaySandbox, SandboxError

__all__ = ["BEIJING", "SETTINGS_END", "SandboxError", "WeChatSandbox"]

# `python -m sandbox` prints its settings as shell exports, then this line.
SETTINGS_END = "# end of settings"


class _CrowdServer(ThreadingHTTPServer):
    """a listen backlog for a crowd (the default 5 resets connections
    when a flash sale's prepay calls arrive together)."""

    request_queue_size = 1024


class WeChatSandbox(PaySandbox):
    def __init__(self, keys: SandboxKeys | None = None, notify_attempts: int = 5, notify_delay_s: float = 0.2):
        self.keys = keys or SandboxKeys()
        self.notify_attempts = notify_attempts
        self.notify_delay_s = notify_delay_s
        self._init_pay()
        self.messages: list[dict] = []
        self.tokens_issued = 0
        self._refusing: set[str] = set()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.base_url: str | None = None
        # -- the mini-program server API and the message push --
        from sandbox.miniprogram import MiniProgramSandbox

        self.mp = MiniProgramSandbox(self)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._server = _CrowdServer((host, port), Handler)  # a crowd is not dropped
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
        env.update(self.mp.env())  # the message push's token and AES key
        return env

    # -- test and developer controls -------------------------------------------------------
    def refuse_subscriptions(self, openid: str) -> None:
        self._refusing.add(openid)

    def rotate_certificate(self) -> str:
        """A new platform certificate, listed beside the old one and used to sign from now on."""
        cert = new_certificate()
        self.keys.certificates.append(cert)
        return cert.serial

    # -- request handling ------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict, body: bytes) -> tuple[int, dict | str | None, bool]:
        """(status, payload, signed?) for one request."""
        answer = self.answer(method, target, headers, body)
        return answer.status, answer.payload, answer.signed

    def answer(self, method: str, target: str, headers: dict, body: bytes) -> Answer:
        parts = urlsplit(target)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        entry = {"method": method, "path": path, "query": query,
                 "serial": next((v for k, v in headers.items() if k.lower() == "wechatpay-serial"), None)}
        self.requests_log.append(entry)
        if not path.startswith(("/v3/", "/sandbox/")):
            # `fail_next` covers the mini-program APIs too (the pay half checks its own paths).
            fault = self._take_fault(path, {"refuse"})
            if fault is not None:
                return Answer(fault["status"], {"errcode": -1, "errmsg": "system error (injected)"}, False)
        if path.startswith("/sandbox/mp/"):
            return _mini_answer(*self.mp.control(method, path, body))
        if path.startswith("/sandbox/"):
            return Answer(*self._control(method, path))
        if path.startswith("/sns/") or path.startswith("/cgi-bin/") or path.startswith("/wxa/"):
            return _mini_answer(*self._mini_program(method, path, query, body))
        if path.startswith("/datacube/"):  # analytics
            return _mini_answer(*datacube.handle(self, method, path, query, body))
        if path.startswith("/v3/"):
            return self.handle_pay(method, target, path, query, headers, body, entry)
        return Answer(404, {"code": "NOT_FOUND", "message": path}, False)

    def _mini_program(self, method, path, query, body):
        k = self.keys
        if path == "/sns/jscode2session":
            if query.get("appid") != k.appid or query.get("secret") != k.app_secret:
                # 全局返回码 (miniprogram/dev/framework/server-ability/backend-api.html): 40125
                # "invalid appsecret", whatever the code.
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}, False
            code = query.get("js_code", "")
            if not code or code.startswith("invalid"):
                return 200, {"errcode": 40029, "errmsg": "invalid code"}, False
            digest = hashlib.sha256(f"{k.appid}:{code}".encode()).hexdigest()
            return 200, {"openid": "o" + digest[:27], "session_key": secrets.token_urlsafe(16)}, False
        return self.mp.handle(method, path, query, body)  # sandbox/miniprogram.py

    def _control(self, method, path):
        parts = path.strip("/").split("/")
        try:
            if method == "POST" and parts[1] == "pay" and len(parts) == 3:
                return 200, self.pay(parts[2], wait=False), False
            if method == "POST" and parts[1] == "refunds" and len(parts) == 4:
                return 200, self.finish_refund(parts[2], parts[3].upper(), wait=False), False
            if method == "POST" and parts[1] == "transfers" and len(parts) == 4:
                action = {"confirm": self.confirm_transfer, "fail": self.fail_transfer,
                          "expire": self.expire_transfer}.get(parts[3])
                if action:
                    return 200, action(parts[2], wait=False), False
            if method == "POST" and parts[1] == "authorizations" and len(parts) == 4 and parts[3] == "confirm":
                return 200, self.confirm_authorization(parts[2], wait=False), False
            if method == "POST" and parts[1] == "advance" and len(parts) == 3:
                return 200, {"expired": self.advance(float(parts[2]))}, False
            if method == "GET" and parts[1] == "state":
                return 200, {"orders": self.orders, "refunds": self.refunds, "transfers": self.transfers,
                             "authorizations": self.authorizations, "messages": self.messages,
                             "deliveries": self.deliveries[-50:]}, False
        except KeyError as exc:
            raise SandboxError(404, "NOT_FOUND", f"unknown {exc}") from exc
        raise SandboxError(404, "NOT_FOUND", path)


def _mini_answer(status: int, payload, signed: bool) -> Answer:
    """The mini-program half answers tuples; images (getwxacodeunlimit) go out as PNG."""
    return Answer(status, payload, signed, content_type="image/png" if isinstance(payload, bytes) else None)


class _Handler(BaseHTTPRequestHandler):
    box: WeChatSandbox

    def log_message(self, *args):  # quiet
        pass

    def _serve(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            answer = self.box.answer(method, self.path, dict(self.headers), body)
        except SandboxError as exc:
            answer = Answer(exc.status, {"code": exc.code, "message": exc.message}, False)
        if answer.lose:
            # processed, and the answer never arrives: stall (past the client's timeout), then
            # close the connection without a byte
            if answer.stall_s:
                time.sleep(answer.stall_s)
            self.close_connection = True
            return
        payload, content_type = answer.payload, answer.content_type
        if payload is None:
            data = b""
        elif isinstance(payload, bytes):
            data, content_type = payload, content_type or "text/plain"
        elif isinstance(payload, str):
            data, content_type = payload.encode(), content_type or "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(payload, ensure_ascii=False).encode(), "application/json"
        self.send_response(answer.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if answer.signed:
            text = data.decode()
            headers = self.box.signed_headers(text, sign_with=answer.sign_with)
            if answer.corrupt_signature:
                headers["Wechatpay-Signature"] = self.box.signed_headers(
                    text + " ", sign_with=answer.sign_with)["Wechatpay-Signature"]
            for name, value in headers.items():
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")
