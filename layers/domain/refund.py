"""A refund: its statuses and transitions, pure.

The refund id is WeChat's `out_refund_no`: fixed when the refund is asked for and
sent with every call about it, so a retry can never become a second refund.

    REQUESTED  --approved-->  PROCESSING   (an operator, for a shipped order)
    REQUESTED  --rejected-->  REJECTED     (the room goes back to the order)
    PROCESSING --WeChat: SUCCESS | CLOSED--> that status
    PROCESSING --WeChat: ABNORMAL--> ABNORMAL  (the money is stuck at WeChat: the room stays
                                                held until an operator applies the
                                                abnormal refund, never a new refund)
    ABNORMAL   --abnormal refund applied--> PROCESSING
    PROCESSING --WeChat refused it, and a query says it does not exist--> FAILED
    (automatic refunds, of unshipped orders, start PROCESSING)

A refund whose outcome is unknown (timeout, 5xx, 429, NOT_ENOUGH, an answer that does
not verify) stays PROCESSING: the sweep asks WeChat with the same out_refund_no, and
sends it again with the same number. Each write is conditioned on the status it was
decided from; the order's side of a refund's end is `order.finish_refund`, written in
the same transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class RefundStatus(StrEnum):
    REQUESTED = "REQUESTED"     # waits for an operator (the order was shipped)
    PROCESSING = "PROCESSING"   # approved; WeChat Pay is (being) asked
    SUCCESS = "SUCCESS"
    ABNORMAL = "ABNORMAL"
    CLOSED = "CLOSED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"           # WeChat refused it and has no such refund: nothing moved


REQUESTED = RefundStatus.REQUESTED
PROCESSING = RefundStatus.PROCESSING
SUCCESS = RefundStatus.SUCCESS
ABNORMAL = RefundStatus.ABNORMAL
CLOSED = RefundStatus.CLOSED
REJECTED = RefundStatus.REJECTED
FAILED = RefundStatus.FAILED
OPEN = (REQUESTED, PROCESSING, ABNORMAL)
# What WeChat answers that ends a refund (PROCESSING: still going; ABNORMAL: stuck, see above).
WECHAT_FINAL = (SUCCESS, CLOSED)
# Notification event types, and the refund_status each must carry.
EVENT_STATUS = {"REFUND.SUCCESS": SUCCESS, "REFUND.ABNORMAL": ABNORMAL, "REFUND.CLOSED": CLOSED}


@dataclass(frozen=True)
class Refund:
    refund_id: str
    order_id: str
    user_id: str
    amount: int
    reason: str
    status: str
    created_at: str
    updated_at: str
    automatic: bool = False
    request_hash: str | None = None
    wechat_refund_id: str | None = None
    last_error: str | None = None  # WeChat's last refusal (NOT_ENOUGH, ...): shown to operators
    accepted_at: str | None = None  # WeChat's create_time: the day its trade bill lists the refund
    # A refund of lines: the units it takes back, [{"line", "sku_id", "units", "amount"}]
    # (layers/domain/line_refunds.py); empty for a refund of an amount.
    lines: tuple[dict, ...] = ()
    # The after-sale it refunds (layers/domain/after_sale.py): its end moves that after-sale
    # in the same transaction.
    after_sale_id: str | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN


class RefundRepository(Protocol):
    def get(self, order_id: str, refund_id: str) -> Refund | None: ...

    def for_order(self, order_id: str) -> list[Refund]: ...

    def waiting(self, status: str, limit: int) -> list[Refund]: ...

    def stage_create(self, tx, refund: Refund, on_exists) -> None: ...

    def stage_change(self, tx, before: Refund, after: Refund, on_stale) -> None:
        """Write `after`, conditioned on the stored refund still having `before.status`."""

    def set_wechat_refund_id(self, refund: Refund, wechat_refund_id: str, accepted_at: str | None = None) -> None:
        """WeChat's refund id, and when WeChat accepted the refund (its create_time)."""


def refund_id_for(order_id: str, user_id: str, idempotency_key: str | None) -> str:
    """`<order_id>R<suffix>`: the order is found from the refund id without an index.
    With an Idempotency-Key the suffix is derived, so a retry is the same refund."""
    if idempotency_key is None:
        return f"{order_id}R{uuid.uuid4().hex[:10]}"
    return f"{order_id}R{hashlib.sha256(f'{user_id}\x00{idempotency_key}'.encode()).hexdigest()[:10]}"


def auto_refund_id(order_id: str) -> str:
    """The one refund of a payment that came after its order closed."""
    return f"{order_id}Rauto"


def order_id_of(refund_id: str) -> str:
    return refund_id.split("R", 1)[0] if "R" in refund_id else refund_id


def approve(refund: Refund, now: str) -> Refund:
    if refund.status != REQUESTED:
        raise errors.InvalidState(f"a {refund.status} refund cannot be approved")
    return replace(refund, status=PROCESSING, updated_at=now)


def finish(refund: Refund, status: str, now: str) -> Refund:
    """End an open refund with WeChat's final status, FAILED (WeChat refused it and a query
    found nothing), or REJECTED by an operator."""
    if not refund.open:
        raise errors.InvalidState(f"a {refund.status} refund has already ended")
    if status not in (*WECHAT_FINAL, REJECTED, FAILED):
        raise ValueError(f"{status} does not end a refund")
    if status == REJECTED and refund.status != REQUESTED:
        raise errors.InvalidState(f"a {refund.status} refund cannot be rejected")
    return replace(refund, status=status, updated_at=now)


def abnormal(refund: Refund, now: str) -> Refund:
    """WeChat could not return the money to the payer: an operator must act."""
    if refund.status not in (PROCESSING, ABNORMAL):
        raise errors.InvalidState(f"a {refund.status} refund cannot become abnormal")
    return replace(refund, status=ABNORMAL, updated_at=now)


def abnormal_applied(refund: Refund, now: str) -> Refund:
    """The operator sent it to a bank card through WeChat's abnormal-refund API."""
    if refund.status != ABNORMAL:
        raise errors.InvalidState(f"only an {ABNORMAL} refund can be sent to a bank card; it is {refund.status}")
    return replace(refund, status=PROCESSING, updated_at=now)


def succeeded_late(refund: Refund, now: str) -> Refund:
    """WeChat says SUCCESS of a refund we recorded as failed: the money moved."""
    if refund.status not in (FAILED, CLOSED):
        raise errors.InvalidState(f"a {refund.status} refund is not recorded as failed")
    return replace(refund, status=SUCCESS, updated_at=now)


def note_error(refund: Refund, code: str, now: str) -> Refund:
    return replace(refund, last_error=code[:100], updated_at=now)


def notification_problems(refund: Refund, event_type: str, resource: dict) -> list[str]:
    """Why a (verified) refund notification is not this refund's (empty when it is)."""
    problems = []
    if resource.get("out_trade_no") != refund.order_id:
        problems.append("out_trade_no")
    if (resource.get("amount") or {}).get("refund") != refund.amount:
        problems.append(f"amount {(resource.get('amount') or {}).get('refund')} != {refund.amount}")
    expected = EVENT_STATUS.get(event_type)
    if expected is None or resource.get("refund_status") != expected:
        problems.append(f"event_type {event_type} with refund_status {resource.get('refund_status')}")
    return problems
