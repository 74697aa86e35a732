"""Shopper tokens and the operators' key.

A shopper token is `<user_id>.<expiry epoch>.<HMAC-SHA256>` signed with TOKEN_SECRET:
stateless, so verifying it costs no table read. It is not a JWT because nothing but
this service reads it and a JWT library would add a dependency for one HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from layers.config import settings
from layers.domain import errors

TOKEN_TTL_S = 7 * 24 * 3600


def _secret() -> bytes:
    secret = settings().token_secret
    if not secret:
        raise RuntimeError("TOKEN_SECRET is not configured")
    return secret.encode()


def _mac(payload: str) -> str:
    digest = hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_shopper_token(user_id: str, now: float | None = None) -> tuple[str, int]:
    expires = int((now or time.time()) + TOKEN_TTL_S)
    payload = f"{user_id}.{expires}"
    return f"{payload}.{_mac(payload)}", TOKEN_TTL_S


def verify_shopper_token(token: str, now: float | None = None) -> str:
    try:
        user_id, expires, mac = token.rsplit(".", 2)
        expiry = int(expires)
    except ValueError as exc:
        raise errors.Unauthorized("malformed token") from exc
    if not hmac.compare_digest(mac, _mac(f"{user_id}.{expires}")):
        raise errors.Unauthorized("invalid token")
    if expiry < (now or time.time()):
        raise errors.Unauthorized("token expired")
    return user_id


def verify_admin_key(key: str) -> None:
    expected = settings().admin_api_key
    if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
        raise errors.Unauthorized("invalid admin key")
