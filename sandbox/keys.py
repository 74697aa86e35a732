"""The sandbox's own keys: a merchant key pair (the app signs with its private half), a
WeChat Pay platform key with a public key id, and self-signed platform certificates.
Generated at start; never written to the repository."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000SANDBOX"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class PlatformCertificate:
    serial: str
    key: rsa.RSAPrivateKey
    pem: str
    not_before: datetime
    not_after: datetime


def new_certificate(days: int = 365) -> PlatformCertificate:
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA sandbox")])
    now = datetime.now(UTC)
    serial = x509.random_serial_number()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    return PlatformCertificate(serial=format(serial, "X"), key=key,
                               pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                               not_before=now, not_after=now + timedelta(days=days))


@dataclass
class SandboxKeys:
    mchid: str = "1900000109"
    appid: str = "wxsandboxappid0001"
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    apiv3_key: str = field(default_factory=lambda: "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))
    merchant_key: rsa.RSAPrivateKey = field(default_factory=new_key)
    merchant_serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    platform_key: rsa.RSAPrivateKey = field(default_factory=new_key)
    public_key_id: str = PUBLIC_KEY_ID
    certificates: list[PlatformCertificate] = field(default_factory=lambda: [new_certificate()])
