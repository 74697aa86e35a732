"""Operators of the merchant console: who may sign in, with which role, and the
audit log of the money actions they take.

Passwords are hashed with scrypt (`hashlib.scrypt`, RFC 7914): memory-hard like argon2id,
in the standard library (OpenSSL), so no native package joins the Lambda zip. Parameters
are OWASP's current minimum for scrypt (Password Storage Cheat Sheet: N=2^17, r=8, p=1):
128 MiB and ~0.5 s per hash here. They are stored with each hash; a hash made at a lower
cost is upgraded when its password next signs in (`needs_rehash`).

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
    # A store's staff (layers/domain/stores.py): signs in to the console and sees only the
    # pages of the one store they are staff of (functions/console/_kit.py `store=True`).
    STORE = "store"


# What only an owner may do (the contract: settings, operators and payouts).
# "member_books", an adjustment of a balance or points (a money action).
# "commission": commission templates (tiers), distributors and managers: who is paid, and
# how much, is an owner's decision (a non-owner cannot make a shopper's pay).
OWNER_ONLY = frozenset({"settings", "operators", "payouts", "member_books", "commission"})
BUILTIN_OWNER = "owner"

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# scrypt needs 128 * r * N bytes (128 MiB at N=2^17) and OpenSSL refuses anything over
# `maxmem` (Python's default is 32 MiB): leave room for the block and its bookkeeping.
_MAXMEM = 256 * 1024 * 1024

# Sign-in attempts are counted before the password is checked, one atomic increment per
# counter, so attempts sent at once cannot all be checked: an attempt is checked only
# if its own count is within every limit. Windows are fixed and short: a lockout ends
# with its window, and an owner can lift it sooner (`OperatorService.unlock`).
SIGN_IN_WINDOW_S = 300
SIGN_IN_LIMIT = 5  # per (name, address): what locks one guesser out of one name
SIGN_IN_ADDRESS_LIMIT = 20  # per address, any names: one address spraying many names
# Per name, any address: guessers spread over many addresses. Only attempts within their
# address's limits count here, so one address cannot lock a name out everywhere (it takes
# SIGN_IN_NAME_LIMIT / SIGN_IN_LIMIT addresses). It can still lock the name for a window,
# so an owner can lift it, and it never applies to the built-in owner (its password is
# the ADMIN_API_KEY: guessing it is hopeless, and a stranger must not keep the owner out).
SIGN_IN_NAME_LIMIT = 20


@dataclass(frozen=True)
class SignInCount:
    """One attempt's place in each of its windows (1 = the first attempt)."""

    pair: int
    address: int


def within_address_limits(count: SignInCount) -> bool:
    return count.pair <= SIGN_IN_LIMIT and count.address <= SIGN_IN_ADDRESS_LIMIT


def counts_per_name(name: str) -> bool:
    return name != BUILTIN_OWNER


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


def needs_rehash(stored: str) -> bool:
    """A hash made at a lower cost than today's (upgraded at its next sign-in)."""
    try:
        _, n, r, p, _, _ = stored.split("$")
        return (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return False


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
        raise errors.InvalidRequest("role: owner, operator or store") from exc
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

    def count_sign_in(self, name: str, address: str, window: int, expires_at: int) -> SignInCount:
        """Counts one attempt in `window` per (name, address) and per address, each by an
        atomic increment; answers the counts after it."""

    def count_name_sign_in(self, name: str, window: int, expires_at: int) -> int:
        """Counts one attempt in `window` per name (atomic increment); answers the count."""

    def forgive_sign_in(self, name: str, address: str, window: int) -> None:
        """Takes back the (name, address) count of an attempt that signed in."""

    def clear_sign_in_locks(self, name: str) -> int:
        """Deletes every counter of `name` (per name and per (name, address), and the
        addresses' own counters of those windows); answers how many were deleted."""

    def set_password_hash(self, name: str, old_hash: str, new_hash: str) -> bool:
        """Replaces `old_hash` by the same password's `new_hash` (a cost upgrade): no epoch
        change, sessions stay; False when the hash changed meanwhile."""

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
