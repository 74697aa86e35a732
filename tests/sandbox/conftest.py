"""The sandbox tested on its own, over HTTP, with a small signed client: the rules are
WeChat Pay's (see sandbox/pay.py), not our application's."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from layers.wechat import paycrypto


class Pay:
    """Signs requests as a merchant does; checks answers' signatures by the key they name."""

    def __init__(self, box):
        self.box = box
        self.serial_header: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
             timeout: float = 5) -> requests.Response:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        k = self.box.keys
        h = {"Authorization": paycrypto.authorization_header(k.mchid, k.merchant_serial, k.merchant_key, method,
                                                             path, text),
             "Accept": "application/json", "Content-Type": "application/json"}
        if self.serial_header:
            h["Wechatpay-Serial"] = self.serial_header
        h.update(headers or {})
        return requests.request(method, self.box.base_url + path, data=text.encode() if body is not None else None,
                                headers=h, timeout=timeout)

    def signer_of(self, response: requests.Response) -> str | None:
        """'public_key' or 'certificate' if the answer's signature verifies, else None."""
        return signer_of(self.box, response.headers, response.content)

    def encrypt(self, text: str, with_certificate: bool = False) -> str:
        if with_certificate:
            key = self.box.keys.certificates[-1].key.public_key()
        else:
            key = self.box.keys.platform_key.public_key()
        return base64.b64encode(key.encrypt(text.encode(), padding.OAEP(
            mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))).decode()


def signer_of(box, headers, body: bytes | str) -> str | None:
    text = body.decode() if isinstance(body, bytes) else body
    serial = headers.get("Wechatpay-Serial")
    if serial == box.keys.public_key_id:
        key, kind = box.keys.platform_key.public_key(), "public_key"
    else:
        cert = next((c for c in box.keys.certificates if c.serial == serial), None)
        if cert is None:
            return None
        key, kind = cert.key.public_key(), "certificate"
    message = paycrypto.response_message(headers.get("Wechatpay-Timestamp", ""), headers.get("Wechatpay-Nonce", ""),
                                         text)
    return kind if paycrypto.verify(key, message, headers.get("Wechatpay-Signature", "")) else None


@pytest.fixture(scope="module")
def box():
    from sandbox.server import WeChatSandbox

    b = WeChatSandbox(notify_attempts=1, notify_delay_s=0)
    b.start()
    yield b
    b.stop()


@pytest.fixture
def pay(box):
    box.reset_switches()
    box.sign_mode = "public_key"
    yield Pay(box)
    box.reset_switches()
