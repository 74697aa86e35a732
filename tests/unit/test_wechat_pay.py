"""WeChat Pay APIv3 formats, checked against the documented messages with `cryptography`
directly (not through our own message builders), and the verifier's typed errors."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from layers.wechat import paycrypto
from layers.wechat.pay_notify import (
    BadSignature,
    DecryptFailed,
    MissingHeaders,
    NotificationVerifier,
    SignatureProbe,
    StaleTimestamp,
    UnknownSerial,
    WeChatPayKeys,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PLATFORM = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APIV3 = "0123456789abcdef0123456789ABCDEF"


def rsa_verify(public_key, message: str, signature: str) -> None:
    public_key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_authorization_header_signs_the_documented_message():
    header = paycrypto.authorization_header("1900000109", "SERIAL01", KEY, "POST", "/v3/pay/transactions/jsapi",
                                            '{"a":1}', timestamp=1554208460, nonce_="593BEC0C930BF1AFEB40B4A08C8FB242")
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    fields = paycrypto.parse_authorization(header)
    assert fields["mchid"] == "1900000109" and fields["serial_no"] == "SERIAL01"
    documented = 'POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"a":1}\n'
    rsa_verify(KEY.public_key(), documented, fields["signature"])


def test_pay_sign_covers_appid_timestamp_nonce_package():
    params = paycrypto.jsapi_payment_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100", KEY,
                                            timestamp=1414561699, nonce_="5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100" and params["signType"] == "RSA"
    rsa_verify(KEY.public_key(), "wxd678efh567hg6787\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
               "prepay_id=wx201410272009395522657a690389285100\n", params["paySign"])


def notification(resource: dict, ts=None, key=PLATFORM, serial="PUB_KEY_ID_TEST"):
    nonce = "fdasflkja484w"
    ciphertext = base64.b64encode(AESGCM(APIV3.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(),
                                                                  b"transaction")).decode()
    body = json.dumps({"id": "EV-1", "create_time": "2026-11-22T10:00:00+08:00", "resource_type": "encrypt-resource",
                       "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                       "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                    "ciphertext": ciphertext, "associated_data": "transaction", "nonce": nonce}})
    ts = str(ts or int(time.time()))
    signature = base64.b64encode(key.sign(f"{ts}\nNONCE1\n{body}\n".encode(), padding.PKCS1v15(),
                                          hashes.SHA256())).decode()
    return {"wechatpay-timestamp": ts, "WECHATPAY-NONCE": "NONCE1", "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial}, body


def verifier(clock=time.time):
    pem = PLATFORM.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return NotificationVerifier(WeChatPayKeys("PUB_KEY_ID_TEST", pem), APIV3, clock=clock)


def test_a_genuine_notification_decrypts_whatever_the_header_case():
    headers, body = notification({"out_trade_no": "o1", "amount": {"total": 100}})
    n = verifier().verify(headers, body.encode())
    assert n.event_type == "TRANSACTION.SUCCESS" and n.resource["out_trade_no"] == "o1"


@pytest.mark.parametrize("case,error", [
    ("probe", SignatureProbe), ("missing", MissingHeaders), ("stale", StaleTimestamp), ("future", StaleTimestamp),
    ("serial", UnknownSerial), ("forged", BadSignature), ("tampered", BadSignature), ("wrong key", DecryptFailed),
])
def test_what_does_not_verify_is_a_typed_error(case, error):
    now = time.time()
    headers, body = notification({"out_trade_no": "o1"})
    v = verifier(clock=lambda: now)
    if case == "probe":
        headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    elif case == "missing":
        del headers["WECHATPAY-NONCE"]
    elif case in ("stale", "future"):
        headers, body = notification({"out_trade_no": "o1"}, ts=int(now) + (301 if case == "future" else -301))
    elif case == "serial":
        headers["Wechatpay-Serial"] = "PUB_KEY_ID_OTHER"
    elif case == "forged":
        headers, body = notification({"out_trade_no": "o1"}, key=KEY)
    elif case == "tampered":
        body = body.replace("EV-1", "EV-2")
    elif case == "wrong key":
        v = NotificationVerifier(v.keys, "X" * 32, clock=lambda: now)
    with pytest.raises(error):
        v.verify(headers, body)


def test_fit_utf8_cuts_on_a_character_boundary_within_the_bytes():
    from layers.wechat.pay_client import fit_utf8

    assert fit_utf8("退" * 27, 80) == "退" * 26              # 81 bytes -> 78, never half a character
    assert fit_utf8("ab退款", 4) == "ab"
    assert fit_utf8("short", 80) == "short"
    assert fit_utf8("🎂蛋糕", 127, bmp_only=True) == "蛋糕"
    assert len(fit_utf8("x" + "商" * 50, 127).encode()) == 127
