"""Settlement batches and payouts: their statuses and transitions, pure.

One batch per Beijing day (`B<YYYYMMDD>`); the mode (auto | manual) chosen when the
day's batch opens holds for all its runs. One payout per distributor per batch: its id
is derived from (batch, distributor) and is WeChat's `out_bill_no`, so every call about
it, first or retried, names the same transfer and a transfer is never made twice.

    CLAIMING --commissions moved in--> READY (auto) | AWAITING_MANUAL (manual)
    READY | TRANSFERRING --transfer sent--> TRANSFERRING   (outcome unknown until answered)
    TRANSFERRING | WAIT_USER_CONFIRM --WeChat: accepted, waiting--> WAIT_USER_CONFIRM
    (not final) --WeChat: SUCCESS / operator: paid--> SUCCESS | PAID_MANUALLY
    (not final) --WeChat: FAIL, CANCELLED / refused / no openid--> FAIL

Each write is conditioned on the status and version it was decided from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from layers.domain import errors

BEIJING = timezone(timedelta(hours=8))


class PayoutStatus(StrEnum):
    CLAIMING = "CLAIMING"
    READY = "READY"
    TRANSFERRING = "TRANSFERRING"
    WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    AWAITING_MANUAL = "AWAITING_MANUAL"
    PAID_MANUALLY = "PAID_MANUALLY"


CLAIMING = PayoutStatus.CLAIMING
READY = PayoutStatus.READY
TRANSFERRING = PayoutStatus.TRANSFERRING
WAIT_USER_CONFIRM = PayoutStatus.WAIT_USER_CONFIRM
SUCCESS = PayoutStatus.SUCCESS
FAIL = PayoutStatus.FAIL
AWAITING_MANUAL = PayoutStatus.AWAITING_MANUAL
PAID_MANUALLY = PayoutStatus.PAID_MANUALLY
FINAL = (SUCCESS, FAIL, PAID_MANUALLY)
MANUAL = "manual"

# What WeChat says of a transfer, by `state`.
SUCCEEDED, FAILED, WAITING = "SUCCEEDED", "FAILED", "WAITING"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    day: str  # Beijing date, YYYY-MM-DD
    mode: str  # auto | manual
    created_at: str
    runs: int = 0
    last_run: dict | None = None


@dataclass(frozen=True)
class Payout:
    payout_id: str  # = out_bill_no
    batch_id: str
    distributor_id: str
    mode: str
    status: str
    amount: int
    created_at: str
    updated_at: str
    commission_ids: tuple[str, ...] = ()  # the commissions and adjustments it pays
    package_info: str | None = None
    transfer_bill_no: str | None = None
    wechat_state: str | None = None
    fail_reason: str | None = None
    version: int = 0

    @property
    def commission_count(self) -> int:
        return len(self.commission_ids)

    @property
    def final(self) -> bool:
        return self.status in FINAL


class PayoutRepository(Protocol):
    def get_batch(self, batch_id: str) -> Batch | None: ...

    def create_batch(self, batch: Batch) -> bool:
        """False if the batch already exists."""

    def record_run(self, batch_id: str, summary: dict) -> None: ...

    def list_batches(self, limit: int, cursor: dict | None) -> tuple[list[Batch], dict | None]: ...

    def batch_payout_ids(self, batch_id: str) -> list[str]: ...

    def get(self, payout_id: str) -> Payout | None:
        """Read consistently."""

    def get_many(self, payout_ids: list[str]) -> list[Payout]: ...

    def list_for_user(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[Payout], dict | None]: ...

    def open(self, limit: int) -> list[Payout]:
        """Payouts not final (eventually consistent: re-read before acting)."""

    def stage_create(self, tx, payout: Payout, on_exists) -> None:
        """The payout, and its entry in its batch."""

    def stage_change(self, tx, before: Payout, after: Payout, on_stale) -> None:
        """Write `after`, conditioned on the stored payout still having `before`'s status and version."""


# -- ids ------------------------------------------------------------------------------------

def batch_id_for(now: datetime) -> str:
    return "B" + now.astimezone(BEIJING).strftime("%Y%m%d")


def batch_day(now: datetime) -> str:
    return now.astimezone(BEIJING).date().isoformat()


def payout_id_for(batch_id: str, distributor_id: str) -> str:
    """WeChat's out_bill_no: letters and digits, at most 32 characters, stable."""
    return "P" + batch_id[1:] + hashlib.sha256(distributor_id.encode()).hexdigest()[:20]


def open_batch(now: datetime, mode: str, now_iso: str) -> Batch:
    return Batch(batch_id=batch_id_for(now), day=batch_day(now), mode=mode, created_at=now_iso)


# -- transitions ----------------------------------------------------------------------------

def _next(p: Payout, now: str, **changes) -> Payout:
    return replace(p, version=p.version + 1, updated_at=now, **changes)


def start_claim(batch: Batch, distributor_id: str, commission_ids: tuple[str, ...], amount: int,
                now: str) -> Payout:
    return Payout(payout_id=payout_id_for(batch.batch_id, distributor_id), batch_id=batch.batch_id,
                  distributor_id=distributor_id, mode=batch.mode, status=CLAIMING, amount=amount,
                  created_at=now, updated_at=now, commission_ids=commission_ids)


def add_claimed(p: Payout, commission_ids: tuple[str, ...], amount: int, now: str) -> Payout:
    if p.status != CLAIMING:
        raise errors.InvalidState(f"a {p.status} payout takes no more commissions")
    return _next(p, now, amount=p.amount + amount, commission_ids=p.commission_ids + commission_ids)


def claimed(p: Payout, now: str) -> Payout:
    """Every commission is in: ready to pay (auto), or waiting for an operator (manual)."""
    if p.status != CLAIMING:
        raise errors.InvalidState(f"a {p.status} payout is not being claimed")
    return _next(p, now, status=AWAITING_MANUAL if p.mode == MANUAL else READY)


def start_transfer(p: Payout, now: str) -> Payout:
    if p.status not in (READY, TRANSFERRING):
        raise errors.InvalidState(f"a {p.status} payout is not to be transferred")
    return _next(p, now, status=TRANSFERRING)


def outcome(answer: dict) -> str:
    """SUCCEEDED, FAILED, or WAITING (ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING,
    CANCELING: WeChat has it)."""
    state = answer.get("state")
    if state == "SUCCESS":
        return SUCCEEDED
    if state in ("FAIL", "CANCELLED"):
        return FAILED
    return WAITING


def waiting(p: Payout, answer: dict, now: str) -> Payout:
    """WeChat took the transfer; the distributor confirms it in the mini-program."""
    if p.status not in (TRANSFERRING, WAIT_USER_CONFIRM):
        raise errors.InvalidState(f"a {p.status} payout is not waiting for WeChat")
    return _next(p, now, status=WAIT_USER_CONFIRM, wechat_state=answer.get("state") or "UNKNOWN",
                 package_info=answer.get("package_info") or p.package_info,
                 transfer_bill_no=answer.get("transfer_bill_no") or p.transfer_bill_no)


def paid(p: Payout, final: str, answer: dict | None, now: str) -> Payout:
    """The money moved (SUCCESS), or an operator paid it offline (PAID_MANUALLY)."""
    if final not in (SUCCESS, PAID_MANUALLY):
        raise ValueError(f"{final} is not a paid status")
    if p.final:
        raise errors.InvalidState(f"a {p.status} payout is final")
    bill = (answer or {}).get("transfer_bill_no") or p.transfer_bill_no
    return _next(p, now, status=final, transfer_bill_no=bill)


def failed(p: Payout, reason: str, now: str) -> Payout:
    """The money did not move; its commissions go back to SETTLEABLE."""
    if p.final:
        raise errors.InvalidState(f"a {p.status} payout is final")
    return _next(p, now, status=FAIL, fail_reason=reason[:200])


def mark_paid_allowed(p: Payout) -> bool:
    """True to settle it now; False when it already is (PAID_MANUALLY: a repeat is fine)."""
    if p.status == PAID_MANUALLY:
        return False
    if p.status != AWAITING_MANUAL:
        raise errors.InvalidState(f"only an {AWAITING_MANUAL} payout can be marked paid; it is {p.status}")
    return True
