"""Shoppers: a user per openid (one shop = one appid).

The user id is derived from the openid, so a first login racing with itself creates
one user, not two, and login needs no index lookup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class User:
    user_id: str
    openid: str
    unionid: str | None
    created_at: str
    last_login_at: str
    token_version: int = 0  # raised to revoke every token issued before


def user_id_for(openid: str) -> str:
    return "u_" + hashlib.sha256(openid.encode()).hexdigest()[:24]


class UserRepository(Protocol):
    def upsert_user(self, openid: str, unionid: str | None, now: str) -> User:
        """Create on first login, refresh `last_login_at` (and unionid) afterwards; one
        write, so two first logins at once make one user."""

    def get_user(self, user_id: str) -> User | None: ...

    def token_version(self, user_id: str) -> int:
        """The user's current token version (0 for a user never stored)."""

    def revoke_tokens(self, user_id: str) -> int:
        """Raise the user's token version by one (one atomic update); the new version."""
