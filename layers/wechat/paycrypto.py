"""WeChat Pay APIv3 cryptography: RSA-SHA256 signatures, AEAD_AES_256_GCM, and the
exact messages WeChat Pay signs. Pure functions, no I/O.

Why ours and not the `wechatpayv3` package: it never checks the timestamp window,
downloads certificates whenever an inbound request names an unknown serial (anyone can
make us call WeChat), and answers None alike for a bad signature, a wrong key or a
missing field. These few functions over `cryptography` are all APIv3 needs; the checks
that matter (freshness, merchant, amount) stay visible in our own code.
"""

from __future__ import annotations

import base64
import re
import secrets
import time

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The merchant's own key, from the stage's secret store. OpenSSL's RSA key check costs
    35 ms of every cold start that signs and guards against keys from untrusted
    hands, which this is not; a damaged key would only make WeChat answer SIGN_ERROR."""
    return serialization.load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """A `PUBLIC KEY` PEM (WeChat Pay public key) or a certificate PEM (platform certificate)."""
    data = pem.encode()
    if b"CERTIFICATE" in data:
        # here: 25 ms of imports that only certificate mode needs
        from cryptography import x509

        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def nonce(length: int = 32) -> str:
    return secrets.token_hex(length // 2).upper()


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def aead_decrypt(apiv3_key: str, nonce_: str, associated_data: str, ciphertext_b64: str) -> bytes:
    """Raises cryptography's InvalidTag (or ValueError) when it is not ours."""
    return AESGCM(apiv3_key.encode()).decrypt(
        nonce_.encode(), base64.b64decode(ciphertext_b64), (associated_data or "").encode())


def aead_encrypt(apiv3_key: str, nonce_: str, associated_data: str, plaintext: bytes) -> str:
    return base64.b64encode(
        AESGCM(apiv3_key.encode()).encrypt(nonce_.encode(), plaintext, (associated_data or "").encode())
    ).decode()


def request_message(method: str, path_with_query: str, timestamp: int, nonce_: str, body: str) -> str:
    return f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce_}\n{body}\n"


def response_message(timestamp: str | int, nonce_: str, body: str) -> str:
    """What WeChat Pay signs in a response or a notification."""
    return f"{timestamp}\n{nonce_}\n{body}\n"


def authorization_header(mchid: str, serial_no: str, private_key: rsa.RSAPrivateKey, method: str,
                         path_with_query: str, body: str, timestamp: int | None = None,
                         nonce_: str | None = None) -> str:
    timestamp = int(timestamp if timestamp is not None else time.time())
    nonce_ = nonce_ or nonce()
    signature = sign(private_key, request_message(method, path_with_query, timestamp, nonce_, body))
    return (f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial_no}"')


_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_authorization(header: str) -> dict:
    """The fields of an Authorization header (for the sandbox, which verifies ours)."""
    schema, _, rest = (header or "").partition(" ")
    if schema != SCHEMA:
        raise ValueError("not a WECHATPAY2-SHA256-RSA2048 authorization")
    return dict(_PARAM.findall(rest))


def jsapi_payment_params(appid: str, prepay_id: str, private_key: rsa.RSAPrivateKey,
                         timestamp: int | None = None, nonce_: str | None = None) -> dict:
    """Exactly the arguments of wx.requestPayment, paySign over appid, timeStamp,
    nonceStr and package, each followed by a newline."""
    ts = str(int(timestamp if timestamp is not None else time.time()))
    nonce_ = nonce_ or nonce()
    package = f"prepay_id={prepay_id}"
    return {"timeStamp": ts, "nonceStr": nonce_, "package": package, "signType": "RSA",
            "paySign": sign(private_key, f"{appid}\n{ts}\n{nonce_}\n{package}\n")}


__all__ = [
    "InvalidTag", "aead_decrypt", "aead_encrypt", "authorization_header", "jsapi_payment_params",
    "load_private_key", "load_public_key", "nonce", "parse_authorization", "request_message",
    "response_message", "sign", "verify",
]


def encrypt_sensitive(public_key: rsa.RSAPublicKey, text: str) -> str:
    """A sensitive field (user_name, bank account) as APIv3 wants it: RSA-OAEP with SHA-1
    (WeChat Pay's documented padding) under WeChat Pay's public key, base64."""
    cipher = public_key.encrypt(text.encode(), padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                             algorithm=hashes.SHA1(), label=None))
    return base64.b64encode(cipher).decode()
