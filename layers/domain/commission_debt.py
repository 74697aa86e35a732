"""Commission debt (佣金欠款): what a distributor owes back after a refund takes back
commission that was already paid to them, and how a settlement deducts it. Pure.

- A refund that reverses a commission in a payout (SETTLING: its transfer may already
  have left, and once it has it cannot be called back) or paid (SETTLED) cannot take the
  money back: the reversed part becomes a DEBT entry of the distributor, one per refund
  (named by the refund, so a repeated `order.refunded` event writes nothing more),
  carrying the order, the refund and the amount. A SETTLING commission is treated as
  paid because a payout is never failed for good: its money is owed until it is paid.
- The distributor's next settlement deducts the debt first from what it would pay, at
  most all of it: a payout is never below 0, and what it does not cover stays owed for
  the one after. The deduction is a DEDUCTION entry named by the payout (once per
  payout). A payout left at 0 sends nothing to WeChat.
- The outstanding debt (`Stats.debt`) is moved only with its entries, in their
  transaction: it always equals the DEBT entries less the DEDUCTION entries, and the
  deduction is conditioned on the debt still covering it, so it is never below 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DebtKind(StrEnum):
    DEBT = "DEBT"
    DEDUCTION = "DEDUCTION"


DEBT = DebtKind.DEBT
DEDUCTION = DebtKind.DEDUCTION


@dataclass(frozen=True)
class DebtEntry:
    distributor_id: str
    entry_id: str  # debt_id(refund_id) or deduction_id(payout_id)
    kind: str
    amount: int  # > 0, fen: owed (DEBT) or taken off a payout (DEDUCTION)
    created_at: str
    order_id: str | None = None  # DEBT: the refunded order
    refund_id: str | None = None  # DEBT: the refund that took the commission back
    payout_id: str | None = None  # DEDUCTION: the payout it was deducted from

    @property
    def signed(self) -> int:
        """What it moves the outstanding debt by."""
        return self.amount if self.kind == DEBT else -self.amount


def debt_id(refund_id: str) -> str:
    return f"debt:{refund_id}"


def deduction_id(payout_id: str) -> str:
    return f"deduction:{payout_id}"


def debt(distributor_id: str, order_id: str, refund_id: str, amount: int, now: str) -> DebtEntry:
    if amount <= 0:
        raise ValueError("a debt is a positive number of fen")
    return DebtEntry(distributor_id=distributor_id, entry_id=debt_id(refund_id), kind=DEBT, amount=amount,
                     created_at=now, order_id=order_id, refund_id=refund_id)


def deduction(distributor_id: str, payout_id: str, amount: int, now: str) -> DebtEntry:
    if amount <= 0:
        raise ValueError("a deduction is a positive number of fen")
    return DebtEntry(distributor_id=distributor_id, entry_id=deduction_id(payout_id), kind=DEDUCTION,
                     amount=amount, created_at=now, payout_id=payout_id)


def to_deduct(gross: int, outstanding: int) -> int:
    """What a settlement of `gross` deducts from an outstanding debt: the debt first, at
    most what it would pay (a payout is never below 0)."""
    return max(0, min(gross, outstanding))


def payable(gross: int, outstanding: int, smallest: int) -> bool:
    """Whether a settlement of `gross` against `outstanding` debt is made now: when the
    debt takes all of it (a payout of 0, nothing sent), or what is left to pay is at
    least the smallest transfer; otherwise it waits, the debt untouched."""
    if gross <= 0:
        return False
    left = gross - to_deduct(gross, outstanding)
    return left == 0 or left >= smallest


def deduct_for_transfer(gross: int, outstanding: int, smallest: int) -> int:
    """The deduction of a payout whose commissions are already in it. The debt first; but
    when a refund came after the settlement checked the debt, so that what would be left
    to pay is above 0 and under WeChat's smallest transfer, the payout pays the smallest
    transfer and the debt it leaves waits for the next settlement (the commissions,
    already taken into the payout, cannot wait instead)."""
    deducted = to_deduct(gross, outstanding)
    left = gross - deducted
    if 0 < left < smallest <= gross:
        return gross - smallest
    return deducted


def balance(entries: list[DebtEntry]) -> int:
    """The outstanding debt the entries make."""
    return sum(e.signed for e in entries)
