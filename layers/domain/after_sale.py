"""An after-sale (售后): a shopper's claim on delivered goods, and every transition as a
pure function that answers the after-sale after it, with its history entry (who, when,
note) and the events that go out (`after_sale.approved`, `.rejected`, `.refunded`: the
shopper's subscription messages).

    REQUESTED       --approve (refund_only)-->   REFUNDING     (the refund is asked in the same write)
    REQUESTED       --approve (return/exchange)--> AWAITING_RETURN  (with the return address)
    REQUESTED       --reject(reason)-->          REJECTED
    REQUESTED | AWAITING_RETURN --cancel-->      CANCELLED     (the shopper)
    AWAITING_RETURN --return(tracking)-->        RETURNING     (the shopper sent the goods)
    AWAITING_RETURN --return window passed-->    CLOSED
    AWAITING_RETURN | RETURNING --receive(restock)--> RETURNING, received (stock back only on restock)
    RETURNING, received --refund (return_refund)--> REFUNDING
    RETURNING, received --ship replacement (exchange)--> EXCHANGED
    RETURNING       --reject(reason)-->          REJECTED      (the goods that came back are not the order's)
    REFUNDING       --refund succeeded-->        REFUNDED
    REFUNDING       --refund failed-->           the status it was refunded from (to try again)

Money: an after-sale names units of the order's lines; `amount` is at most what those
units paid (their lines' `paid` spread over their units, layers/domain/line_refunds.py)
and what the order has left to refund. Its refund is an ordinary refund of those lines
for `amount` (layers/services/refunds.py), so the order's refund room and its lines'
taken units guard every fen, whichever after-sales and refunds race.

One open after-sale per order line: the create write puts a lock per line it names,
conditioned on none being there; the write that ends it removes them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from layers.domain import errors, line_refunds
from layers.domain import order as order_rules
from layers.domain.order import Event, Order


class AfterSaleStatus(StrEnum):
    REQUESTED = "REQUESTED"
    AWAITING_RETURN = "AWAITING_RETURN"
    RETURNING = "RETURNING"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    EXCHANGED = "EXCHANGED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    CLOSED = "CLOSED"


REQUESTED = AfterSaleStatus.REQUESTED
AWAITING_RETURN = AfterSaleStatus.AWAITING_RETURN
RETURNING = AfterSaleStatus.RETURNING
REFUNDING = AfterSaleStatus.REFUNDING
REFUNDED = AfterSaleStatus.REFUNDED
EXCHANGED = AfterSaleStatus.EXCHANGED
REJECTED = AfterSaleStatus.REJECTED
CANCELLED = AfterSaleStatus.CANCELLED
CLOSED = AfterSaleStatus.CLOSED
STATUSES = tuple(s.value for s in AfterSaleStatus)
OPEN = (REQUESTED, AWAITING_RETURN, RETURNING, REFUNDING)
ENDED = (REFUNDED, EXCHANGED, REJECTED, CANCELLED, CLOSED)
# In the shopper's "my orders" after-sales figure. A REFUNDING one is not: its order is
# REFUNDING while its refund is in flight, and the order counts already count that
# (layers/domain/order_counts.py), so it is counted once.
COUNTED = (REQUESTED, AWAITING_RETURN, RETURNING)

REFUND_ONLY = "refund_only"
RETURN_REFUND = "return_refund"
EXCHANGE = "exchange"
KINDS = (REFUND_ONLY, RETURN_REFUND, EXCHANGE)

SYSTEM = "system"  # who acted, for the timers


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    kinds: tuple[str, ...]


# The reasons a shopper picks from (the mini-program shows `text`), and the kinds each fits.
REASONS: tuple[Reason, ...] = (
    Reason("DAMAGED", "商品破损", KINDS),
    Reason("WRONG_ITEM", "发错货", KINDS),
    Reason("NOT_AS_DESCRIBED", "与描述不符", KINDS),
    Reason("QUALITY", "质量问题", KINDS),
    Reason("MISSING_PARTS", "少件/漏发", (REFUND_ONLY, EXCHANGE)),
    Reason("NOT_RECEIVED", "未收到货", (REFUND_ONLY,)),
    Reason("WRONG_SIZE", "尺码/规格不合适", (RETURN_REFUND, EXCHANGE)),
    Reason("NO_LONGER_WANTED", "不想要了", (RETURN_REFUND,)),
)
_REASONS = {r.code: r for r in REASONS}


def reason_text(code: str) -> str:
    return _REASONS[code].text if code in _REASONS else code


@dataclass(frozen=True)
class AfterSale:
    after_sale_id: str
    order_id: str
    user_id: str
    kind: str
    status: str
    # what the shopper asked: [{"sku_id", "quantity"}]
    items: tuple[dict, ...]
    # the order lines those units are on: [{"line", "sku_id", "units"}]; each line locked while open
    lines: tuple[dict, ...]
    amount: int
    reason_code: str
    created_at: str
    updated_at: str
    description: str | None = None
    images: tuple[str, ...] = ()
    history: tuple[dict, ...] = ()
    request_hash: str | None = None
    # {"name", "phone", "detail"}: where the goods go back (the merchant's, from the settings)
    return_address: dict | None = None
    return_due_at: str | None = None  # AWAITING_RETURN: closed if not sent back by then
    auto_approve_at: str | None = None  # REQUESTED: approved by the shop if unanswered by then
    return_shipping: dict | None = None  # {"express_company", "tracking_no"} from the shopper
    received_at: str | None = None
    restocked: bool = False
    replacement_shipping: dict | None = None  # the ship body of the replacement
    refund_id: str | None = None  # the refund in flight, or the one that refunded it
    refund_attempts: int = 0
    refunded_from: str | None = None  # REFUNDING: the status a failed refund goes back to
    reject_reason: str | None = None
    version: int = 0

    @property
    def open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class Transition:
    before: AfterSale | None
    after: AfterSale
    events: tuple[Event, ...] = ()


class AfterSaleRepository(Protocol):
    def get(self, order_id: str, after_sale_id: str) -> AfterSale | None: ...

    def for_order(self, order_id: str) -> list[AfterSale]: ...

    def for_user(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[AfterSale], dict | None]:
        """The shopper's after-sales, newest first."""

    def by_status(self, status: str, kind: str | None, limit: int,
                  cursor: dict | None) -> tuple[list[AfterSale], dict | None]:
        """After-sales in a status, oldest first (of `kind` when given)."""

    def due(self, queue: str, until_iso: str, limit: int) -> list[AfterSale]:
        """After-sales in a timer queue whose time has come (eventually consistent)."""

    def open_count(self, user_id: str) -> int:
        """The shopper's after-sales in COUNTED statuses (one strongly consistent read)."""

    def stage_create(self, tx, after_sale: AfterSale, on_exists, on_line_busy) -> None:
        """Create it with a lock per line (`on_line_busy` when a line has one) and count it."""

    def stage_change(self, tx, before: AfterSale, after: AfterSale, on_stale) -> None:
        """Write `after` conditioned on `before.version`; an after-sale that ends gives
        its lines' locks back; the shopper's count follows COUNTED."""


# Timer queues (gsi2 work queues kept in step by the repository).
AUTO_APPROVE = "AFTER_SALES_APPROVE"
RETURN_DUE = "AFTER_SALES_RETURN"


def after_sale_id_for(order_id: str, user_id: str, idempotency_key: str | None) -> str:
    """`<order_id>A<suffix>`: the order is found from the id without an index. With an
    Idempotency-Key the suffix is derived, so a retry is the same after-sale."""
    if idempotency_key is None:
        return f"{order_id}A{uuid.uuid4().hex[:10]}"
    return f"{order_id}A{hashlib.sha256(f'{user_id}\x00{idempotency_key}'.encode()).hexdigest()[:10]}"


def order_id_of(after_sale_id: str) -> str:
    return after_sale_id.split("A", 1)[0] if "A" in after_sale_id else after_sale_id


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _entry(status: str, who: str, now: str, note: str | None = None) -> dict:
    entry = {"status": str(status), "by": who, "at": now}
    if note:
        entry["note"] = note
    return entry


def _next(a: AfterSale, status: str, who: str, now: str, note: str | None = None, **changes) -> AfterSale:
    return replace(a, status=status, updated_at=now, version=a.version + 1,
                   history=(*a.history, _entry(status, who, now, note)), **changes)


def _event(a: AfterSale, kind: str, subject: str | None = None, **extra) -> Event:
    return Event(f"after_sale.{kind}", subject or a.after_sale_id, {
        "after_sale_id": a.after_sale_id, "order_id": a.order_id, "user_id": a.user_id, "kind": a.kind,
        "amount": a.amount, **extra})


# -- asking -----------------------------------------------------------------------------

def order_status_for_after_sales(order: Order) -> str:
    """The order's status as after-sales see it: one whose refund is in flight is still
    the shipped or completed order it was."""
    if order.status == order_rules.REFUNDING:
        return str(order.status_before_refund or "")
    return str(order.status)


def check_window(order: Order, window_s: int, now: datetime) -> None:
    """Only a SHIPPED or COMPLETED order, within `window_s` of its completion (422
    AFTER_SALES_CLOSED otherwise)."""
    status = order_status_for_after_sales(order)
    if status not in (order_rules.SHIPPED, order_rules.COMPLETED):
        raise errors.AfterSalesClosed("after-sales are for shipped or completed orders")
    if status == order_rules.COMPLETED and order.completed_at:
        if now > _parse(order.completed_at) + timedelta(seconds=window_s):
            raise errors.AfterSalesClosed("the after-sales window of this order has passed")


def share(order: Order, items) -> tuple[int, tuple[dict, ...]]:
    """What the units `items` paid (their lines' `paid` in proportion to quantity, as their
    refund would take it) and the lines they are on. Refuses (422) units the order does
    not have or has refunded already."""
    picked = line_refunds.pick(order.items, order.line_refunds, [dict(i) for i in items])
    worth, lines, _ = line_refunds.take(order.items, order.amounts, order.line_refunds, picked)
    return worth, tuple({"line": ln["line"], "sku_id": ln["sku_id"], "units": ln["units"]} for ln in lines)


def request(*, after_sale_id: str, order: Order, kind: str, items, reason_code: str, amount: int | None,
            description: str | None, images, now: datetime, window_s: int, auto_approve_s: int,
            request_hash: str | None) -> Transition:
    """A new after-sale of `order`'s units `items`, REQUESTED."""
    if kind not in KINDS:
        raise errors.InvalidRequest(f"kind: one of {', '.join(KINDS)}")
    reason = _REASONS.get(reason_code)
    if reason is None or kind not in reason.kinds:
        raise errors.InvalidRequest(f"reason_code {reason_code!r} is not a reason for {kind}")
    check_window(order, window_s, now)
    worth, lines = share(order, items)
    if worth < 1 and kind != EXCHANGE:
        raise errors.NotAcceptable("these units paid nothing: nothing to refund")
    left = int(order.refund_room or 0)
    if amount is None:
        amount = worth
    if kind == EXCHANGE:
        amount = 0  # an exchange moves goods, not money
    elif amount > worth:
        raise errors.AmountTooLarge(f"these units paid {worth} fen: ask at most that")
    elif amount > left:
        raise errors.AmountTooLarge(f"the order has {left} fen left to refund")
    at = _iso(now)
    after = AfterSale(
        after_sale_id=after_sale_id, order_id=order.order_id, user_id=order.user_id, kind=kind, status=REQUESTED,
        items=tuple({"sku_id": i["sku_id"], "quantity": int(i["quantity"])} for i in items), lines=lines,
        amount=amount, reason_code=reason_code, created_at=at, updated_at=at, description=description,
        images=tuple(images or ()), history=(_entry(REQUESTED, f"user:{order.user_id}", at),),
        request_hash=request_hash,
        auto_approve_at=_iso(now + timedelta(seconds=auto_approve_s)) if auto_approve_s > 0 else None)
    return Transition(None, after)


# -- the merchant's answer --------------------------------------------------------------

def approve(a: AfterSale, who: str, now: datetime, return_address: dict | None, return_window_s: int,
            note: str | None = None) -> Transition:
    """A return or an exchange now waits for the goods, at the merchant's address. (A
    refund_only is approved by `start_refund`: its approval is its refund.)"""
    if a.status != REQUESTED:
        raise errors.InvalidState(f"a {a.status} after-sale cannot be approved")
    if a.kind == REFUND_ONLY:
        raise errors.InvalidState("a refund_only after-sale is approved by refunding it")
    if not return_address:
        raise errors.InvalidState("set the shop's return_address (PUT /admin/settings) before approving returns")
    at = _iso(now)
    after = _next(a, AWAITING_RETURN, who, at, note, return_address=dict(return_address),
                  return_due_at=_iso(now + timedelta(seconds=return_window_s)), auto_approve_at=None)
    return Transition(a, after, (_event(after, "approved", return_address=dict(return_address),
                                        return_due_at=after.return_due_at),))


def reject(a: AfterSale, who: str, reason: str, now: datetime) -> Transition:
    if a.status not in (REQUESTED, RETURNING):
        raise errors.InvalidState(f"a {a.status} after-sale cannot be rejected")
    after = _next(a, REJECTED, who, _iso(now), reason, reject_reason=reason, auto_approve_at=None)
    return Transition(a, after, (_event(after, "rejected", reason=reason),))


def cancel(a: AfterSale, who: str, now: datetime) -> Transition:
    if a.status not in (REQUESTED, AWAITING_RETURN):
        raise errors.InvalidState(f"a {a.status} after-sale cannot be cancelled")
    return Transition(a, _next(a, CANCELLED, who, _iso(now), auto_approve_at=None, return_due_at=None))


# -- the goods going back ---------------------------------------------------------------

def send_back(a: AfterSale, who: str, express_company: str, tracking_no: str, now: datetime) -> Transition:
    """The shopper sent the goods back. Sending again with other tracking corrects it."""
    shipping = {"express_company": express_company, "tracking_no": tracking_no}
    if a.status == RETURNING and a.received_at is None and a.return_shipping != shipping:
        return Transition(a, _next(a, RETURNING, who, _iso(now), "更正退货物流", return_shipping=shipping))
    if a.status != AWAITING_RETURN:
        raise errors.InvalidState(f"a {a.status} after-sale takes no return shipment")
    return Transition(a, _next(a, RETURNING, who, _iso(now), return_shipping=shipping, return_due_at=None))


def close_unreturned(a: AfterSale, now: datetime) -> Transition:
    """The return window passed without the goods being sent back."""
    if a.status != AWAITING_RETURN or a.return_due_at is None or _parse(a.return_due_at) > now:
        raise errors.InvalidState("only an after-sale past its return window closes")
    return Transition(a, _next(a, CLOSED, SYSTEM, _iso(now), "超时未寄回", return_due_at=None))


def receive(a: AfterSale, who: str, restock: bool, now: datetime) -> Transition:
    """The goods came back (stock goes back only with `restock`: the caller stages it).
    Goods that arrive before the shopper gave their tracking number are received too: the
    warehouse has them, and the return window must not close the after-sale."""
    if a.status not in (AWAITING_RETURN, RETURNING) or a.received_at is not None:
        raise errors.InvalidState(f"a {a.status} after-sale has no goods on their way back")
    note = "已收货，退回库存" if restock else "已收货"
    return Transition(a, _next(a, RETURNING, who, _iso(now), note, received_at=_iso(now), restocked=restock,
                               return_due_at=None))


def ship_replacement(a: AfterSale, who: str, shipping: dict, now: datetime) -> Transition:
    if a.kind != EXCHANGE or a.status != RETURNING or a.received_at is None:
        raise errors.InvalidState("a replacement ships once an exchange's goods came back")
    return Transition(a, _next(a, EXCHANGED, who, _iso(now), replacement_shipping=dict(shipping)))


# -- the refund -------------------------------------------------------------------------

def refund_due(a: AfterSale) -> bool:
    """Whether approving or receiving now refunds it."""
    return (a.kind == REFUND_ONLY and a.status == REQUESTED) or (
        a.kind == RETURN_REFUND and a.status == RETURNING and a.received_at is not None)


def refund_key(a: AfterSale) -> str:
    """The Idempotency-Key of its next refund: the same while that refund is asked, a new
    one after a refund failed."""
    return f"after-sale:{a.after_sale_id}:{a.refund_attempts}"


def start_refund(a: AfterSale, who: str, refund_id: str, now: datetime, note: str | None = None) -> Transition:
    """Its refund is asked, in the same write as the refund and the order's refund room."""
    if not refund_due(a):
        raise errors.InvalidState(f"a {a.kind} after-sale {a.status} is not due a refund")
    after = _next(a, REFUNDING, who, _iso(now), note, refund_id=refund_id, refund_attempts=a.refund_attempts + 1,
                  refunded_from=str(a.status), auto_approve_at=None)
    events = (_event(after, "approved"),) if a.status == REQUESTED else ()
    return Transition(a, after, events)


def refund_ended(a: AfterSale, refund_id: str, succeeded: bool, now: datetime) -> Transition | None:
    """Its refund ended: REFUNDED, or back where it was refunded from to be tried again.
    None when the refund is not the one it waits for (ended already, or a late word)."""
    at = _iso(now)
    if succeeded and a.refund_id == refund_id and a.status != REFUNDED and (
            a.status == REFUNDING or a.status == a.refunded_from):
        # a late success of a refund recorded as failed lands here too: the money moved
        after = _next(a, REFUNDED, SYSTEM, at, refunded_from=None)
        return Transition(a, after, (_event(after, "refunded"),))
    if a.status != REFUNDING or a.refund_id != refund_id:
        return None
    return Transition(a, _next(a, a.refunded_from or REQUESTED, SYSTEM, at, "退款失败，可重新处理"))


# -- the timers -------------------------------------------------------------------------

def auto_approve_due(a: AfterSale, now: datetime) -> bool:
    return a.status == REQUESTED and a.auto_approve_at is not None and _parse(a.auto_approve_at) <= now


def return_overdue(a: AfterSale, now: datetime) -> bool:
    return a.status == AWAITING_RETURN and a.return_due_at is not None and _parse(a.return_due_at) <= now


def queue_of(a: AfterSale) -> tuple[str, str] | None:
    """The timer queue it sits in, and when it is due."""
    if a.status == REQUESTED and a.auto_approve_at:
        return AUTO_APPROVE, a.auto_approve_at
    if a.status == AWAITING_RETURN and a.return_due_at:
        return RETURN_DUE, a.return_due_at
    return None


def counted_moves(before: AfterSale | None, after: AfterSale | None) -> int:
    """What writing `after` over `before` does to the shopper's after-sales count."""
    return int(after is not None and after.status in COUNTED) - int(before is not None and before.status in COUNTED)
