"""Settlement batches and payouts: their statuses and transitions, pure.

One batch per Beijing day (`B<YYYYMMDD>`); the mode (auto | manual) chosen when the
day's batch opens holds for all its runs. One payout per distributor per batch, its id
derived from (batch, distributor), holding the commissions it settles:

    CLAIMING --commissions moved in--> PAYING (auto) | AWAITING_MANUAL (manual)
    PAYING --every part SUCCESS--> SUCCESS         (its commissions SETTLED)
    AWAITING_MANUAL --operator paid offline--> PAID_MANUALLY
    PAYING (amount 0: the debt took all) --commissions settled--> DEDUCTED
    (READY, TRANSFERRING, WAIT_USER_CONFIRM, FAIL: payouts made before parts existed)

While CLAIMING, `amount` is what its commissions earned (the gross); when claimed, the
distributor's commission debt is deducted first (`deducted`, layers/domain/commission_debt.py)
and `amount` is what is paid: gross - deducted, never below 0. A payout of 0 has no
parts and sends nothing to WeChat.

WeChat's merchant transfer takes at most the merchant's per-transfer limit
(`payout_max_fen`) and at least 10 fen, so an auto payout is paid in parts of at most
that limit; a distributor with less than 10 fen waits for the next settlement. In
WeChat's user-confirmation mode a transfer is created when the distributor asks for it,
so each part waits READY until claimed (POST /me/payouts/{id}/claim):

    READY --claimed--> TRANSFERRING               (sent; the outcome unknown until answered)
    TRANSFERRING --WeChat has it--> WAIT_USER_CONFIRM  (the `package` for wx.requestMerchantTransfer)
    TRANSFERRING | WAIT_USER_CONFIRM --WeChat: SUCCESS--> SUCCESS
    TRANSFERRING | WAIT_USER_CONFIRM --WeChat: CANCELLED or FAIL (final)--> READY, next attempt

A part's `out_bill_no` is `<payout_id><part:2><attempt:1>` (letters and digits, at most
32): every call about one attempt, first or retried, names the same transfer; a new
attempt (a new number) only once WeChat has said the last one is final. A part is never
failed for good: its money stays owed (an operator sees the reason) and its
commissions stay SETTLING, so nothing is paid twice and nothing is dropped.

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
    PAYING = "PAYING"
    READY = "READY"
    TRANSFERRING = "TRANSFERRING"
    WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    AWAITING_MANUAL = "AWAITING_MANUAL"
    PAID_MANUALLY = "PAID_MANUALLY"
    DEDUCTED = "DEDUCTED"


CLAIMING = PayoutStatus.CLAIMING
PAYING = PayoutStatus.PAYING
READY = PayoutStatus.READY
TRANSFERRING = PayoutStatus.TRANSFERRING
WAIT_USER_CONFIRM = PayoutStatus.WAIT_USER_CONFIRM
SUCCESS = PayoutStatus.SUCCESS
FAIL = PayoutStatus.FAIL
AWAITING_MANUAL = PayoutStatus.AWAITING_MANUAL
PAID_MANUALLY = PayoutStatus.PAID_MANUALLY
DEDUCTED = PayoutStatus.DEDUCTED
FINAL = (SUCCESS, FAIL, PAID_MANUALLY, DEDUCTED)
MANUAL = "manual"

# What WeChat says of a transfer, by `state`.
SUCCEEDED, FAILED, WAITING = "SUCCEEDED", "FAILED", "WAITING"
MIN_TRANSFER_FEN = 10  # WeChat's merchant transfer: at least 0.1 yuan
NAME_REQUIRED_FEN = 200_000  # from 2000 yuan WeChat wants the payee's name: no part reaches it
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_ATTEMPTS = len(_B36)


@dataclass(frozen=True)
class Part:
    """One transfer of a payout: at most the per-transfer limit."""
    index: int
    amount: int
    status: str = READY
    attempt: int = 0
    package_info: str | None = None
    transfer_bill_no: str | None = None
    wechat_state: str | None = None
    fail_reason: str | None = None
    updated_at: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


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
    parts: tuple[Part, ...] = ()
    deducted: int = 0  # the commission debt taken off it (see the module's docstring)

    @property
    def gross(self) -> int:
        """What its commissions earned, before the debt was deducted."""
        return self.amount + self.deducted

    @property
    def nothing_to_send(self) -> bool:
        """Claimed at 0 (the debt took it all): its commissions are settled without a transfer."""
        return self.status == PAYING and self.amount == 0 and not self.parts

    @property
    def commission_count(self) -> int:
        return len(self.commission_ids)

    @property
    def all_parts_paid(self) -> bool:
        return bool(self.parts) and all(q.status == SUCCESS for q in self.parts)

    def part(self, index: int) -> Part:
        for p in self.parts:
            if p.index == index:
                return p
        raise errors.NotFound("no such payout")

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


def split(amount: int, max_fen: int) -> list[int]:
    """`amount` in as few transfers as the limit allows, as even as possible: each at most
    `max_fen` and at least 10 fen (WeChat's bounds). 100000 at 20000: five of 20000."""
    if amount < MIN_TRANSFER_FEN:
        raise ValueError(f"{amount} fen is below WeChat's smallest transfer")
    if max_fen < 2 * MIN_TRANSFER_FEN:
        raise ValueError("the per-transfer limit must be at least 20 fen")
    n = -(-amount // max_fen)
    base, extra = divmod(amount, n)
    return [base + 1] * extra + [base] * (n - extra)


def claimed(p: Payout, now: str, max_fen: int | None = None, deducted: int = 0) -> Payout:
    """Every commission is in, and `deducted` of the distributor's debt taken off: paid in
    parts (auto), waiting for an operator (manual), or, at 0, nothing to send."""
    if p.status != CLAIMING:
        raise errors.InvalidState(f"a {p.status} payout is not being claimed")
    if not 0 <= deducted <= max(p.amount, 0):
        raise ValueError(f"cannot deduct {deducted} fen from a payout of {p.amount}")
    amount = p.amount - deducted
    if amount == 0:
        return _next(p, now, status=PAYING, amount=0, deducted=deducted)
    if p.mode == MANUAL:
        return _next(p, now, status=AWAITING_MANUAL, amount=amount, deducted=deducted)
    parts = tuple(Part(index=i, amount=a, updated_at=now) for i, a in enumerate(split(amount, max_fen)))
    return _next(p, now, status=PAYING, parts=parts, amount=amount, deducted=deducted)


# -- parts (transfers) -----------------------------------------------------------------------

def part_id(payout_id: str, index: int) -> str:
    """What the distributor sees and claims: the payout and its part."""
    return f"{payout_id}{_B36[index // 36]}{_B36[index % 36]}"


def parse_part_id(value: str) -> tuple[str, int] | None:
    if len(value) < 4 or not value.isalnum():
        return None
    hi, lo = _B36.find(value[-2]), _B36.find(value[-1])
    if hi < 0 or lo < 0:
        return None
    return value[:-2], hi * 36 + lo


def out_bill_no(payout_id: str, part: Part) -> str:
    """WeChat's number for one attempt of one part: letters and digits, at most 32."""
    return part_id(payout_id, part.index) + _B36[part.attempt]


def parse_out_bill_no(value: str) -> tuple[str, int, int] | None:
    """(payout id, part index, attempt) of an out_bill_no, or None if it is not one of ours."""
    parsed = parse_part_id(value[:-1]) if value else None
    attempt = _B36.find(value[-1:]) if value else -1
    if parsed is None or attempt < 0:
        return None
    return parsed[0], parsed[1], attempt


def _with_part(p: Payout, part: Part, now: str) -> Payout:
    # The payout itself becomes SUCCESS only after its commissions are settled (paid()).
    return _next(p, now, parts=tuple(part if q.index == part.index else q for q in p.parts))


def claim_part(p: Payout, index: int, now: str) -> Payout:
    """The distributor asks for a READY part: it is about to be sent to WeChat."""
    if p.status != PAYING:
        raise errors.InvalidState(f"a {p.status} payout cannot be claimed")
    part = p.part(index)
    if part.status != READY:
        raise errors.InvalidState(f"a {part.status} payout cannot be claimed")
    if part.attempt >= MAX_ATTEMPTS:
        raise errors.InvalidState("this payout needs the merchant: too many transfers were not received")
    return _with_part(p, replace(part, status=TRANSFERRING, updated_at=now), now)


def part_waiting(p: Payout, index: int, answer: dict, now: str) -> Payout:
    """WeChat has the transfer: the distributor confirms it with the package."""
    part = p.part(index)
    if part.status not in (TRANSFERRING, WAIT_USER_CONFIRM):
        raise errors.InvalidState(f"a {part.status} payout is not waiting for WeChat")
    return _with_part(p, replace(part, status=WAIT_USER_CONFIRM, updated_at=now,
                                 wechat_state=answer.get("state") or "UNKNOWN",
                                 package_info=answer.get("package_info") or part.package_info,
                                 transfer_bill_no=answer.get("transfer_bill_no") or part.transfer_bill_no), now)


def part_paid(p: Payout, index: int, answer: dict, now: str) -> Payout:
    """The money moved (when every part has, the service settles the payout)."""
    part = p.part(index)
    if part.status == SUCCESS:
        raise errors.InvalidState("this part is already paid")
    return _with_part(p, replace(part, status=SUCCESS, updated_at=now, wechat_state="SUCCESS",
                                 transfer_bill_no=answer.get("transfer_bill_no") or part.transfer_bill_no), now)


def part_returned(p: Payout, index: int, reason: str, now: str, final_at_wechat: bool = True) -> Payout:
    """The attempt ended without money moving (CANCELLED: not confirmed in time, or FAIL):
    READY again, the next claim under the next number. `final_at_wechat` False: WeChat
    never had this number (refused before creating it), so the same number is reused."""
    part = p.part(index)
    if part.status not in (TRANSFERRING, WAIT_USER_CONFIRM):
        raise errors.InvalidState(f"a {part.status} payout is not in flight")
    return _with_part(p, replace(part, status=READY, updated_at=now, package_info=None, wechat_state=None,
                                 attempt=part.attempt + (1 if final_at_wechat else 0),
                                 fail_reason=reason[:200]), now)


def outcome(answer: dict) -> str:
    """SUCCEEDED, FAILED, or WAITING (ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING,
    CANCELING: WeChat has it)."""
    state = answer.get("state")
    if state == "SUCCESS":
        return SUCCEEDED
    if state in ("FAIL", "CANCELLED"):
        return FAILED
    return WAITING


def paid(p: Payout, final: str, answer: dict | None, now: str) -> Payout:
    """The money moved (SUCCESS), an operator paid it offline (PAID_MANUALLY), or there
    was nothing to pay after the debt (DEDUCTED)."""
    if final not in (SUCCESS, PAID_MANUALLY, DEDUCTED):
        raise ValueError(f"{final} is not a paid status")
    if p.final:
        raise errors.InvalidState(f"a {p.status} payout is final")
    if (final == DEDUCTED) != p.nothing_to_send:
        raise errors.InvalidState(f"a payout of {p.amount} fen cannot end {final}")
    bill = (answer or {}).get("transfer_bill_no") or p.transfer_bill_no
    return _next(p, now, status=final, transfer_bill_no=bill)


def mark_paid_allowed(p: Payout) -> bool:
    """True to settle it now; False when it already is (PAID_MANUALLY: a repeat is fine)."""
    if p.status == PAID_MANUALLY:
        return False
    if p.status != AWAITING_MANUAL:
        raise errors.InvalidState(f"only an {AWAITING_MANUAL} payout can be marked paid; it is {p.status}")
    return True
