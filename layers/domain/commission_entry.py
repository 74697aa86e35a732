"""A commission: what one order earns its distributor, and the adjustments refunds take
back after payout. Its statuses and every transition, pure (the amounts themselves are
`layers/domain/commission.py`'s rules).

    (order.paid)      --accrue-->        PENDING       sales +1, pending += amount
    PENDING           --completed-->     PENDING       settleable_at = completed_at + freeze
    PENDING           --freeze over-->   SETTLEABLE
    PENDING|SETTLEABLE --refund-->       same status, amount -= taken (REVERSED at 0 when all refunded);
                                         a refund of lines takes its lines' part (`lines[i].refunded`)
    SETTLING|SETTLED  --refund-->        same status; the taken part becomes a commission debt
                                         (`commission_debt`: a DEBT entry, debt += taken)
    SETTLEABLE        --claimed-->       SETTLING      (into a payout: settlement_id)
    SETTLING          --paid-->          SETTLED
    SETTLING          --payout failed--> SETTLEABLE    (for the next run)

A transition answers a `Change`: the commission after (`rev + 1`), the debt entry it
creates, and the deltas of the distributor's running totals (`Stats`), moved in the same
transaction. The repository writes `after` conditioned on `before`'s status and `rev`.

The distributor's totals, by bucket: PENDING -> `pending`; SETTLEABLE and SETTLING ->
`settleable`; SETTLED -> `settled` (what the commissions earned when paid); everything
taken back adds to `reversed`. What is taken back after payout is also owed: `debt`
(outstanding) until a settlement deducts it (`deducted`, the total taken off payouts).
So pending + settleable + settled + reversed = everything ever accrued + debt + deducted,
and the money paid out is settled - deducted.

A commission is named, within its distributor, by `commission_id`: the order id of a
COMMISSION, `adj:<refund_id>` of an ADJUSTMENT. ADJUSTMENTs (negative, SETTLEABLE) were
how a refund after payout was taken back before debts; those still stored are netted
off by the next settlement as before, and no new one is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from layers.domain import commission as rules
from layers.domain import commission_debt as debts
from layers.domain import errors
from layers.domain.order import Order


class CommissionStatus(StrEnum):
    PENDING = "PENDING"
    SETTLEABLE = "SETTLEABLE"
    SETTLING = "SETTLING"
    SETTLED = "SETTLED"
    REVERSED = "REVERSED"


class CommissionKind(StrEnum):
    COMMISSION = "COMMISSION"
    ADJUSTMENT = "ADJUSTMENT"


PENDING = CommissionStatus.PENDING
SETTLEABLE = CommissionStatus.SETTLEABLE
SETTLING = CommissionStatus.SETTLING
SETTLED = CommissionStatus.SETTLED
REVERSED = CommissionStatus.REVERSED
COMMISSION = CommissionKind.COMMISSION
ADJUSTMENT = CommissionKind.ADJUSTMENT

BUCKET = {PENDING: "pending", SETTLEABLE: "settleable", SETTLING: "settleable",
          SETTLED: "settled", REVERSED: "reversed"}
STATS_FIELDS = ("sales_count", "sales_amount", "pending", "settleable", "settled", "reversed", "debt", "deducted")


@dataclass(frozen=True)
class Commission:
    distributor_id: str
    commission_id: str
    order_id: str
    kind: str
    status: str
    amount: int  # what it earns now (an ADJUSTMENT: < 0)
    created_at: str
    updated_at: str
    refund_id: str | None = None  # ADJUSTMENT: the refund it takes back
    buyer_id: str | None = None
    accrued: int = 0  # at payment
    reversed: int = 0  # taken back before payout
    adjusted: int = 0  # taken back after payout (as debts; before them, as ADJUSTMENTs)
    refunded: int = 0
    refund_ids: frozenset[str] = frozenset()
    paid: int = 0
    base: int = 0  # goods after discount
    sales_base: int = 0  # the base still counted in sales
    counted: int = 0  # 1 while the order counts in sales_count
    lines: tuple[dict, ...] = ()
    tier: dict | None = None
    rev: int = 0  # bumped by every change; each write is conditioned on the one it read
    completed_at: str | None = None
    settleable_at: str | None = None
    settlement_id: str | None = None  # the payout it went into
    settled_at: str | None = None


@dataclass(frozen=True)
class Stats:
    """A distributor's running totals (fen, and a count of orders)."""

    sales_count: int = 0
    sales_amount: int = 0
    pending: int = 0
    settleable: int = 0
    settled: int = 0
    reversed: int = 0
    debt: int = 0  # owed back after refunds of paid commissions, not yet deducted
    deducted: int = 0  # the debt taken off payouts so far


@dataclass(frozen=True)
class Change:
    before: Commission | None  # None: `after` is new
    after: Commission
    stats: dict[str, int] = field(default_factory=dict)  # deltas of the distributor's Stats
    creates: tuple[Commission, ...] = ()  # new items, written with `after`
    debt: debts.DebtEntry | None = None  # a new DEBT entry, written with `after` (once: by its refund)


class CommissionRepository(Protocol):
    def get(self, distributor_id: str, commission_id: str) -> Commission | None:
        """Read consistently."""

    def get_many(self, distributor_id: str, commission_ids: list[str]) -> list[Commission]:
        """Read consistently; missing ones are left out."""

    def due(self, until_iso: str, limit: int) -> list[Commission]:
        """PENDING commissions whose settleable_at <= until (eventually consistent)."""

    def settleable(self, distributor_id: str) -> list[Commission]:
        """The distributor's SETTLEABLE commissions and adjustments (eventually consistent)."""

    def distributors_with_settleable(self) -> list[str]: ...

    def stats(self, distributor_id: str) -> Stats | None:
        """Read consistently."""

    def stats_many(self, distributor_ids: list[str]) -> dict[str, Stats]: ...

    def stage_create(self, tx, commission: Commission, on_exists) -> None: ...

    def stage_change(self, tx, before: Commission, after: Commission, on_stale) -> None:
        """Write `after`, conditioned on the stored one still having `before`'s status and rev."""

    def stage_stats(self, tx, distributor_id: str, deltas: dict[str, int]) -> None:
        """Add `deltas` to the distributor's totals (one write per distributor per transaction)."""

    def stage_debt(self, tx, entry: debts.DebtEntry, on_exists) -> None:
        """Put a DEBT entry unless its refund's is already there (its stats move with
        `stage_stats` in the same transaction)."""

    def stage_deduction(self, tx, entry: debts.DebtEntry, on_short) -> None:
        """Put a DEDUCTION entry unless its payout's is already there, and take it off the
        outstanding debt (debt -= amount, deducted += amount), conditioned on the debt
        covering it (`on_short` otherwise). The distributor's totals are written here:
        the transaction must not also `stage_stats` them."""

    def debt_entries(self, distributor_id: str) -> list[debts.DebtEntry]:
        """The distributor's DEBT and DEDUCTION entries, oldest first (read consistently)."""


def adjustment_id(refund_id: str) -> str:
    return f"adj:{refund_id}"


def add_stats(*deltas: dict[str, int]) -> dict[str, int]:
    """The sum of several changes' deltas, zeros left out."""
    total: dict[str, int] = {}
    for d in deltas:
        for name, value in d.items():
            total[name] = total.get(name, 0) + value
    return {k: v for k, v in total.items() if v}


def _next(c: Commission, now: str, **changes) -> Commission:
    return replace(c, rev=c.rev + 1, updated_at=now, **changes)


def _move(c: Commission, to: str) -> dict[str, int]:
    src, dst = BUCKET[c.status], BUCKET[to]
    return {src: -c.amount, dst: c.amount} if src != dst and c.amount else {}


# -- transitions ----------------------------------------------------------------------------

def accrue(order: Order, tier: rules.Tier, now: str) -> Change | None:
    """The order's commission, PENDING, at the distributor's tier before this order; None
    when the order earns nobody one (not attributed, not paid, or the buyer's own)."""
    did = order.distributor_id
    if not did or not order.paid_at or did == order.user_id:
        return None  # paid_at: paid with WeChat or from the balance (no transaction id)
    lines = rules.order_commission(list(order.items), order.amounts, tier.rate_bps)
    accrued = sum(ln.amount for ln in lines)
    base = sum(ln.base for ln in lines)
    c = Commission(
        distributor_id=did, commission_id=order.order_id, order_id=order.order_id, kind=COMMISSION,
        status=PENDING, amount=accrued, created_at=now, updated_at=now, buyer_id=order.user_id,
        accrued=accrued, paid=int(order.paid_amount or order.amounts["payable"]), base=base,
        sales_base=base, counted=1,
        lines=tuple({"sku_id": ln.sku_id, "base": ln.base, "rate_bps": ln.rate_bps, "amount": ln.amount}
                    for ln in lines),
        tier={"name": tier.name or None, "rate_bps": tier.rate_bps})
    return Change(None, c, add_stats({"sales_count": 1, "sales_amount": base, "pending": accrued}))


def schedule(c: Commission, completed_at: str, freeze_s: int, now: str) -> Change | None:
    """The order was received: the freeze starts. None if there is nothing to schedule."""
    if c.status != PENDING or c.settleable_at:
        return None
    due = _iso(_parse(completed_at) + timedelta(seconds=freeze_s))
    return Change(c, _next(c, now, completed_at=completed_at, settleable_at=due))


def is_due(c: Commission, now: str) -> bool:
    return c.status == PENDING and bool(c.settleable_at) and c.settleable_at <= now


def make_settleable(c: Commission, now: str) -> Change:
    if not is_due(c, now):
        raise errors.InvalidState(f"a {c.status} commission due {c.settleable_at} is not settleable at {now}")
    return Change(c, _next(c, now, status=SETTLEABLE), _move(c, SETTLEABLE))


def reverse(c: Commission, refund_id: str, amount: int, reported_total: int, now: str,
            refund_lines=()) -> Change | None:
    """Take back the refunded part, once per refund: before payout from the commission
    itself; after payout (SETTLING/SETTLED: the money may have left) as a commission debt,
    which the distributor's next settlement deducts first. A refund of order lines (`refund_lines`, the
    `order.refunded` event's `lines`) takes back those lines' commission; one of an amount,
    its proportion. None if this refund was already seen."""
    if refund_id in c.refund_ids:
        return None
    refunded = max(c.refunded + amount, reported_total)
    lines = _lines_refunded(c.lines, refund_lines)
    values, bases = [int(ln.get("amount") or 0) for ln in lines], [int(ln.get("base") or 0) for ln in lines]
    named = [int(ln.get("refunded") or 0) for ln in lines]
    kept = rules.kept_by_lines(values, bases, named, c.paid, refunded) if lines \
        else rules.kept_after_refunds(c.accrued, c.paid, refunded)
    taken = max(0, c.accrued - c.reversed - c.adjusted - kept)
    fully = refunded >= c.paid
    sales_base = rules.kept_by_lines(bases, bases, named, c.paid, refunded) if lines \
        else rules.base_after_refunds(c.base, c.paid, refunded)
    uncount = 1 if fully and c.counted else 0
    stats = {"sales_amount": sales_base - c.sales_base, "sales_count": -uncount}
    changes: dict = {"refunded": refunded, "refund_ids": c.refund_ids | {refund_id},
                     "sales_base": sales_base, "counted": c.counted - uncount, "lines": lines}
    owed: debts.DebtEntry | None = None
    if c.status in (PENDING, SETTLEABLE):
        changes.update(amount=c.amount - taken, reversed=c.reversed + taken)
        if fully and c.amount - taken == 0:
            changes["status"] = REVERSED
        stats = add_stats(stats, {BUCKET[c.status]: -taken, "reversed": taken})
    elif c.status in (SETTLING, SETTLED):
        changes["adjusted"] = c.adjusted + taken
        if taken:
            owed = debts.debt(c.distributor_id, c.order_id, refund_id, taken, now)
            stats = add_stats(stats, {"reversed": taken, "debt": taken})
    # REVERSED: nothing left to take; the refund is still recorded (sales figures, idempotency).
    return Change(c, _next(c, now, **changes), add_stats(stats), debt=owed)


def _lines_refunded(lines: tuple[dict, ...], refund_lines) -> tuple[dict, ...]:
    """The commission's lines with the fen a refund of lines took from each (`refunded`).
    A refund naming a line the commission does not have (one accrued before lines were
    kept) leaves them as they are: it is reversed in proportion, as a refund of an amount."""
    if not refund_lines or any(not 0 <= int(r["line"]) < len(lines) for r in refund_lines):
        return lines
    after = [dict(ln) for ln in lines]
    for r in refund_lines:
        ln = after[int(r["line"])]
        ln["refunded"] = int(ln.get("refunded") or 0) + int(r["amount"])
    return tuple(after)


def claim(c: Commission, payout_id: str, now: str) -> Change:
    """Into a payout. SETTLEABLE and SETTLING share a bucket: the totals do not move."""
    if c.status != SETTLEABLE:
        raise errors.InvalidState(f"a {c.status} commission cannot be claimed")
    return Change(c, _next(c, now, status=SETTLING, settlement_id=payout_id))


def settle(c: Commission, now: str) -> Change:
    """Its payout was paid."""
    if c.status != SETTLING:
        raise errors.InvalidState(f"a {c.status} commission cannot be settled")
    return Change(c, _next(c, now, status=SETTLED, settled_at=now), _move(c, SETTLED))


def give_back(c: Commission, now: str) -> Change:
    """Its payout failed: SETTLEABLE again, for the next run."""
    if c.status != SETTLING:
        raise errors.InvalidState(f"a {c.status} commission cannot be given back")
    return Change(c, _next(c, now, status=SETTLEABLE, settlement_id=None), _move(c, SETTLEABLE))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
