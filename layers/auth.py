"""Shopper tokens, paging cursors' keys and the operators' key.

A shopper token is `<stage>.<user_id>.<token version>.<expiry epoch>.<HMAC-SHA256>`:
stateless to check (no table read for the signature), bound to the stage that issued
it (a dev token is refused by prod even if both shared a secret), and revocable: it
carries the user's token version, which `functions._api.shopper_id` compares with the
user's current one (raising it revokes every token issued before). It is not a JWT
because nothing but this service reads it and a JWT library would add a dependency for
one HMAC.

Tokens and cursors are signed with different keys derived from TOKEN_SECRET
(HMAC(secret, purpose)): a signed cursor can never pass for a token, or the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache

from layers.config import settings
from layers.domain import errors

TOKEN_TTL_S = 7 * 24 * 3600
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@lru_cache(maxsize=8)
def _derived(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"wechat-shop/{purpose}".encode(), hashlib.sha256).digest()


def derived_key(purpose: str) -> bytes:
    """The key for one purpose ("token", "cursor"), derived from TOKEN_SECRET."""
    secret = settings().token_secret
    if not secret:
        raise RuntimeError("TOKEN_SECRET is not configured")
    return _derived(secret, purpose)


def _mac(payload: str) -> str:
    digest = hmac.new(derived_key("token"), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    version: int


def issue_shopper_token(user_id: str, version: int = 0, now: float | None = None) -> tuple[str, int]:
    expires = int((now or time.time()) + TOKEN_TTL_S)
    payload = f"{settings().stage}.{user_id}.{int(version)}.{expires}"
    return f"{payload}.{_mac(payload)}", TOKEN_TTL_S


def verify_shopper_token(token: str, now: float | None = None) -> TokenClaims:
    """The token's claims once its signature, stage and expiry hold; 401 otherwise. The
    caller checks `version` against the user's current token version."""
    if len(token) > 512 or not set(token) <= _TOKEN_CHARS:
        raise errors.Unauthorized("malformed token")
    try:
        stage, user_id, version, expires, mac = token.split(".")
        expiry, tv = int(expires), int(version)
    except ValueError as exc:
        raise errors.Unauthorized("malformed token") from exc
    if not hmac.compare_digest(mac.encode(), _mac(f"{stage}.{user_id}.{version}.{expires}").encode()):
        raise errors.Unauthorized("invalid token")
    if stage != settings().stage:
        raise errors.Unauthorized("token from another stage")
    if expiry < (now or time.time()):
        raise errors.Unauthorized("token expired")
    return TokenClaims(user_id=user_id, version=tv)


def verify_admin_key(key: str) -> None:
    expected = settings().admin_api_key
    if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
        raise errors.Unauthorized("invalid admin key")
