"""Refunds: asked for by the shopper (full or partial), approved automatically while the
order is unshipped or by an operator once shipped, sent to WeChat Pay under a fixed
`out_refund_no`, and finished by WeChat's refund notification (or a query).

Money bookkeeping on the order: `refunding_amount` holds what is in flight,
`refunded_amount` what WeChat confirmed; a condition keeps their sum within what was
paid, so no interleaving of requests can refund more than the payment.
"""

from __future__ import annotations

import hashlib
import uuid

from pydantic import BaseModel, ConfigDict, Field
from pynamodb.exceptions import UpdateError

from layers import clock
from layers.domain import errors
from layers.observability import logger
from layers.services import coupon_hooks, reservations
from layers.services import wechat as wx
from layers.storage import ledger, outbox
from layers.storage import orders as order_store
from layers.storage import refunds as store
from layers.storage.orders import OrderItem
from layers.storage.refunds import RefundItem
from layers.storage.tx import Tx

REFUNDABLE = ("PAID", "SHIPPED", "COMPLETED", "REFUNDING")


class RefundInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int | None = Field(None, ge=1)
    reason: str = Field(min_length=1, max_length=80)


class _Changed(Exception):
    pass


def view(refund: RefundItem) -> dict:
    return {"id": refund.refund_id, "order_id": refund.order_id, "amount": int(refund.amount),
            "status": refund.status, "reason": refund.reason, "automatic": refund.automatic,
            "created_at": refund.created_at, "updated_at": refund.updated_at}


def _refund_id(order_id: str, user_id: str, key: str | None) -> str:
    if key is None:
        return f"{order_id}R{uuid.uuid4().hex[:10]}"
    return f"{order_id}R{hashlib.sha256(f'{user_id}\x00{key}'.encode()).hexdigest()[:10]}"


def _digest(body: RefundInput) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def request_refund(user_id: str, order_id: str, body: RefundInput, key: str | None) -> dict:
    order = order_store.get_order(order_id, consistent=True)
    if order is None or order.user_id != user_id:
        raise errors.NotFound("no such order")
    refund_id = _refund_id(order_id, user_id, key)
    existing = store.get_refund(order_id, refund_id)
    if existing is not None:
        if existing.request_hash != _digest(body):
            raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
        return view(existing)
    if order.status not in REFUNDABLE:
        raise errors.InvalidState(f"an order {order.status} cannot be refunded")
    left = int(order.refund_room or 0)
    amount = body.amount if body.amount is not None else left
    if amount < 1 or amount > left:
        raise errors.NotAcceptable(f"at most {left} fen can still be refunded")
    automatic = order.shipped_at is None
    now = clock.now_iso()
    status = store.PROCESSING if automatic else store.REQUESTED
    refund = RefundItem(*store.refund_key(order_id, refund_id), refund_id=refund_id, order_id=order_id,
                        user_id=user_id, amount=amount, reason=body.reason, status=status,
                        automatic=automatic, request_hash=_digest(body), created_at=now, updated_at=now,
                        gsi2pk=f"REFUNDS#{status}", gsi2sk=f"{now}#{refund_id}")
    tx = Tx()
    tx.put(refund, condition=RefundItem.pk.does_not_exist(), on_fail=_Changed)
    tx.update(order, actions=[
        OrderItem.refunding_amount.add(amount),
        OrderItem.refund_room.add(-amount),
        OrderItem.status.set("REFUNDING"),
        OrderItem.status_before_refund.set(
            order.status if order.status != "REFUNDING" else (order.status_before_refund or "PAID")),
    ], condition=OrderItem.status.is_in(*REFUNDABLE) & (OrderItem.refund_room >= amount),
        on_fail=lambda: errors.NotAcceptable("that is more than can still be refunded; nothing was refunded"))
    try:
        tx.commit()
    except _Changed:
        return request_refund(user_id, order_id, body, key)  # a concurrent retry won: replay it
    logger.info("refund requested", extra={"order_id": order_id, "refund_id": refund_id, "amount": amount})
    if automatic:
        _send(refund, order)
    return view(store.get_refund(order_id, refund_id))


def approve(refund_id: str) -> dict:
    order_id = store.order_id_of(refund_id)
    refund = store.get_refund(order_id, refund_id)
    if refund is None:
        raise errors.NotFound("no such refund")
    if refund.status == store.REQUESTED:
        now = clock.now_iso()
        try:
            refund.update(actions=[RefundItem.status.set(store.PROCESSING), RefundItem.updated_at.set(now),
                                   RefundItem.gsi2pk.set(f"REFUNDS#{store.PROCESSING}")],
                          condition=RefundItem.status == store.REQUESTED)
        except UpdateError:
            refund.refresh(consistent_read=True)
    if refund.status == store.PROCESSING:
        _send(refund, order_store.get_order(order_id))
    return view(store.get_refund(order_id, refund_id))


def reject(refund_id: str) -> dict:
    order_id = store.order_id_of(refund_id)
    refund = store.get_refund(order_id, refund_id)
    if refund is None:
        raise errors.NotFound("no such refund")
    if refund.status != store.REQUESTED:
        raise errors.InvalidState(f"a {refund.status} refund cannot be rejected")
    _finish(refund, store.REJECTED)
    return view(store.get_refund(order_id, refund_id))


def _send(refund: RefundItem, order: OrderItem) -> None:
    """Ask WeChat Pay; always with the same out_refund_no. If WeChat cannot be reached
    the refund stays PROCESSING and the refunds sweep asks again."""
    from layers.wechat.pay_client import WeChatPayError, WeChatPayUnavailable

    try:
        answer = wx.pay_client().refund(
            out_trade_no=refund.order_id, out_refund_no=refund.refund_id, refund_fen=int(refund.amount),
            total_fen=int(order.paid_amount or order.amounts["payable"]), reason=refund.reason,
            notify_url=wx.notify_url("/wechatpay/refund-notify"))
    except WeChatPayUnavailable:
        logger.warning("refund not sent yet", extra={"refund_id": refund.refund_id})
        return
    except WeChatPayError as exc:
        logger.error("WeChat Pay refused a refund", extra={"refund_id": refund.refund_id, "error": str(exc)})
        _finish(refund, store.ABNORMAL)
        return
    if answer.get("refund_id"):
        refund.update(actions=[RefundItem.wechat_refund_id.set(answer["refund_id"])])
    if answer.get("status") in ("SUCCESS", "CLOSED", "ABNORMAL"):
        _finish(refund, answer["status"])


def on_refund_result(refund_id: str, status: str) -> None:
    """A refund notification or query: SUCCESS, ABNORMAL or CLOSED (anything else waits)."""
    order_id = store.order_id_of(refund_id)
    refund = store.get_refund(order_id, refund_id)
    if refund is None:
        raise LookupError(f"no refund {refund_id}")
    if status in (store.SUCCESS, store.ABNORMAL, store.CLOSED):
        _finish(refund, status)


def _finish(refund: RefundItem, status: str) -> None:
    """One transition out of REQUESTED/PROCESSING, with the order's money moved in the same
    transaction; a second notification finds the refund finished and does nothing."""
    if refund.status not in (store.REQUESTED, store.PROCESSING):
        return
    order = order_store.get_order(refund.order_id, consistent=True)
    now = clock.now_iso()
    amount = int(refund.amount)
    paid = int(order.paid_amount or order.amounts["payable"])
    succeeded = status == store.SUCCESS
    refunded_after = int(order.refunded_amount or 0) + (amount if succeeded else 0)
    in_flight_after = int(order.refunding_amount or 0) - amount
    fully = succeeded and refunded_after >= paid
    if fully:
        new_status = "REFUNDED"
    elif in_flight_after > 0:
        new_status = "REFUNDING"
    else:
        new_status = order.status_before_refund or "PAID"
    # Nothing left the warehouse: a full refund puts the stock back on the shelf, once.
    release = fully and order.shipped_at is None and not order.released_at
    tx = Tx()
    tx.update(refund, actions=[RefundItem.status.set(status), RefundItem.updated_at.set(now),
                               RefundItem.gsi2pk.remove(), RefundItem.gsi2sk.remove()],
              condition=RefundItem.status.is_in(store.REQUESTED, store.PROCESSING), on_fail=_Changed)
    tx.update(order, actions=[
        OrderItem.refunding_amount.add(-amount),
        OrderItem.refunded_amount.add(amount) if succeeded else OrderItem.refund_room.add(amount),
        OrderItem.status.set(new_status),
        *([OrderItem.gsi2pk.remove(), OrderItem.gsi2sk.remove()] if fully else []),
        *([OrderItem.released_at.set(now)] if release else []),
    ])
    if release:
        for r in (order.notes or {}).get("reservations", []):
            reservations.release(tx, r)
    if fully and order.coupon_id and order.coupon_returnable:
        coupon_hooks.give_back_after_refund(tx, order.coupon_id, order.order_id, now)
    if succeeded:
        tx.put(ledger.refund_entry(ledger.beijing_day(None, clock.now()), refund.refund_id, amount, now))
        tx.put(outbox.new_event("order.refunded", refund.refund_id, {
            "order_id": order.order_id, "refund_id": refund.refund_id, "amount": amount,
            "order_payable": paid, "refunded_total": refunded_after, "user_id": order.user_id}, now))
    try:
        tx.commit()
    except _Changed:
        return
    logger.info("refund finished", extra={"order_id": order.order_id, "refund_id": refund.refund_id,
                                          "status": status})
    if succeeded:
        from layers.services.outbox import publish
        from layers.storage.outbox import OutboxItem, outbox_key

        try:
            publish(OutboxItem.get(*outbox_key(f"order.refunded:{refund.refund_id}")))
        except OutboxItem.DoesNotExist:
            pass


def refund_unfulfillable_payment(order: OrderItem, trade: dict) -> OrderItem:
    """Paid after the order was closed and its stock sold again: record the payment on the
    closed order and refund all of it, under one fixed out_refund_no."""
    from layers.storage.anomalies import record

    now = clock.now_iso()
    paid = int(trade["amount"]["total"])
    refund_id = f"{order.order_id}Rauto"
    refund = RefundItem(*store.refund_key(order.order_id, refund_id), refund_id=refund_id,
                        order_id=order.order_id, user_id=order.user_id, amount=paid,
                        reason="订单已关闭，库存不足，自动退款", status=store.PROCESSING, automatic=True,
                        created_at=now, updated_at=now, gsi2pk=f"REFUNDS#{store.PROCESSING}",
                        gsi2sk=f"{now}#{refund_id}")
    tx = Tx()
    tx.update(order, actions=[
        OrderItem.status.set("REFUNDING"), OrderItem.transaction_id.set(trade.get("transaction_id")),
        OrderItem.paid_amount.set(paid), OrderItem.paid_at.set(now), OrderItem.refunding_amount.set(paid),
        OrderItem.refund_room.set(0),
        OrderItem.status_before_refund.set("CLOSED"),
        # Its stock and coupon went back when it closed: the refund must not return them again.
        OrderItem.coupon_returnable.set(False),
    ], condition=(OrderItem.status == "CLOSED") & OrderItem.transaction_id.does_not_exist(), on_fail=_Changed)
    tx.put(refund, condition=RefundItem.pk.does_not_exist(), on_fail=_Changed)
    try:
        tx.commit()
    except _Changed:
        return order_store.get_order(order.order_id, consistent=True)
    record(order.order_id, "PAID_AFTER_CLOSE_REFUNDED", {"transaction_id": trade.get("transaction_id"),
                                                          "amount": paid})
    current = order_store.get_order(order.order_id, consistent=True)
    _send(refund, current)
    return order_store.get_order(order.order_id, consistent=True)


def sweep() -> dict:
    """Refunds still PROCESSING (WeChat unreachable when asked, or its notification lost):
    ask again with the same out_refund_no, or query it."""
    from layers.wechat.pay_client import WeChatPayError

    sent = finished = 0
    for candidate in store.waiting(store.PROCESSING):
        refund = store.get_refund(candidate.order_id, candidate.refund_id)
        if refund is None or refund.status != store.PROCESSING:
            continue
        try:
            answer = wx.pay_client().query_refund(refund.refund_id)
        except WeChatPayError:
            _send(refund, order_store.get_order(refund.order_id))
            sent += 1
            continue
        if answer.get("status") in ("SUCCESS", "CLOSED", "ABNORMAL"):
            _finish(refund, answer["status"])
            finished += 1
    return {"resent": sent, "finished": finished}
