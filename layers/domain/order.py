"""An order: its state, its statuses, and every transition as a pure function.

A transition takes the order as read and the facts of the event, and answers a
`Change`: the order after, the reservations to take or give back, what happens to its
coupon, and the events that go out. It decides; it writes nothing. The order
repository writes `after` conditioned on the `version` of `before`, so a decision made
from a stale read never lands: the service re-reads and asks again.

    PENDING_PAYMENT --paid-->            PAID        coupon held -> used; emit order.paid
    PENDING_PAYMENT --closed-->          CLOSED      give back reservations and coupon
    CLOSED          --paid (late)-->     PAID        take reservations again; emit order.paid
    PAID            --shipped-->         SHIPPED
      (with shipping information, emit order.shipped; SHIPPED --shipping changed-->
       SHIPPED, emit order.shipped again: the one change WeChat takes)
    SHIPPED         --received-->        COMPLETED   emit order.completed
    PAID|SHIPPED|COMPLETED|REFUNDING --refund requested(a)--> REFUNDING   room -= a
      (a refund of lines also takes its units, `line_refunds`; they go back if it fails)
    REFUNDING       --refund finished--> REFUNDED    (all of it refunded; unshipped: give back)
                                       | REFUNDING   (others still in flight)
                                       | the status before the refunds
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from layers.domain import errors, line_refunds


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    CLOSED = "CLOSED"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"


PENDING = OrderStatus.PENDING_PAYMENT
PAID = OrderStatus.PAID
SHIPPED = OrderStatus.SHIPPED
COMPLETED = OrderStatus.COMPLETED
CLOSED = OrderStatus.CLOSED
REFUNDING = OrderStatus.REFUNDING
REFUNDED = OrderStatus.REFUNDED
STATUSES = tuple(s.value for s in OrderStatus)
REFUNDABLE = (PAID, SHIPPED, COMPLETED, REFUNDING)


@dataclass(frozen=True)
class Order:
    order_id: str
    user_id: str
    openid: str
    status: str
    items: tuple[dict, ...]  # {"sku_id", "product_id", "title", "category", "quantity", "unit_price", "commission"}
    amounts: dict  # {"goods", "discount", "shipping", "payable"}
    created_at: str
    expires_at: str
    kind: str = "normal"  # normal | flash
    flash_sale_id: str | None = None
    coupon_id: str | None = None
    address: dict | None = None
    distributor_id: str | None = None
    share_token: str | None = None
    # Where the order came from: the tag of the link or code the shopper came through
    # (`channel`, else their last visit's within the binding window) and WeChat's launch scene.
    channel: str | None = None
    scene: int | None = None
    request_hash: str | None = None
    idempotency_key: str | None = None
    # What the order holds until it is paid or closed: [{"kind": "sku"|"flash", ...}].
    reservations: tuple[dict, ...] = ()
    prepay_id: str | None = None
    prepay_at: str | None = None  # when WeChat gave the prepay id: it lives 2 hours
    transaction_id: str | None = None
    paid_at: str | None = None
    paid_amount: int | None = None
    shipped_at: str | None = None
    # When receipt is confirmed automatically (while SHIPPED).
    auto_confirm_at: str | None = None
    completed_at: str | None = None
    closed_at: str | None = None
    close_reason: str | None = None
    refunded_amount: int = 0
    refunding_amount: int = 0
    # What can still be refunded: the payment, less what is refunded or in flight.
    refund_room: int | None = None
    # Set when the reservations (and coupon) went back, so they never go back twice.
    released_at: str | None = None
    status_before_refund: str | None = None
    # False when the coupon already went back (closed, then paid and refunded).
    coupon_returnable: bool = True
    # Bumped by every transition; the write is conditioned on the version it read.
    version: int = 0
    # In its shopper's order counts (layers/domain/order_counts.py). False only for an
    # order stored before the counts existed, until its next write or the backfill job
    # counts it; every order created since is counted by the write that creates it.
    counted: bool = True
    # -- shipping information (layers/domain/shipping.py) --
    # {"logistics_type", "express_company", "tracking_no"} from the operator, and where its
    # upload to WeChat stands (PENDING | UPLOADED | FAILED | NOT_REQUIRED).
    shipping: dict | None = None
    shipping_upload_status: str | None = None
    # -- members --
    pay_with: str = "wechat"  # wechat | balance
    # {"balance": {"principal", "bonus"} (what a balance payment took), "points": n (held)}
    member: dict | None = None
    # -- freight templates: how `amounts.shipping` was made (layers/domain/freight.py,
    # `Freight.as_dict()`: {"total", "parts": [...]}); None for orders priced without it --
    freight: dict | None = None
    # -- promotions the order took part in: [{"id", "name", "kind", "tier", "discount",
    # "sku_ids", "gift"?}] (layers/domain/promotion_pricing.py `Applied.as_dict`) --
    promotions: tuple[dict, ...] = ()
    # -- refunds of lines (layers/domain/line_refunds.py): per line index, the units refunded
    # or being refunded and the fen they took, {"<i>": {"units", "amount"}}; written with
    # the refund room, under the version, so no unit is refunded twice --
    line_refunds: dict | None = None
    # -- 门店自提 (layers/domain/pickup.py): {"kind": "pickup", "store_id"} for an order
    # collected in a store (None: shipped to `address`); once paid, `pickup` holds its code
    # and the end of its window ({"store_id", "code", "due_at"}), and once redeemed
    # where, by whom and when ("redeemed_at", "redeemed_store_id", "redeemed_by") --
    delivery: dict | None = None
    pickup: dict | None = None

    @property
    def payable(self) -> int:
        return int(self.amounts["payable"])

    @property
    def paid(self) -> int:
        return int(self.paid_amount if self.paid_amount is not None else self.amounts["payable"])


@dataclass(frozen=True)
class Event:
    type: str
    subject_id: str  # the event id is `<type>:<subject_id>`: the same fact is one event
    payload: dict

    @property
    def event_id(self) -> str:
        return f"{self.type}:{self.subject_id}"


@dataclass(frozen=True)
class Change:
    """What a transition decided. `coupon` is what happens to the order's coupon:
    `consume` (held -> used), `give_back` (held -> unused), `give_back_used` (used ->
    unused, after a full refund), or None."""

    before: Order
    after: Order
    take: tuple[dict, ...] = ()
    release: tuple[dict, ...] = ()
    coupon: str | None = None
    events: tuple[Event, ...] = field(default_factory=tuple)


class OrderRepository(Protocol):
    def get(self, order_id: str, consistent: bool = False) -> Order | None: ...

    def list_for_user(self, user_id: str, status: str | None, limit: int,
                      cursor: dict | None) -> tuple[list[Order], dict | None]: ...

    def due(self, queue: str, until_iso: str, limit: int) -> list[Order]: ...

    def stage_create(self, tx, order: Order, on_exists) -> None:
        """Create the order; a PENDING one also counts against the shopper's unpaid
        orders where the repository has a cap (`errors.LimitExceeded` at the cap), and
        leaving PENDING (stage_change, stage_delete) gives that place back. Each of the
        three also moves the shopper's order counts (`counts`) in the same transaction."""

    def stage_change(self, tx, before: Order, after: Order, on_stale) -> None:
        """Write `after`, conditioned on the stored order still being `before.version`
        (and, for an order not counted yet, still not counted)."""

    def stage_delete(self, tx, order: Order, on_stale) -> None: ...

    def counts(self, user_id: str) -> dict[str, int]:
        """The shopper's counters by status (layers/domain/order_counts.py), moved by
        stage_create, stage_change and stage_delete in their own transactions; read
        strongly consistent, in one read whatever the shopper's history."""

    def set_prepay_id(self, order_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        """Store the prepay id (and when WeChat gave it) while the order is still unpaid;
        False if it is not."""

    def stage_upload_status(self, tx, order_id: str, status: str) -> None:
        """Where the shipping upload stands (not a transition: no version bump)."""


# Work queues an order sits in, by status (the repository keeps the index in step).
OPEN_ORDERS = "OPEN_ORDERS"
SHIPPED_ORDERS = "SHIPPED_ORDERS"


def request_hash(body: dict) -> str:
    """What an Idempotency-Key's first request was, to tell a retry from a reuse."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def order_id_for(user_id: str, scope: str, idempotency_key: str | None) -> str:
    """With a key, the id is derived from (user, scope, key), so a retry lands on the same
    order; WeChat's out_trade_no is this id (at most 32 characters of [0-9a-z])."""
    if idempotency_key is None:
        return "o" + uuid.uuid4().hex[:25]
    digest = hashlib.sha256(f"{user_id}\x00{scope}\x00{idempotency_key}".encode()).hexdigest()
    return "o" + digest[:25]


def _next(order: Order, **changes) -> Order:
    return replace(order, version=order.version + 1, **changes)


# -- payment and closing ----------------------------------------------------------------

def pay(order: Order, transaction_id: str | None, amount: int, now: str) -> Change:
    """A verified payment of this order. From PENDING_PAYMENT it is paid; from CLOSED
    (paid in the instant it closed) it is reinstated and takes its reservations again."""
    if order.status == PENDING:
        reinstate = False
    elif order.status == CLOSED and not order.transaction_id:
        reinstate = True
    else:
        raise errors.InvalidState(f"an order {order.status} cannot be paid")
    after = _next(order, status=PAID, paid_at=now, transaction_id=transaction_id, paid_amount=amount,
                  refund_room=amount,
                  **({"released_at": None, "close_reason": f"REINSTATED:{order.close_reason}"}
                     if reinstate else {}))
    event = Event("order.paid", order.order_id, {
        "order_id": order.order_id, "user_id": order.user_id, "payable": order.payable,
        "transaction_id": transaction_id, "reinstated": reinstate})
    # Reinstated: what it gave back when it closed is taken again (its coupon too, straight
    # to used); if any of it went elsewhere the transaction fails and the payment is refunded.
    coupon = None if not order.coupon_id else ("retake" if reinstate else "consume")
    return Change(order, after, take=order.reservations if reinstate else (), coupon=coupon, events=(event,))


def in_campaign(order: Order) -> bool:
    """Whether the order was placed in a campaign whose review counts it: a flash sale,
    a group buy or a bargain (its kind), a promotion (a line names it) or a coupon."""
    return (order.kind in ("flash", "group", "bargain") or bool(order.coupon_id)
            or any(item.get("promotion_id") for item in order.items))


def placed_event(order: Order) -> Event | None:
    """`order.placed`, staged with the order's creation when it is in a campaign (the
    campaign review's `orders` count placements, paid or not); None otherwise. Its id is
    the order's: a retried placement is the same event."""
    if not in_campaign(order):
        return None
    return Event("order.placed", order.order_id, {"order_id": order.order_id, "user_id": order.user_id,
                                                  "created_at": order.created_at})


# -- paid from the stored-value balance, in its own placement transaction --
def pay_from_balance(order: Order, split: dict, now: str) -> Change:
    """A new order paid at once from the balance: `split` is what it took
    ({"principal", "bonus"}), kept on the order so that refunds return the same parts."""
    if order.status != PENDING:
        raise errors.InvalidState(f"an order {order.status} cannot be paid")
    after = _next(order, status=PAID, paid_at=now, paid_amount=order.payable, refund_room=order.payable,
                  pay_with="balance", member={**(order.member or {}), "balance": dict(split)})
    event = Event("order.paid", order.order_id, {
        "order_id": order.order_id, "user_id": order.user_id, "payable": order.payable,
        "transaction_id": None, "reinstated": False, "pay_with": "balance"})
    return Change(order, after, coupon="consume" if order.coupon_id else None, events=(event,))


def close(order: Order, reason: str, now: str) -> Change:
    """An unpaid order closes (cancelled, expired, or its prepay failed) and gives back
    everything it held."""
    if order.status != PENDING:
        raise errors.InvalidState(f"only a {PENDING} order can be closed; it is {order.status}")
    after = _next(order, status=CLOSED, closed_at=now, close_reason=reason, released_at=now)
    return Change(order, after, release=order.reservations,
                  coupon="give_back" if order.coupon_id else None)


def paid_after_close_unfulfillable(order: Order, transaction_id: str | None, amount: int,
                                   now: str) -> Change:
    """Paid after it closed and what it held is gone: record the payment on the closed
    order, all of it in flight back to the shopper. Its reservations and coupon already
    went back when it closed; the refund must not return them again."""
    if order.status != CLOSED or order.transaction_id:
        raise errors.InvalidState(f"an order {order.status} cannot take a late payment")
    after = _next(order, status=REFUNDING, transaction_id=transaction_id, paid_amount=amount,
                  paid_at=now, refunding_amount=amount, refund_room=0,
                  status_before_refund=CLOSED, coupon_returnable=False)
    return Change(order, after)


# -- fulfilment -------------------------------------------------------------------------

def ship(order: Order, now: str, auto_confirm_at: str, shipping: dict | None = None,
         upload_status: str = "PENDING") -> Change:
    """With `shipping`, the order carries it and its upload to WeChat starts
    (`order.shipped`); `upload_status` is where that upload starts (NOT_REQUIRED without a
    WeChat Pay transaction)."""
    if order.status != PAID:
        raise errors.InvalidState(f"only a {PAID} order can be shipped; it is {order.status}")
    if shipping is None:
        return Change(order, _next(order, status=SHIPPED, shipped_at=now, auto_confirm_at=auto_confirm_at))
    after = _next(order, status=SHIPPED, shipped_at=now, auto_confirm_at=auto_confirm_at, shipping=dict(shipping),
                  shipping_upload_status=upload_status)
    return Change(order, after, events=(_shipped(order, 0),))


def change_shipping(order: Order, shipping: dict, revision: int, upload_status: str = "PENDING") -> Change:
    """The shipping information of a shipped order changes (WeChat takes one change)."""
    if order.status != SHIPPED:
        raise errors.InvalidState(f"only a {SHIPPED} order's shipping can change; it is {order.status}")
    after = _next(order, shipping=dict(shipping), shipping_upload_status=upload_status)
    return Change(order, after, events=(_shipped(order, revision),))


def _shipped(order: Order, revision: int) -> Event:
    subject = order.order_id if revision == 0 else f"{order.order_id}#r{revision}"
    return Event("order.shipped", subject, {"order_id": order.order_id, "user_id": order.user_id,
                                            "revision": revision})


def confirm_receipt(order: Order, now: str, automatic: bool, redemption: dict | None = None,
                    shipping: dict | None = None, upload_status: str = "PENDING") -> Change:
    """The shopper has the goods: a SHIPPED order received (confirmed, or automatically),
    or a paid pickup order redeemed in a store (`redemption`: its `pickup` once redeemed,
    layers/domain/pickup.py; `shipping`: the 用户自提 information whose upload to WeChat
    starts with it, `order.shipped`). Either way the same `order.completed` follows, and
    with it the commissions and points of a receipt."""
    if redemption is not None:
        if order.status != PAID or (order.delivery or {}).get("kind") != "pickup":
            raise errors.InvalidState(f"only a {PAID} pickup order can be redeemed; it is {order.status}")
    elif order.status != SHIPPED:
        raise errors.InvalidState(f"only a {SHIPPED} order can be received; it is {order.status}")
    event = Event("order.completed", order.order_id, {
        "order_id": order.order_id, "user_id": order.user_id, "completed_at": now, "automatic": automatic,
        **({"redeemed_store_id": redemption.get("redeemed_store_id")} if redemption is not None else {})})
    if redemption is None:
        return Change(order, _next(order, status=COMPLETED, completed_at=now, auto_confirm_at=None),
                      events=(event,))
    extra = {"shipping": dict(shipping), "shipping_upload_status": upload_status} if shipping else {}
    after = _next(order, status=COMPLETED, completed_at=now, auto_confirm_at=None, shipped_at=now,
                  pickup=dict(redemption), **extra)
    return Change(order, after, events=(event, *((_shipped(order, 0),) if shipping else ())))


# -- refunds ----------------------------------------------------------------------------

def request_refund(order: Order, amount: int | None) -> tuple[int, Change]:
    """Reserve `amount` fen (all that is left when None) of the refund room."""
    left = _refund_room(order)
    amount = left if amount is None else amount
    if amount < 1 or amount > left:
        raise errors.NotAcceptable(f"at most {left} fen can still be refunded")
    return amount, Change(order, _reserved(order, amount))


def request_line_refund(order: Order, wanted, amount: int | None = None
                        ) -> tuple[int, tuple[dict, ...], Change]:
    """Reserve what the units `wanted` ([{"sku_id", "quantity"}]) paid: their lines' units
    and fen (`line_refunds`) and as much of the refund room, in one write. Answers the
    amount, the refund's lines (`{"line", "sku_id", "units", "amount"}`) and the change.
    With `amount` (an after-sale agreed for less), the units are refunded for that, at
    most what they paid (422 AMOUNT_TOO_LARGE); they stay taken for all they paid."""
    left = _refund_room(order)
    picked = line_refunds.pick(order.items, order.line_refunds, wanted)
    worth, lines, after_lines = line_refunds.take(order.items, order.amounts, order.line_refunds, picked)
    if worth < 1:
        raise errors.NotAcceptable("these units paid nothing (their share rounds to 0 fen): "
                                   "refund more units of the line at once")
    if amount is not None and amount != worth:
        if not 1 <= amount < worth:
            raise errors.AmountTooLarge(f"these units paid {worth} fen: refund at most that")
        lines = line_refunds.scaled(lines, amount)
    refunded = worth if amount is None else amount
    if refunded > left:
        raise (errors.NotAcceptable if amount is None else errors.AmountTooLarge)(
            f"these units paid {refunded} fen; at most {left} fen can still be refunded")
    return refunded, lines, Change(order, _reserved(order, refunded, line_refunds=after_lines))


def _refund_room(order: Order) -> int:
    if order.status not in REFUNDABLE:
        raise errors.InvalidState(f"an order {order.status} cannot be refunded")
    return int(order.refund_room or 0)


def _reserved(order: Order, amount: int, **changes) -> Order:
    before_refund = order.status if order.status != REFUNDING else (order.status_before_refund or PAID)
    return _next(order, status=REFUNDING, refunding_amount=order.refunding_amount + amount,
                 refund_room=int(order.refund_room or 0) - amount, status_before_refund=before_refund, **changes)


def _refunded_event(order: Order, refund_id: str, amount: int, refunded: int, lines) -> Event:
    payload = {"order_id": order.order_id, "refund_id": refund_id, "amount": amount,
               "order_payable": order.paid, "refunded_total": refunded, "user_id": order.user_id}
    if lines:
        # the units a refund of lines took back, each with the fen it paid them
        payload["lines"] = [dict(ln) for ln in lines]
    return Event("order.refunded", refund_id, payload)


def finish_refund(order: Order, refund_id: str, amount: int, succeeded: bool, now: str,
                  lines=()) -> Change:
    """A refund of `amount` (and of `lines`, when it named lines) in flight ended: refunded,
    or given back to the room, its units to their lines. When
    the whole payment is refunded the order is REFUNDED and, if nothing left the
    warehouse, its reservations go back on the shelf and its coupon becomes usable."""
    refunded = order.refunded_amount + (amount if succeeded else 0)
    in_flight = order.refunding_amount - amount
    if in_flight < 0:
        raise errors.InvalidState(f"order {order.order_id} has only {order.refunding_amount} fen in flight")
    fully = succeeded and refunded >= order.paid
    if fully:
        status = REFUNDED
    elif in_flight > 0:
        status = REFUNDING
    else:
        status = order.status_before_refund or PAID
    release = fully and order.shipped_at is None and not order.released_at
    after = _next(order, status=status, refunded_amount=refunded, refunding_amount=in_flight,
                  refund_room=(order.refund_room or 0) + (0 if succeeded else amount),
                  auto_confirm_at=None if fully else order.auto_confirm_at,
                  released_at=now if release else order.released_at,
                  line_refunds=order.line_refunds if succeeded else line_refunds.give_back(order.line_refunds, lines))
    events = (_refunded_event(order, refund_id, amount, refunded, lines),) if succeeded else ()
    coupon = "give_back_used" if fully and order.coupon_id and order.coupon_returnable else None
    return Change(order, after, release=order.reservations if release else (), coupon=coupon,
                  events=events)


def late_refund_success(order: Order, refund_id: str, amount: int, now: str, lines=()) -> Change:
    """A refund we recorded as failed (its room given back) succeeded at WeChat after all:
    the money left, so it is refunded here too and its room taken again. Room already
    promised to another refund is not taken twice: the difference is the anomaly the
    caller records (refunded may then exceed what a later refund can take)."""
    refunded = order.refunded_amount + amount
    room = max(0, int(order.refund_room or 0) - amount)
    fully = refunded >= order.paid
    status = REFUNDED if fully else (REFUNDING if order.refunding_amount > 0 else order.status)
    release = fully and order.shipped_at is None and not order.released_at
    after = _next(order, status=status, refunded_amount=refunded, refund_room=room,
                  released_at=now if release else order.released_at,
                  line_refunds=line_refunds.take_again(order.items, order.line_refunds, lines))
    event = _refunded_event(order, refund_id, amount, refunded, lines)
    coupon = "give_back_used" if fully and order.coupon_id and order.coupon_returnable else None
    return Change(order, after, release=order.reservations if release else (), coupon=coupon, events=(event,))


# -- checks -----------------------------------------------------------------------------

def trade_problems(order: Order, trade: dict, mchid: str | None, appid: str | None) -> list[str]:
    """Why a payment WeChat reports is not this order's (empty when it is)."""
    problems = []
    if trade.get("trade_state") != "SUCCESS":
        problems.append(f"trade_state {trade.get('trade_state')}")
    if mchid and trade.get("mchid") != mchid:
        problems.append("mchid")
    if appid and trade.get("appid") != appid:
        problems.append("appid")
    if trade.get("out_trade_no") != order.order_id:
        problems.append("out_trade_no")
    total = (trade.get("amount") or {}).get("total")
    if total != order.payable:
        problems.append(f"amount {total} != payable {order.payable}")
    return problems


# WeChat Pay's prepay id is valid for 2 hours; one older than this is asked for again.
PREPAY_TTL_S = 2 * 3600 - 10 * 60


def prepay_fresh(order: Order, now: datetime) -> bool:
    """True while the stored prepay id can still start a payment (a little margin kept)."""
    issued = order.prepay_at or order.created_at
    return bool(order.prepay_id) and (now - datetime.fromisoformat(issued.replace("Z", "+00:00"))
                                      ).total_seconds() < PREPAY_TTL_S


def description(order: Order) -> str:
    """WeChat Pay's `description` (the client fits it to 127 UTF-8 bytes without emoji)."""
    titles = [i.get("title") or i["sku_id"] for i in order.items]
    text = titles[0] + (f" 等{len(titles)}件" if len(titles) > 1 else "")
    return text[:127]
