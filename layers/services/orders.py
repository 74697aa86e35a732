"""An order's life: placement (priced here, stock and coupon held in the same
transaction that writes it), payment arguments, cancel/close, paid, ship, receipt.

Every transition is one conditional write on the order's status, so running it twice,
or two runs racing, changes the state once and gives stock or coupons back once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from pynamodb.exceptions import UpdateError

from layers import clock
from layers.config import settings
from layers.domain import errors, pricing
from layers.observability import logger
from layers.services import coupon_hooks, reservations
from layers.services import wechat as wx
from layers.storage import catalog, ledger, outbox
from layers.storage import orders as store
from layers.storage.orders import OrderItem
from layers.storage.tx import Tx
from layers.storage.users import get_user

PENDING = "PENDING_PAYMENT"
PAID = "PAID"
SHIPPED = "SHIPPED"
COMPLETED = "COMPLETED"
CLOSED = "CLOSED"
REFUNDING = "REFUNDING"
REFUNDED = "REFUNDED"
STATUSES = (PENDING, PAID, SHIPPED, COMPLETED, CLOSED, REFUNDING, REFUNDED)


class Address(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=20)
    province: str | None = Field(None, max_length=50)
    city: str | None = Field(None, max_length=50)
    district: str | None = Field(None, max_length=50)
    detail: str = Field(min_length=1, max_length=200)


class OrderLineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=999)


class PlaceOrderInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[OrderLineInput] = Field(min_length=1, max_length=50)
    coupon_id: str | None = Field(None, max_length=64)
    address: Address
    share_token: str | None = Field(None, max_length=64)


# -- ids and idempotency --------------------------------------------------------------

def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def order_id_for(user_id: str, scope: str, idempotency_key: str | None) -> str:
    """With a key, the id is derived from (user, scope, key), so a retry lands on the same
    order; WeChat's out_trade_no is this id (at most 32 characters of [0-9a-z])."""
    if idempotency_key is None:
        return catalog.new_id("o").replace("_", "")[:26]
    digest = hashlib.sha256(f"{user_id}\x00{scope}\x00{idempotency_key}".encode()).hexdigest()
    return "o" + digest[:25]


class _OrderExists(Exception):
    pass


# -- views ----------------------------------------------------------------------------

def view(order: OrderItem) -> dict:
    body = {
        "id": order.order_id,
        "status": order.status,
        "kind": order.kind,
        "items": [{"sku_id": i["sku_id"], "product_id": i.get("product_id"), "title": i.get("title"),
                   "quantity": i["quantity"], "unit_price": i["unit_price"]} for i in order.items],
        "amounts": order.amounts,
        "coupon_id": order.coupon_id,
        "address": order.address,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "shipped_at": order.shipped_at,
        "completed_at": order.completed_at,
        "closed_at": order.closed_at,
        "close_reason": order.close_reason,
        "refunded_amount": int(order.refunded_amount or 0),
        "payment": None,
    }
    if order.flash_sale_id:
        body["flash_sale_id"] = order.flash_sale_id
    if order.status == PENDING and order.prepay_id:
        from layers.wechat.paycrypto import jsapi_payment_params

        s = settings()
        body["payment"] = jsapi_payment_params(s.wechat_appid, order.prepay_id, wx.merchant_private_key())
    return body


def get_for_user(user_id: str, order_id: str) -> dict:
    order = store.get_order(order_id)
    if order is None or order.user_id != user_id:
        # Another shopper's order is indistinguishable from no order.
        raise errors.NotFound("no such order")
    return view(order)


def list_for_user(user_id: str, status: str | None, limit: int, cursor: dict | None):
    if status is not None and status not in STATUSES:
        raise errors.InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    orders, next_cursor = store.list_user_orders(user_id, status, limit, cursor)
    return [view(o) for o in orders], next_cursor


# -- placement ------------------------------------------------------------------------

def place_order(user_id: str, body: PlaceOrderInput, idempotency_key: str | None) -> dict:
    raw = body.model_dump(mode="json")
    digest = request_hash(raw)
    order_id = order_id_for(user_id, "orders", idempotency_key)
    if idempotency_key is not None:
        existing = store.get_order(order_id, consistent=True)
        if existing is not None:
            return replay(existing, digest)

    quantities = pricing.merge_quantities([(i.sku_id, i.quantity) for i in body.items])
    skus = catalog.get_skus(list(quantities))
    lines = []
    for sku_id, quantity in quantities.items():
        sku = skus.get(sku_id)
        if sku is None or not sku.active:
            raise errors.NotFound(f"no such sku: {sku_id}", sku_id=sku_id)
        if int(sku.stock) < quantity:
            raise errors.SoldOut(f"not enough stock for sku {sku_id}", sku_id=sku_id)
        lines.append(pricing.Line(sku_id=sku_id, product_id=sku.product_id, title=sku.title,
                                  category=sku.category, quantity=quantity, unit_price=int(sku.price)))
    reservation_list = [{"kind": "sku", "sku_id": ln.sku_id, "quantity": ln.quantity} for ln in lines]
    commissions = {sku_id: skus[sku_id].commission for sku_id in quantities}
    return create_order(
        user_id=user_id, order_id=order_id, lines=lines, reservations_=reservation_list,
        coupon_id=body.coupon_id, address=raw["address"], share_token=body.share_token,
        digest=digest, idempotency_key=idempotency_key, commissions=commissions,
    )


def create_order(*, user_id: str, order_id: str, lines: list[pricing.Line], reservations_: list[dict],
                 coupon_id: str | None, address: dict, share_token: str | None, digest: str,
                 idempotency_key: str | None, commissions: dict | None = None, kind: str = "normal",
                 flash_sale_id: str | None = None, extra_ops=None) -> dict:
    """Write the order with everything it holds in one transaction, then ask WeChat Pay
    for a prepay id. Shared by ordinary and flash-sale orders."""
    user = get_user(user_id)
    if user is None:
        raise errors.Unauthorized("unknown shopper")
    shop = catalog.load_settings()
    now_dt = clock.now()
    now = clock.iso(now_dt)
    expires_at = clock.iso(now_dt + timedelta(seconds=shop.order_payment_timeout_s))

    tx = Tx()
    discount = 0
    if coupon_id:
        discount = coupon_hooks.hold(tx, user_id, coupon_id, order_id, lines, now)
    goods = pricing.goods_total(lines)
    shipping = pricing.shipping_for(goods - discount, shop.shipping_fee, shop.free_shipping_threshold)
    amounts = pricing.price(lines, discount, shipping)
    distributor_id = _attribution(user_id, share_token, now)
    for r in reservations_:
        reservations.take(tx, r)
    if extra_ops:
        extra_ops(tx)
    order = OrderItem(
        *store.order_key(order_id), order_id=order_id, user_id=user_id, openid=user.openid,
        status=PENDING, kind=kind, flash_sale_id=flash_sale_id,
        items=[{"sku_id": ln.sku_id, "product_id": ln.product_id, "title": ln.title,
                "category": ln.category, "quantity": ln.quantity, "unit_price": ln.unit_price,
                "commission": (commissions or {}).get(ln.sku_id)} for ln in lines],
        amounts=amounts.as_dict(), coupon_id=coupon_id, address=address,
        distributor_id=distributor_id, share_token=share_token, request_hash=digest,
        idempotency_key=idempotency_key, created_at=now, expires_at=expires_at,
        notes={"reservations": reservations_},
        gsi1pk=f"USER#{user_id}#ORDERS", gsi1sk=f"{now}#{order_id}",
        gsi2pk=store.queue_key(store.OPEN_ORDERS, order_id), gsi2sk=f"{expires_at}#{order_id}",
    )
    tx.put(order, condition=OrderItem.pk.does_not_exist(), on_fail=_OrderExists)
    try:
        tx.commit()
    except _OrderExists:
        existing = store.get_order(order_id, consistent=True)
        return replay(existing, digest)
    logger.append_keys(order_id=order_id)
    logger.info("order placed", extra={"payable": amounts.payable, "kind": kind})
    from layers.services import expiry

    expiry.schedule(order_id, expires_at)
    return _with_prepay(order)


def replay(existing: OrderItem, digest: str) -> dict:
    """The answer to a retried request: the same order, or 422 if the body differs."""
    if existing.request_hash != digest:
        raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
    if existing.status == PENDING and not existing.prepay_id:
        return _with_prepay(existing)
    return view(existing)


def _attribution(user_id: str, share_token: str | None, now: str) -> str | None:
    from layers.services import distribution

    return distribution.distributor_for_order(user_id, share_token, now)


def _with_prepay(order: OrderItem) -> dict:
    """Ask WeChat Pay for the prepay id. If WeChat Pay cannot be reached, the order is
    closed at once so that its stock and coupon are not held by an order nobody can pay."""
    from layers.wechat.pay_client import WeChatPayError

    try:
        prepay_id = wx.pay_client().jsapi_prepay(
            out_trade_no=order.order_id,
            description=_description(order),
            total_fen=int(order.amounts["payable"]),
            payer_openid=order.openid,
            notify_url=wx.notify_url("/wechatpay/notify"),
            time_expire=clock.parse_iso(order.expires_at),
        )
    except WeChatPayError as exc:
        logger.warning("prepay failed", extra={"order_id": order.order_id, "error": str(exc)})
        close_unpaid(order.order_id, reason="PREPAY_FAILED", ask_wechat=False, delete=True)
        raise errors.UpstreamUnavailable(
            "WeChat Pay could not start the payment; nothing was charged and nothing is held, try again"
        ) from exc
    try:
        order.update(actions=[OrderItem.prepay_id.set(prepay_id)], condition=OrderItem.status == PENDING)
    except UpdateError:
        # Paid or closed meanwhile: answer with what it is now.
        order.refresh(consistent_read=True)
        return view(order)
    return view(order)


def _description(order: OrderItem) -> str:
    titles = [i.get("title") or i["sku_id"] for i in order.items]
    text = titles[0] + (f" 等{len(titles)}件" if len(titles) > 1 else "")
    return text[:127]


# -- closing (cancel, expiry, prepay failure) -------------------------------------------

def cancel(user_id: str, order_id: str) -> dict:
    order = store.get_order(order_id, consistent=True)
    if order is None or order.user_id != user_id:
        raise errors.NotFound("no such order")
    if order.status != PENDING:
        raise errors.InvalidState(f"an order can be cancelled only while {PENDING}; it is {order.status}")
    result = close_unpaid(order_id, reason="CANCELLED")
    if result is not None and result.status != CLOSED:
        raise errors.InvalidState(f"the order is {result.status} and cannot be cancelled")
    return view(result)


def close_unpaid(order_id: str, reason: str, ask_wechat: bool = True, delete: bool = False) -> OrderItem | None:
    """Close an unpaid order and give back what it held, exactly once.

    Before closing, WeChat Pay is asked: if it says paid, the order becomes PAID instead.
    Raises UpstreamUnavailable when WeChat cannot be asked (the caller retries later)."""
    order = store.get_order(order_id, consistent=True)
    if order is None or order.status != PENDING:
        return order
    if ask_wechat:
        paid = _paid_at_wechat_or_closed(order)
        if paid is not None:
            return mark_paid(order_id, paid)
    now = clock.now_iso()
    tx = Tx()
    cond = OrderItem.status == PENDING
    if delete:
        # Prepay never succeeded: nobody can pay this order, so it leaves no trace but a log.
        tx.delete(order, condition=cond, on_fail=_Changed)
    else:
        tx.update(order, actions=[
            OrderItem.status.set(CLOSED), OrderItem.closed_at.set(now), OrderItem.close_reason.set(reason),
            OrderItem.released_at.set(now), OrderItem.gsi2pk.remove(), OrderItem.gsi2sk.remove(),
        ], condition=cond, on_fail=_Changed)
    _give_back(tx, order, now)
    try:
        tx.commit()
    except _Changed:
        return store.get_order(order_id, consistent=True)
    logger.info("order closed", extra={"order_id": order_id, "reason": reason})
    if delete:
        return None
    order.refresh(consistent_read=True)
    return order


class _Changed(Exception):
    """The order left the expected state between our read and our write."""


def _give_back(tx: Tx, order: OrderItem, now: str) -> None:
    for r in (order.notes or {}).get("reservations", []):
        reservations.release(tx, r)
    if order.coupon_id:
        coupon_hooks.give_back(tx, order.coupon_id, order.order_id, now)


def _paid_at_wechat_or_closed(order: OrderItem) -> dict | None:
    """WeChat's transaction if WeChat says it is paid; otherwise close it at WeChat so that
    it can no longer be paid, and return None."""
    from layers.wechat.pay_client import OrderNotFoundAtWeChat, WeChatPayError, WeChatPayUnavailable

    client = wx.pay_client()
    try:
        trade = client.query_order(order.order_id)
    except OrderNotFoundAtWeChat:
        return None
    except WeChatPayUnavailable as exc:
        raise errors.UpstreamUnavailable("WeChat Pay cannot be reached; try again") from exc
    if trade.get("trade_state") == "SUCCESS":
        return trade
    if trade.get("trade_state") in ("NOTPAY", "USERPAYING", "PAYERROR"):
        try:
            client.close_order(order.order_id)
        except WeChatPayError as exc:
            # Paid in the instant between the query and the close?
            trade = client.query_order(order.order_id)
            if trade.get("trade_state") == "SUCCESS":
                return trade
            if isinstance(exc, WeChatPayUnavailable):
                raise errors.UpstreamUnavailable("WeChat Pay cannot be reached; try again") from exc
            raise
    return None


# -- payment --------------------------------------------------------------------------

class PaymentMismatch(Exception):
    """WeChat reports a payment that does not match the order (amount, merchant, app)."""


def mark_paid(order_id: str, trade: dict) -> OrderItem | None:
    """Record a payment WeChat Pay confirms (a notification, a query, the bill).

    Exactly one PENDING_PAYMENT -> PAID transition; a payment for an order closed a
    moment earlier reinstates it (taking its stock again) or, if the stock is gone,
    refunds it. Raises PaymentMismatch when the payment is not this order's."""
    order = store.get_order(order_id, consistent=True)
    if order is None:
        if order_id:
            _record_anomaly(order_id[:64], "PAYMENT_MISMATCH", trade, ["no such order"])
        logger.error("payment for an unknown order", extra={"order_id": order_id, "alarm": "PAYMENT_MISMATCH"})
        raise PaymentMismatch(f"no order {order_id}")
    _check_trade(order, trade)
    if order.transaction_id == trade.get("transaction_id") and order.status != PENDING:
        return order  # the same payment, already recorded
    if order.status == PENDING:
        return _pay(order, trade, reinstate=False)
    if order.status == CLOSED and not order.transaction_id:
        return _pay(order, trade, reinstate=True)
    # Paid twice (a second transaction for one order): record it for the operators.
    logger.error("second payment for an order", extra={"order_id": order_id,
                                                        "transaction_id": trade.get("transaction_id")})
    _record_anomaly(order_id, "DUPLICATE_PAYMENT", trade)
    return order


def _check_trade(order: OrderItem, trade: dict) -> None:
    s = settings()
    problems = []
    if trade.get("trade_state") != "SUCCESS":
        problems.append(f"trade_state {trade.get('trade_state')}")
    if s.wechatpay_mchid and trade.get("mchid") != s.wechatpay_mchid:
        problems.append("mchid")
    if s.wechat_appid and trade.get("appid") != s.wechat_appid:
        problems.append("appid")
    if trade.get("out_trade_no") != order.order_id:
        problems.append("out_trade_no")
    total = (trade.get("amount") or {}).get("total")
    if total != int(order.amounts["payable"]):
        problems.append(f"amount {total} != payable {order.amounts['payable']}")
    if problems:
        _record_anomaly(order.order_id, "PAYMENT_MISMATCH", trade, problems)
        logger.error("payment does not match its order",
                     extra={"order_id": order.order_id, "problems": problems, "alarm": "PAYMENT_MISMATCH"})
        raise PaymentMismatch("; ".join(problems))


def _record_anomaly(order_id: str, kind: str, trade: dict, problems: list | None = None) -> None:
    from layers.storage.anomalies import record

    record(order_id, kind, {"transaction_id": trade.get("transaction_id"),
                            "amount": trade.get("amount"), "problems": problems or []})


def _pay(order: OrderItem, trade: dict, reinstate: bool) -> OrderItem | None:
    now = clock.now_iso()
    tx = Tx()
    expected = CLOSED if reinstate else PENDING
    tx.update(order, actions=[
        OrderItem.status.set(PAID), OrderItem.paid_at.set(now),
        OrderItem.transaction_id.set(trade.get("transaction_id")),
        OrderItem.paid_amount.set(int(trade["amount"]["total"])),
        OrderItem.refund_room.set(int(trade["amount"]["total"])),
        OrderItem.gsi2pk.remove(), OrderItem.gsi2sk.remove(),
        *([OrderItem.released_at.remove(), OrderItem.close_reason.set(f"REINSTATED:{order.close_reason}")]
          if reinstate else []),
    ], condition=(OrderItem.status == expected), on_fail=_Changed)
    if reinstate:
        for r in (order.notes or {}).get("reservations", []):
            reservations.take(tx, r)
    if order.coupon_id and not reinstate:
        coupon_hooks.consume(tx, order.coupon_id, order.order_id, now)
    tx.put(ledger.payment_entry(ledger.beijing_day(trade.get("success_time"), clock.now()), order.order_id,
                                int(trade["amount"]["total"]), trade.get("transaction_id"), now))
    tx.put(outbox.new_event("order.paid", order.order_id, {
        "order_id": order.order_id, "user_id": order.user_id, "payable": int(order.amounts["payable"]),
        "transaction_id": trade.get("transaction_id"), "reinstated": reinstate}, now))
    try:
        tx.commit()
    except _Changed:
        return mark_paid(order.order_id, trade)  # someone else moved it: decide again
    except errors.SoldOut:
        # Closed, its stock sold to someone else, then paid: give the money back.
        logger.warning("paid after close and stock is gone: refunding", extra={"order_id": order.order_id})
        from layers.services import refunds

        return refunds.refund_unfulfillable_payment(order, trade)
    logger.info("order paid", extra={"order_id": order.order_id, "reinstated": reinstate})
    from layers.services.outbox import publish
    from layers.storage.outbox import OutboxItem, outbox_key

    try:
        publish(OutboxItem.get(*outbox_key(f"order.paid:{order.order_id}")))
    except OutboxItem.DoesNotExist:
        pass
    return store.get_order(order.order_id, consistent=True)


# -- shipping and receipt -----------------------------------------------------------------

def ship(order_id: str) -> dict:
    shop = catalog.load_settings()
    now_dt = clock.now()
    now = clock.iso(now_dt)
    confirm_at = clock.iso(now_dt + timedelta(seconds=shop.auto_confirm_receipt_s))
    order = store.order_ref(order_id)
    try:
        order.update(actions=[
            OrderItem.status.set(SHIPPED), OrderItem.shipped_at.set(now),
            OrderItem.gsi2pk.set(store.queue_key(store.SHIPPED_ORDERS, order_id)),
            OrderItem.gsi2sk.set(f"{confirm_at}#{order_id}"),
        ], condition=(OrderItem.status == PAID))
    except UpdateError as exc:
        current = store.get_order(order_id, consistent=True)
        if current is None:
            raise errors.NotFound("no such order") from exc
        if current.status == SHIPPED:
            return view(current)
        raise errors.InvalidState(f"only a {PAID} order can be shipped; it is {current.status}") from exc
    return view(store.get_order(order_id, consistent=True))


def confirm_receipt(user_id: str | None, order_id: str, automatic: bool = False) -> dict:
    current = store.get_order(order_id, consistent=True)
    if current is None or (user_id is not None and current.user_id != user_id):
        raise errors.NotFound("no such order")
    if current.status == COMPLETED:
        return view(current)
    now = clock.now_iso()
    tx = Tx()
    tx.update(current, actions=[
        OrderItem.status.set(COMPLETED), OrderItem.completed_at.set(now),
        OrderItem.gsi2pk.remove(), OrderItem.gsi2sk.remove(),
    ], condition=(OrderItem.status == SHIPPED), on_fail=_Changed)
    tx.put(outbox.new_event("order.completed", order_id, {
        "order_id": order_id, "user_id": current.user_id, "completed_at": now, "automatic": automatic}, now))
    try:
        tx.commit()
    except _Changed as exc:
        current = store.get_order(order_id, consistent=True)
        if current.status == COMPLETED:
            return view(current)
        raise errors.InvalidState(f"only a {SHIPPED} order can be received; it is {current.status}") from exc
    from layers.services.outbox import publish
    from layers.storage.outbox import OutboxItem, outbox_key

    try:
        publish(OutboxItem.get(*outbox_key(f"order.completed:{order_id}")))
    except OutboxItem.DoesNotExist:
        pass
    return view(store.get_order(order_id, consistent=True))


# -- sweeps (scheduled jobs) ------------------------------------------------------------

def close_expired(limit: int = 500) -> dict:
    """The close-expired-orders job: everything the per-order delayed messages missed."""
    now = clock.now_iso()
    closed = paid = skipped = 0
    for candidate in store.due(store.OPEN_ORDERS, now, limit=limit):
        try:
            result = close_unpaid(candidate.order_id, reason="EXPIRED")
        except errors.UpstreamUnavailable:
            skipped += 1
            continue
        if result is None:
            continue
        if result.status == CLOSED:
            closed += 1
        elif result.status == PAID:
            paid += 1
    return {"closed": closed, "paid": paid, "skipped": skipped}


def auto_confirm_receipts(limit: int = 500) -> dict:
    now = clock.now_iso()
    done = 0
    for candidate in store.due(store.SHIPPED_ORDERS, now, limit=limit):
        try:
            confirm_receipt(None, candidate.order_id, automatic=True)
            done += 1
        except errors.InvalidState:
            continue
    return {"confirmed": done}
