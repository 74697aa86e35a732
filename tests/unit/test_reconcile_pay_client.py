"""WeChatPayClient.trade_bill against WeChat Pay as documented (申请交易账单, 下载账单):
a signed JSON answer with `hash_type`/`hash_value`/`download_url`, then the file itself,
unsigned, `text/plain` without a charset. The hash is over the bytes served."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import date
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from layers.domain import reconcile as rules
from layers.wechat import paycrypto
from layers.wechat.pay_client import WeChatPayClient, WeChatPayError, WeChatPayUnavailable
from layers.wechat.pay_notify import WeChatPayKeys
from tests.unit.test_reconcile_rules import bill, payment

MERCHANT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WECHAT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
DOWNLOAD = "https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2"


def _response(status: int, content: bytes, headers: dict) -> requests.Response:
    r = requests.Response()
    r.status_code, r._content, r.headers = status, content, requests.structures.CaseInsensitiveDict(headers)
    r.encoding = requests.utils.get_encoding_from_headers(r.headers)  # as requests' adapter does
    return r


def signed_json(status: int, payload: dict) -> requests.Response:
    text = json.dumps(payload)
    ts, nonce = str(int(time.time())), "NONCE42"
    signature = base64.b64encode(WECHAT.sign(paycrypto.response_message(ts, nonce, text).encode(),
                                             padding.PKCS1v15(), hashes.SHA256())).decode()
    return _response(status, text.encode(), {
        "Content-Type": "application/json", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature, "Wechatpay-Serial": "PUB_KEY_ID_0114"})


class Session:
    """WeChat Pay's two endpoints; records what was asked."""

    def __init__(self, data: bytes, hash_value: str | None = None, apply=None):
        self.data, self.hash_value, self.apply, self.calls = data, hash_value, apply, []

    def request(self, method, url, data=None, headers=None, timeout=None):
        self.calls.append((method, url, headers))
        if url.startswith("https://api.mch.weixin.qq.com/v3/bill/tradebill"):
            if self.apply is not None:  # (a Response is falsy when not 2xx)
                return self.apply
            return signed_json(200, {
                "hash_type": "SHA1", "download_url": DOWNLOAD,
                "hash_value": self.hash_value or hashlib.sha1(self.data).hexdigest()})
        assert url == DOWNLOAD
        return _response(200, self.data, {"Content-Type": "text/plain"})  # no charset, no signature


def client(session) -> WeChatPayClient:
    merchant_pem = MERCHANT.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
    wechat_pem = WECHAT.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return WeChatPayClient("1900000109", "wxapp", "MERCHANTSERIAL", merchant_pem, "0123456789abcdef0123456789ABCDEF",
                           "https://api.mch.weixin.qq.com", WeChatPayKeys("PUB_KEY_ID_0114", wechat_pem),
                           session=session)


DATA = bill(payment("oa1", "4200001", "19.90", name="山茶花,洁面套装"))


def test_the_bill_is_the_bytes_served_checked_against_their_hash():
    session = Session(DATA)
    got = client(session).trade_bill(date(2026, 11, 22))
    assert got == DATA  # not requests' ISO-8859-1 reading of a charset-less text/plain
    assert rules.parse_trade_bill(got).payments == [rules.BillPayment("oa1", "4200001", 1990, 1990, 0)]
    (_, apply_url, _), (_, download_url, headers) = session.calls
    assert urlsplit(apply_url).query == "bill_date=2026-11-22&bill_type=ALL"
    # The download is signed like any request, over its path and query.
    fields = paycrypto.parse_authorization(headers["Authorization"])
    message = f"GET\n{urlsplit(DOWNLOAD).path}?{urlsplit(DOWNLOAD).query}\n{fields['timestamp']}\n" \
              f"{fields['nonce_str']}\n\n"
    MERCHANT.public_key().verify(base64.b64decode(fields["signature"]), message.encode(), padding.PKCS1v15(),
                                 hashes.SHA256())


def test_a_bill_that_does_not_match_its_hash_is_refused():
    with pytest.raises(WeChatPayError) as refused:
        client(Session(DATA, hash_value=hashlib.sha1(DATA + b"x").hexdigest())).trade_bill(date(2026, 11, 22))
    assert refused.value.code == "BILL_HASH_MISMATCH"


@pytest.mark.parametrize("code", ["NO_STATEMENT_EXIST", "STATEMENT_CREATING"])
def test_no_bill_is_wechats_error_code(code):
    session = Session(DATA, apply=signed_json(400, {"code": code, "message": "请求的账单文件不存在"}))
    with pytest.raises(WeChatPayError) as answered:
        client(session).trade_bill(date(2026, 11, 22))
    assert answered.value.code == code and len(session.calls) == 1


def test_a_download_that_fails_is_unknown_not_a_bill():
    session = Session(DATA)
    original = session.request

    def broken(method, url, **kwargs):
        if url == DOWNLOAD:
            raise requests.ConnectionError("reset")
        return original(method, url, **kwargs)

    session.request = broken
    with pytest.raises(WeChatPayUnavailable):
        client(session).trade_bill(date(2026, 11, 22))
