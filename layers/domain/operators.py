"""Operators of the merchant console (issue 21): who may sign in, with which role, and the
audit log of the money actions they take.

Passwords are hashed with scrypt (`hashlib.scrypt`, RFC 7914): memory-hard like argon2id,
in the standard library (OpenSSL), so no native package joins the Lambda zip. Parameters
n=2**14, r=8, p=1 take 16 MiB and ~50 ms per hash: cheap for one sign-in, dear for a
guesser; they are stored with each hash so they can be raised later.

The `ADMIN_API_KEY` is the first owner's key: the console accepts it as the password of
the reserved name `owner` (so a fresh shop can sign in and create its operators).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"


# What only an owner may do (the contract: settings, operators and payouts).
# issue 21: "member_books", an adjustment of a balance or points (a money action).
OWNER_ONLY = frozenset({"settings", "operators", "payouts", "member_books"})
BUILTIN_OWNER = "owner"

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024

# Failed sign-ins per name per window; past it, every sign-in of that name is refused
# (the right password too) until the window ends.
SIGN_IN_LIMIT = 5
SIGN_IN_WINDOW_S = 300


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role
    password_hash: str
    created_at: str
    created_by: str
    # A disabled operator cannot sign in, and their open sessions stop working.
    disabled: bool = False
    # Raised by every disable/enable and password reset: a session issued at another
    # epoch is no longer honoured (its revocation is the same write).
    epoch: int = 0


@dataclass(frozen=True)
class StoredSession:
    """A console session, kept server-side so that signing out (or the owner) ends it."""

    name: str
    sid: str
    role: str
    epoch: int
    expires_at: int  # epoch seconds


@dataclass(frozen=True)
class AuditEntry:
    at: str
    operator: str
    action: str  # refund.approve | payout.mark_paid | balance.adjust | ...
    target: str
    amount: int | None = None
    detail: str | None = None
    # A money action's line is written before the action (PENDING) and finished after it
    # (DONE, or REFUSED and the code): a PENDING line is an action whose end nobody saw.
    # None: a line written after the action (product edits, operators).
    outcome: str | None = None


PENDING = "PENDING"
DONE = "DONE"


def refused(code: str) -> str:
    return f"REFUSED {code}"


def hash_password(password: str, salt: bytes | None = None,
                  n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_operator(name: str, password: str, role: str, by: str, now: str) -> Operator:
    name = (name or "").strip()
    if not 2 <= len(name) <= 32 or not all(c.isalnum() or c in "_-." for c in name):
        raise errors.InvalidRequest("name: 2 to 32 letters, digits, '_', '-' or '.'")
    if name == BUILTIN_OWNER:
        raise errors.InvalidRequest("the name 'owner' is reserved for the ADMIN_API_KEY")
    check_password(password)
    try:
        parsed = Role(role)
    except ValueError as exc:
        raise errors.InvalidRequest("role: owner or operator") from exc
    return Operator(name=name, role=parsed, password_hash=hash_password(password), created_at=now, created_by=by)


def check_password(password: str) -> str:
    if not 8 <= len(password or "") <= 128:
        raise errors.InvalidRequest("password: 8 to 128 characters")
    return password


def require(role: str, area: str) -> None:
    """Refuse an operator (not owner) the owner-only areas."""
    if area in OWNER_ONLY and role != Role.OWNER:
        raise errors.Forbidden("only an owner may do this")


class OperatorRepository(Protocol):
    def get(self, name: str) -> Operator | None: ...

    def create(self, operator: Operator) -> bool:
        """False when the name is taken."""

    def list(self) -> list[Operator]: ...

    def sign_in_failures(self, name: str, window: int) -> int:
        """The failed sign-ins counted for `name` in `window`."""

    def record_sign_in_failure(self, name: str, window: int, expires_at: int) -> None: ...

    def update(self, name: str, *, disabled: bool | None = None, password_hash: str | None = None) -> bool:
        """Change an operator and raise its `epoch` in the same conditioned write (its
        sessions end); False when there is no such operator."""

    def create_session(self, session: StoredSession) -> None: ...

    def get_session(self, name: str, sid: str) -> StoredSession | None: ...

    def delete_session(self, name: str, sid: str) -> None: ...

    def audit(self, entry: AuditEntry) -> str:
        """Writes the entry; answers its id (for `finish_audit`)."""

    def finish_audit(self, entry_id: str, outcome: str, amount: int | None, detail: str | None) -> None:
        """Finishes a line `audit` wrote; LookupError when there is none."""

    def audit_log(self, day: str, limit: int) -> list[AuditEntry]:
        """The entries of an Asia/Shanghai day (YYYY-MM-DD), newest first."""
