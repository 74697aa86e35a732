"""An order's life: placement (priced here, stock and coupon held in the same
transaction that writes it), payment arguments, cancel/close, paid, ship, receipt.

The rules are `layers/domain/order.py`; this service reads, asks the domain, and writes
the answer as one transaction conditioned on the version it read. When the condition
fails someone else moved the order first: it reads again and decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial

from layers import qrcodes
from layers.clock import iso, parse_iso
from layers.domain import addresses as address_rules
from layers.domain import channels as channel_rules
from layers.domain import checkout, errors, paid_shares, pricing
from layers.domain import freight as freight_rules
from layers.domain import members as member_rules
from layers.domain import order as domain
from layers.domain import pickup as pickup_rules
from layers.domain import promotion_pricing as promo_rules
from layers.domain import user_coupon as user_coupon_rules
from layers.domain.order import CLOSED, COMPLETED, PAID, PENDING, SHIPPED, STATUSES, Change, Order
from layers.domain.order_counts import summary as counts_summary
from layers.domain.payment_gateway import (
    OrderNotFoundAtWeChat,
    WeChatPayError,
    WeChatPayUnavailable,
)
from layers.observability import logger

# The shopper's coupons a preview weighs: the newest this many (one query page).
PREVIEW_COUPONS = 100

# How often a transition is decided again after losing a race, before giving up (429).
ATTEMPTS = 8


class PaymentMismatch(Exception):
    """WeChat reports a payment that does not match the order (amount, merchant, app)."""


class _Stale(Exception):
    """The order left the version a decision was made from."""


class _Exists(Exception):
    """An order with this id is already stored (a retry of the same request)."""


class _BalanceMoved(Exception):
    """the balance changed since it was read (another payment): decide again."""


class OrderService:
    def __init__(self, *, orders, catalog, users, coupons, reservations, attribution, ledger, outbox,
                 publisher, anomalies, pay, expiry, refunds, clock, new_tx, settings, notify_url, reads,
                 members=None, rate_limiter=None, after_sales=None, pickup_codes=None, upload_pickup=None):
        # 门店自提 (layers/domain/pickup.py): the codes' uniqueness items, and
        # `upload_pickup` (layers.services.shipping.ShippingService): the 用户自提 upload a
        # redemption creates in its own transaction.
        self.pickup_codes = pickup_codes
        self.upload_pickup = upload_pickup
        # the after-sale repository: its open count joins the "my orders" row
        self.after_sales = after_sales
        # The shopper's order count of the minute, taken in the placement transaction
        # itself (layers.domain.rate_limit.RateLimiter.stage_hit): no round trip of its own.
        self.rate_limiter = rate_limiter
        # `members` (layers.services.members.MemberService): balance payment, points
        self.members = members
        # `reads` (layers.domain.placement.PlacementReader) fetches what placement
        # needs in one round trip; the expiry message is sent beside the prepay call.
        self.reads = reads
        self._beside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="order-beside")
        # the preview's coupon query, run beside placement's read
        self._beside_reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="order-preview")
        self.orders = orders
        self.catalog = catalog
        self.users = users
        self.coupons = coupons
        self.reservations = reservations
        self.attribution = attribution  # (user_id, share_token, now) -> distributor id or None
        self.ledger = ledger
        self.outbox = outbox
        self.publisher = publisher
        self.anomalies = anomalies
        self.pay = pay
        self.expiry = expiry
        self.refunds = refunds
        self.clock = clock
        self.new_tx = new_tx
        self.settings = settings
        self.notify_url = notify_url

    # -- views ------------------------------------------------------------------------

    def view(self, order: Order, for_shopper: bool = False) -> dict:
        """The order's body. A pickup order's code is shown whole only `for_shopper` (its
        shopper's own calls); everywhere else masked."""
        body = {
            "id": order.order_id,
            "status": str(order.status),
            "kind": order.kind,
            "items": [_item_view(i, paid) for i, paid in zip(order.items, paid_shares.line_paid(
                order.items, order.amounts), strict=True)],
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
            "refunded_amount": order.refunded_amount,
            "payment": None,
        }
        if order.flash_sale_id:
            body["flash_sale_id"] = order.flash_sale_id
        if order.channel:
            body["channel"] = order.channel
        if order.scene:
            body["scene"] = order.scene
        for r in order.reservations:  # a bargain order holds its instance
            if r.get("kind") == "bargain":
                body["bargain_instance_id"] = r["instance_id"]
            if r.get("kind") == "group":  # a group order holds a seat in its group
                body["group_id"] = r["group_id"]
        if order.pay_with == "balance":
            body["pay_with"] = "balance"
        if order.freight is not None:  # how the shipping fee was made up
            body["freight"] = order.freight
        if order.promotions:
            body["promotions"] = list(order.promotions)
        if order.shipping is not None:
            body["shipping"] = {**order.shipping, "upload_status": order.shipping_upload_status}
        if order.line_refunds:  # units refunded or being refunded, per line (refunds of lines)
            for index, line in enumerate(body["items"]):
                line["refunded_quantity"] = int((order.line_refunds.get(str(index)) or {}).get("units") or 0)
        if order.delivery is not None:
            body["delivery"] = dict(order.delivery)
            body["pickup"] = pickup_rules.view(order, for_shopper)
            if for_shopper and body["pickup"] and body["pickup"].get("code") and not body["pickup"].get("redeemed_at"):
                body["pickup"]["qrcode"] = qrcodes.data_url(order.pickup["code"])
        if order.status == PENDING and domain.prepay_fresh(order, self.clock.now()):
            body["payment"] = self.pay.jsapi_params(order.prepay_id)
        return body

    def get(self, order_id: str, consistent: bool = False) -> Order | None:
        return self.orders.get(order_id, consistent=consistent)

    def owned(self, user_id: str, order_id: str) -> Order:
        order = self.orders.get(order_id, consistent=True)
        if order is None or order.user_id != user_id:
            # Another shopper's order is indistinguishable from no order.
            raise errors.NotFound("no such order")
        return order

    def get_for_user(self, user_id: str, order_id: str) -> dict:
        return self._payable_view(self.owned(user_id, order_id))

    def _payable_view(self, order: Order) -> dict:
        """An unpaid order whose prepay id has lived its 2 hours (an order may wait for days)
        gets a new one, asked with the same out_trade_no and parameters, before answering.
        The shopper's own view (a pickup order's code in full)."""
        if order.status == PENDING and not domain.prepay_fresh(order, self.clock.now()):
            return self._with_prepay(order, close_on_failure=False)
        return self.view(order, for_shopper=True)

    def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: dict | None):
        if status is not None and status not in STATUSES:
            raise errors.InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
        orders, next_cursor = self.orders.list_for_user(user_id, status, limit, cursor)
        return [self.view(o, for_shopper=True) for o in orders], next_cursor

    def summary(self, user_id: str) -> dict:
        """The shopper's "my orders" row (`GET /me/orders/summary`): one read of their
        counters and of their open after-sales, whatever their history
        (layers/domain/order_counts.py)."""
        open_after_sales = self.after_sales.open_count(user_id) if self.after_sales is not None else 0
        return counts_summary(self.orders.counts(user_id), open_after_sales)

    # -- writing a decision -------------------------------------------------------------

    def _apply(self, change: Change, now: str, extra=None, delete: bool = False) -> None:
        """Write a transition with everything it moves, in one transaction conditioned on
        the order's version; then publish its events. Raises _Stale if the order moved."""
        tx = self.new_tx()
        if delete:
            self.orders.stage_delete(tx, change.before, on_stale=_Stale)
        else:
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
        for r in change.take:
            self.reservations.stage_take(tx, r)
        for r in change.release:
            self.reservations.stage_release(tx, r)
        order = change.before
        if change.coupon == "consume":
            self.coupons.stage_consume(tx, order.coupon_id, order.order_id, now)
        elif change.coupon == "retake":
            self.coupons.stage_retake(tx, order.coupon_id, order.order_id, now)
        elif change.coupon == "give_back":
            self.coupons.stage_give_back(tx, order.coupon_id, order.order_id, now)
        elif change.coupon == "give_back_used":
            self.coupons.stage_give_back_used(tx, order.coupon_id, order.order_id, now)
        for event in change.events:
            self.outbox.stage(tx, event, now)
        if extra is not None:
            extra(tx)
        tx.commit()
        for event in change.events:
            self.publisher.publish(event.event_id)

    # -- placement ----------------------------------------------------------------------

    def place_order(self, user_id: str, body, idempotency_key: str | None,
                    check_caller: Callable | None = None) -> dict:
        """`body` is the validated request (functions/schemas.PlaceOrderInput).

        Three round trips on the happy path: one read of everything (shopper, SKUs,
        settings, coupon, binding), the transaction, the prepay id. A retried request is
        not looked up first: the order's conditional put finds it (or, when a check
        before the write refuses, e.g. the stock it took is gone now, one read does).
        `check_caller(user)`: the caller's check on the shopper as that read finds them
        (their token's version), run before anything is decided or answered."""
        raw = body.model_dump(mode="json")
        digest = domain.request_hash(raw)
        order_id = domain.order_id_for(user_id, "orders", idempotency_key)
        quantities = pricing.merge_quantities([(i.sku_id, i.quantity) for i in body.items])
        checked = check_caller is None
        try:
            facts = self.reads.read(user_id, list(quantities), body.coupon_id,
                                    store_id=pickup_rules.store_id_of(raw.get("delivery")))
            if check_caller is not None:
                check_caller(facts.user)
                checked = True
            lines = _priced_lines(facts, quantities)
            reservations = [{"kind": "sku", "sku_id": ln.sku_id, "quantity": ln.quantity} for ln in lines]
            commissions = {sku_id: facts.skus[sku_id].commission for sku_id in quantities}
            return self.create_order(
                user_id=user_id, order_id=order_id, lines=lines, reservations_=reservations,
                coupon_id=body.coupon_id, address=raw.get("address"), address_id=raw.get("address_id"),
                share_token=body.share_token, channel=body.channel, scene=body.scene,
                digest=digest, idempotency_key=idempotency_key, commissions=commissions, facts=facts,
                pay_with=getattr(body, "pay_with", "wechat"), points=getattr(body, "points", None) or 0,
                delivery=raw.get("delivery"))
        except (errors.IdempotencyKeyReused, errors.UpstreamUnavailable):
            raise  # already about this very order
        except errors.DomainError as exc:
            if not checked:  # the caller was refused, or the read failed before they were checked
                if isinstance(exc, errors.Unauthorized):
                    raise
                check_caller(self.users.get_user(user_id))
            # A retry of a placed order may be refused by a check made for a new one (its
            # stock is gone, its coupon is held by itself): answer the order if it exists.
            if idempotency_key is not None:
                existing = self.orders.get(order_id, consistent=True)
                if existing is not None:
                    return self.replay(existing, digest)
            raise

    def _quote(self, facts, lines: list[pricing.Line], coupon_off: int, points: int,
               address: dict | None, promotions: promo_rules.Outcome | None = None,
               pickup: bool = False) -> checkout.Quote:
        """The order's amounts from what placement read: `checkout.quote`, the one pricing
        that placement and the preview share. Shipping by the freight templates the lines'
        SKUs name, for the address's province."""
        shop = facts.settings
        book = facts.points
        freight_lines = []
        for ln in lines:
            sku = facts.skus.get(ln.sku_id)
            freight_lines.append(freight_rules.FreightLine(
                sku_id=ln.sku_id, template_id=None if pickup else getattr(sku, "freight_template_id", None),
                quantity=ln.quantity, amount=ln.amount, weight_g=getattr(sku, "weight_g", None)))
        return checkout.quote(  # collected in a store: no shipping fee
            lines, coupon_off=coupon_off, shipping_fee=0 if pickup else shop.shipping_fee,
            free_shipping_threshold=shop.free_shipping_threshold,
            levels=list(facts.levels) if book is not None else [], growth=book.growth if book is not None else 0,
            points=points, point_value_fen=shop.point_value_fen, points_max_ratio_bps=shop.points_max_ratio_bps,
            points_available=(book.available if book is not None else 0) if self.members is not None else None,
            freight_lines=freight_lines, templates={} if pickup else facts.freight_templates,
            province=(address or {}).get("province"), promotions=promotions,
            coupon_rule=facts.coupon.as_rule() if coupon_off and facts.coupon is not None else None)

    def preview(self, user_id: str, body, check_caller: Callable | None = None) -> dict:
        """What `POST /orders` with this body would charge, changing nothing: no stock, coupon
        or points held, no prepay, no rate-limit count. The same read and the same pricing
        as placement (`_priced_lines`, `user_coupon.hold`'s discount, `_quote`), so what it
        answers is what the order charges unless prices, stock or campaigns change between.

        Two round trips, side by side: placement's one read, and one query of the
        shopper's coupons (the newest `PREVIEW_COUPONS`) for the list of usable and
        unusable ones."""
        quantities = pricing.merge_quantities([(i.sku_id, i.quantity) for i in body.items])
        wallet = self._beside_reads.submit(self.coupons.wallet, user_id, PREVIEW_COUPONS)
        try:
            raw = body.model_dump(mode="json")  # the address as placement keeps it
            delivery = raw.get("delivery")
            facts = self.reads.read(user_id, list(quantities), body.coupon_id,
                                    store_id=pickup_rules.store_id_of(delivery))
            if check_caller is not None:
                check_caller(facts.user)
            if facts.user is None:
                raise errors.Unauthorized("unknown shopper")
            now_dt = self.clock.now()
            listed = _priced_lines(facts, quantities)
            outcome = _promotion_outcome(facts, listed, now_dt, "normal")
            lines = _with_promotions(listed, outcome)
            coupon_off = 0
            if body.coupon_id:
                _check_coupon_allowed(outcome)
                # the discount placement would take, by the very rule that holds the coupon
                coupon_off, _ = user_coupon_rules.hold(facts.coupon, user_id, "preview", lines, now_dt)
            if pickup_rules.store_id_of(delivery):
                pickup_rules.check_store(facts.store, delivery["store_id"])
                address = None
            else:
                address = _address(facts, raw.get("address"), raw.get("address_id"))
            priced = self._quote(facts, lines, coupon_off, getattr(body, "points", None) or 0, address, outcome,
                                 pickup=bool(pickup_rules.store_id_of(delivery)))
        finally:
            coupons = wallet.result()
        book = facts.points
        offers = checkout.coupon_offers(
            coupons, lines, now_dt,
            cap=checkout.member_cap(lines, list(facts.levels) if book is not None else [],
                                    book.growth if book is not None else 0, promotion_off=outcome.discount),
            promotions_allow=outcome.coupons_allowed)
        return {
            "items": [_item_view(i, i["paid"]) for i in _order_items(lines, priced, outcome, None)],
            "promotions": {"applied": [a.as_dict() for a in outcome.applied],
                           "nearly": [n.as_dict() for n in outcome.nudges],
                           "gifts_unavailable": [{"id": p.promotion_id, "name": p.name, "gift_sku_id": p.gift_sku_id}
                                                 for p in outcome.gifts_unavailable]},
            "amounts": priced.amounts.as_dict(),
            "coupon_id": body.coupon_id,
            "points_used": priced.points_used,
            "address": address,
            **({"delivery": delivery} if delivery else {}),
            "shipping": priced.freight.as_dict(),
            "coupons": {"usable": offers["usable"], "unusable": offers["unusable"]},
            "best_coupon_id": offers["best_coupon_id"],
        }

    def create_order(self, *, user_id: str, order_id: str, lines: list[pricing.Line], reservations_: list[dict],
                     coupon_id: str | None, address: dict | None, share_token: str | None, digest: str,
                     idempotency_key: str | None, commissions: dict | None = None, kind: str = "normal",
                     flash_sale_id: str | None = None, extra_ops=None, facts=None,
                     expires_by: str | None = None,
                     pay_with: str = "wechat", points: int = 0, address_id: str | None = None,
                     channel: str | None = None, scene: int | None = None, delivery: dict | None = None,
                     _attempt: int = 0, _without_gifts: bool = False) -> dict:
        """Write the order with everything it holds in one transaction, then ask WeChat Pay
        for a prepay id. Shared by ordinary and flash-sale orders. `facts`: what
        `self.reads` answered, when the caller already read it. `expires_by`: the
        order expires no later than that (a group member's order, not after its group).
        `address_id`: one of the shopper's saved addresses, in place of `address`.
        `delivery` `{"kind": "pickup", "store_id"}`: collected in that store (it must hand
        orders over), with no address and no shipping fee.

        An ordinary order (`kind` "normal") takes part in the live promotions; a campaign's
        order (flash sale, group buy, bargain) is priced by its campaign and takes none.
        A gift line takes its stock in this transaction like any line; when another order
        took the last of it in between, the order is placed again without the gift
        (`_without_gifts`) rather than refused."""
        store_id = pickup_rules.store_id_of(delivery)
        if facts is None:  # the lines' SKUs too: their freight templates and weights
            facts = self.reads.read(user_id, [ln.sku_id for ln in lines], coupon_id, store_id=store_id)
        user = facts.user
        if user is None:
            raise errors.Unauthorized("unknown shopper")
        shop = facts.settings
        now_dt = self.clock.now()
        now = iso(now_dt)
        expires_at = iso(now_dt + timedelta(seconds=shop.order_payment_timeout_s))
        if expires_by is not None and parse_iso(expires_by) < parse_iso(expires_at):
            expires_at = iso(parse_iso(expires_by))

        if store_id:
            pickup_rules.check_store(facts.store, store_id)
            address, delivery = None, {"kind": pickup_rules.PICKUP, "store_id": store_id}
        else:
            address, delivery = _address(facts, address, address_id), None
        # no channel named: the last visit's while it is within the share binding window
        channel = channel_rules.order_channel(channel, facts.last_visit, now, shop.share_binding_ttl_s)
        outcome = _promotion_outcome(facts, lines, now_dt, kind, without_gifts=_without_gifts)
        priced_lines = _with_promotions(lines, outcome)
        tx = self.new_tx()
        discount = 0
        if coupon_id:
            _check_coupon_allowed(outcome)
            # a balance order is paid in this transaction: its coupon goes straight to used
            hold = self.coupons.stage_hold_used if pay_with == "balance" else self.coupons.stage_hold
            discount = hold(tx, user_id, coupon_id, order_id, priced_lines, now, before=facts.coupon)
        priced = self._quote(facts, priced_lines, discount, points, address, outcome, pickup=bool(store_id))
        amounts, points_used = priced.amounts, priced.points_used
        taking = _with_gift_reservations(reservations_, outcome)
        if points_used:
            taking = [*taking, {"kind": "points", "user_id": user_id, "order_id": order_id, "points": points_used}]
        distributor_id = self.attribution(user_id, share_token, now, binding=facts.binding)
        for r in taking:
            self.reservations.stage_take(tx, r)
        if extra_ops:
            extra_ops(tx)
        order = Order(
            order_id=order_id, user_id=user_id, openid=user.openid, status=PENDING, kind=kind,
            flash_sale_id=flash_sale_id,
            items=tuple(_order_items(priced_lines, priced, outcome, commissions)),
            amounts=amounts.as_dict(), coupon_id=coupon_id, address=address, distributor_id=distributor_id,
            share_token=share_token, channel=channel, scene=scene, request_hash=digest,
            idempotency_key=idempotency_key,
            created_at=now, expires_at=expires_at, reservations=tuple(taking),
            member={"points": points_used} if points_used else None, freight=priced.freight.as_dict(),
            promotions=tuple(a.as_dict() for a in outcome.applied), delivery=delivery)
        # -- a campaign's order: its review counts the placement (layers/domain/analytics.py) --
        placed = domain.placed_event(order)
        if placed is not None:
            self.outbox.stage(tx, placed, now)
        # -- a balance order is PAID in this transaction, with the balance debit --
        if pay_with == "balance":
            if self.members is None:
                raise errors.InvalidRequest("paying with the balance is not available")
            book = facts.balance if facts.balance is not None else member_rules.Book(user_id)
            split = self.members.stage_balance_payment(tx, user_id, order_id, amounts.payable, book, now,
                                                       on_short=_BalanceMoved, on_exists=_Exists)
            change = domain.pay_from_balance(order, split, now)
            if pickup_rules.is_pickup(order):  # its pickup code, unique in this transaction
                code = pickup_rules.new_code()
                change = pickup_rules.issued(change, code, shop.pickup_window_s, now)
                self.pickup_codes.stage_claim(tx, code, order_id, on_taken=_BalanceMoved)
            order = change.after
            for event in change.events:
                self.outbox.stage(tx, event, now)
        self.orders.stage_create(tx, order, on_exists=_Exists)
        if self.rate_limiter is not None:
            from layers.domain import rate_limit

            epoch = int(now_dt.timestamp())
            self.rate_limiter.stage_hit(tx, rate_limit.shopper_key(user_id, "orders"),
                                        rate_limit.SHOPPER_WRITE_LIMIT, rate_limit.SHOPPER_WRITE_WINDOW_S, epoch,
                                        on_full=lambda: rate_limit.shopper_limited(epoch))
        try:
            tx.commit()
        except _Exists:
            return self.replay(self.orders.get(order_id, consistent=True), digest)
        except errors.SoldOut as exc:
            gift_skus = {a.gift.sku_id for a in outcome.gifts()}
            if exc.details.get("sku_id") not in gift_skus or _without_gifts:
                raise
            logger.info("the gift ran out as the order was placed: placing it without",
                        extra={"order_id": order_id, "sku_id": exc.details.get("sku_id")})
            return self.create_order(
                user_id=user_id, order_id=order_id, lines=lines, reservations_=reservations_,
                coupon_id=coupon_id, address=address, share_token=share_token, channel=channel, scene=scene,
                digest=digest,
                idempotency_key=idempotency_key, commissions=commissions, kind=kind, flash_sale_id=flash_sale_id,
                extra_ops=extra_ops, facts=self.reads.read(user_id, [ln.sku_id for ln in lines], coupon_id,
                                                           store_id=store_id),
                expires_by=expires_by, pay_with=pay_with, points=points, delivery=delivery, _attempt=_attempt,
                _without_gifts=True)
        except _BalanceMoved:
            if _attempt + 1 >= ATTEMPTS:
                raise errors.RateLimited("the balance is busy; try again in a moment") from None
            return self.create_order(
                user_id=user_id, order_id=order_id, lines=lines, reservations_=reservations_,
                coupon_id=coupon_id, address=address, share_token=share_token, channel=channel, scene=scene,
                digest=digest,
                idempotency_key=idempotency_key, commissions=commissions, kind=kind, flash_sale_id=flash_sale_id,
                extra_ops=extra_ops, facts=self.reads.read(user_id, [ln.sku_id for ln in lines], coupon_id,
                                                           store_id=store_id),
                expires_by=expires_by,
                pay_with=pay_with, points=points, delivery=delivery, _attempt=_attempt + 1,
                _without_gifts=_without_gifts)
        if order.status == PAID:  # paid from the balance: no prepay, no expiry
            logger.append_keys(order_id=order_id)
            logger.info("order placed and paid from the balance", extra={"payable": amounts.payable})
            sent = (placed, *change.events) if placed else change.events
            for event in sent:  # written just now: sent without reading it back
                self.publisher.publish_written(event, now)
            return self.view(order, for_shopper=True)
        logger.append_keys(order_id=order_id)
        logger.info("order placed", extra={"payable": amounts.payable, "kind": kind})
        # The expiry message goes beside the prepay call, not after it: both are waits on
        # the network. It is still sent before we answer (a Lambda is frozen once it has
        # answered, so nothing may be left running); if it fails, the close-expired-orders
        # sweep closes the order (the order is durable and sits in its open-orders index).
        # A campaign order's placement event goes beside them too (a flash sale's hot path);
        # if it is not sent, the outbox relay sends it.
        beside = [self._beside.submit(self.expiry.schedule, order_id, expires_at)]
        if placed is not None:
            beside.append(self._beside.submit(self.publisher.publish_written, placed, now))
        try:
            return self._with_prepay(order)
        finally:
            for waiting in beside:
                waiting.result()

    def replay(self, existing: Order, digest: str) -> dict:
        """The answer to a retried request: the same order, or 422 if the body differs."""
        if existing.request_hash != digest:
            raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
        return self._payable_view(existing)

    def _with_prepay(self, order: Order, close_on_failure: bool = True) -> dict:
        """Ask WeChat Pay for the prepay id. If WeChat Pay cannot be reached for a new order,
        it is closed at once so that its stock and coupon are not held by an order nobody can
        pay; an older order (a prepay id renewed) stays as it is: it may have been paid."""
        asked_at = iso(self.clock.now())
        try:
            prepay_id = self.pay.jsapi_prepay(
                out_trade_no=order.order_id, description=domain.description(order),
                total_fen=order.payable, payer_openid=order.openid,
                notify_url=self.notify_url("/wechatpay/notify"), time_expire=parse_iso(order.expires_at))
        except WeChatPayError as exc:
            logger.warning("prepay failed", extra={"order_id": order.order_id, "error": str(exc)})
            if not close_on_failure:
                raise errors.UpstreamUnavailable("WeChat Pay could not renew the payment; try again") from exc
            self.close_unpaid(order.order_id, reason="PREPAY_FAILED", ask_wechat=False, delete=True)
            raise errors.UpstreamUnavailable(
                "WeChat Pay could not start the payment; nothing was charged and nothing is held, try again"
            ) from exc
        if self.orders.set_prepay_id(order.order_id, prepay_id, asked_at):
            return self.view(replace(order, prepay_id=prepay_id, prepay_at=asked_at))
        # Paid or closed meanwhile: answer with what it is now.
        return self.view(self.orders.get(order.order_id, consistent=True))

    # -- closing (cancel, expiry, prepay failure) -----------------------------------------

    def cancel(self, user_id: str, order_id: str) -> dict:
        order = self.owned(user_id, order_id)
        if order.status != PENDING:
            raise errors.InvalidState(f"an order can be cancelled only while {PENDING}; it is {order.status}")
        result = self.close_unpaid(order_id, reason="CANCELLED")
        if result is not None and result.status != CLOSED:
            raise errors.InvalidState(f"the order is {result.status} and cannot be cancelled")
        return self.view(result)

    def close_unpaid(self, order_id: str, reason: str, ask_wechat: bool = True,
                     delete: bool = False) -> Order | None:
        """Close an unpaid order and give back what it held, exactly once.

        Before closing, WeChat Pay is asked: if it says paid, the order becomes PAID instead.
        Raises UpstreamUnavailable when WeChat cannot be asked (the caller retries later)."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None or order.status != PENDING:
                return order
            if ask_wechat:
                paid = self._paid_at_wechat_or_closed(order)
                if paid is not None:
                    return self.mark_paid(order_id, paid)
                ask_wechat = False  # closed at WeChat: it cannot be paid any more
            now = iso(self.clock.now())
            try:
                self._apply(domain.close(order, reason, now), now, delete=delete)
            except _Stale:
                continue
            logger.info("order closed", extra={"order_id": order_id, "reason": reason})
            return None if delete else self.orders.get(order_id, consistent=True)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def _paid_at_wechat_or_closed(self, order: Order) -> dict | None:
        """WeChat's transaction if WeChat says it is paid; otherwise close it at WeChat so that
        it can no longer be paid, and return None."""
        try:
            trade = self.pay.query_order(order.order_id)
        except OrderNotFoundAtWeChat:
            return None
        except WeChatPayUnavailable as exc:
            raise errors.UpstreamUnavailable("WeChat Pay cannot be reached; try again") from exc
        if trade.get("trade_state") == "SUCCESS":
            return trade
        if trade.get("trade_state") in ("NOTPAY", "USERPAYING", "PAYERROR"):
            try:
                self.pay.close_order(order.order_id)
            except WeChatPayError as exc:
                # Paid in the instant between the query and the close?
                trade = self.pay.query_order(order.order_id)
                if trade.get("trade_state") == "SUCCESS":
                    return trade
                if isinstance(exc, WeChatPayUnavailable):
                    raise errors.UpstreamUnavailable("WeChat Pay cannot be reached; try again") from exc
                raise
        return None

    # -- payment ------------------------------------------------------------------------

    def mark_paid(self, order_id: str, trade: dict) -> Order | None:
        """Record a payment WeChat Pay confirms (a notification, a query, the bill).

        Exactly one PENDING_PAYMENT -> PAID transition; a payment for an order closed a
        moment earlier reinstates it (taking its stock again) or, if the stock is gone,
        refunds it. Raises PaymentMismatch when the payment is not this order's."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None:
                if order_id:
                    self._anomaly(order_id[:64], "PAYMENT_MISMATCH", trade, ["no such order"])
                logger.error("payment for an unknown order",
                             extra={"order_id": order_id, "alarm": "PAYMENT_MISMATCH"})
                raise PaymentMismatch(f"no order {order_id}")
            self._check_trade(order, trade)
            transaction_id = trade.get("transaction_id")
            if order.transaction_id == transaction_id and order.status != PENDING:
                return order  # the same payment, already recorded
            if not (order.status == PENDING or (order.status == CLOSED and not order.transaction_id)):
                # Paid twice (a second transaction for one order): record it for the operators.
                logger.error("second payment for an order",
                             extra={"order_id": order_id, "transaction_id": transaction_id})
                self._anomaly(order_id, "DUPLICATE_PAYMENT", trade)
                return order
            now_dt = self.clock.now()
            now = iso(now_dt)
            amount = int(trade["amount"]["total"])
            record_payment = partial(self.ledger.stage_payment, order_id=order_id, amount=amount,
                                     transaction_id=transaction_id, success_time=trade.get("success_time"),
                                     now=now_dt)
            change = domain.pay(order, transaction_id, amount, now)
            extra = record_payment
            if pickup_rules.is_pickup(order):  # its pickup code, claimed in the same transaction
                code = pickup_rules.new_code()
                change = pickup_rules.issued(change, code, self.catalog.load_settings().pickup_window_s, now)

                def extra(tx, code=code, record_payment=record_payment):
                    record_payment(tx)
                    self.pickup_codes.stage_claim(tx, code, order_id, on_taken=_Stale)
            try:
                self._apply(change, now, extra=extra)
            except _Stale:
                continue  # someone else moved it (or, astronomically rarely, the code is taken): again
            except errors.DomainError as exc:
                # Closed, then paid, and what it held went elsewhere meanwhile (its stock sold,
                # its coupon used, the shopper's flash-sale limit taken by another order):
                # it cannot be reinstated, whatever the reason: give the money back.
                logger.warning("paid after close and cannot be reinstated: refunding",
                               extra={"order_id": order_id, "reason": exc.code})
                return self.refunds.refund_unfulfillable_payment(order, trade, reason=exc.code)
            logger.info("order paid", extra={"order_id": order_id, "reinstated": order.status == CLOSED})
            return self.orders.get(order_id, consistent=True)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def _check_trade(self, order: Order, trade: dict) -> None:
        problems = domain.trade_problems(order, trade, self.settings.wechatpay_mchid, self.settings.wechat_appid)
        if problems:
            self._anomaly(order.order_id, "PAYMENT_MISMATCH", trade, problems)
            logger.error("payment does not match its order",
                         extra={"order_id": order.order_id, "problems": problems, "alarm": "PAYMENT_MISMATCH"})
            raise PaymentMismatch("; ".join(problems))

    def _anomaly(self, order_id: str, kind: str, trade: dict, problems: list | None = None) -> None:
        self.anomalies.record(order_id, kind, {"transaction_id": trade.get("transaction_id"),
                                               "amount": trade.get("amount"), "problems": problems or []})

    # -- shipping and receipt -----------------------------------------------------------

    def _transition(self, order_id: str, decide, already) -> Order:
        """Read, decide, write conditioned on the version read; again if someone was faster.
        `already(order)` says whether the order is already where the caller wants it."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None:
                raise errors.NotFound("no such order")
            if already(order):
                return order
            now = iso(self.clock.now())
            try:
                self._apply(decide(order, now), now)
            except _Stale:
                continue
            return self.orders.get(order_id, consistent=True)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def ship(self, order_id: str) -> dict:
        shop = self.catalog.load_settings()

        def decide(order: Order, now: str) -> Change:
            confirm_at = iso(parse_iso(now) + timedelta(seconds=shop.auto_confirm_receipt_s))
            return domain.ship(order, now, confirm_at)

        return self.view(self._transition(order_id, decide, lambda o: o.status == SHIPPED))

    def confirm_receipt(self, user_id: str | None, order_id: str, automatic: bool = False) -> dict:
        current = self.orders.get(order_id, consistent=True)
        if current is None or (user_id is not None and current.user_id != user_id):
            raise errors.NotFound("no such order")
        return self.view(self._transition(
            order_id, lambda order, now: domain.confirm_receipt(order, now, automatic),
            lambda o: o.status == COMPLETED))

    def redeem(self, order_id: str, store_id: str, by: str) -> dict:
        """Store staff hand a paid pickup order over (layers/domain/pickup.py): the receipt
        transition (`confirm_receipt`, so `order.completed` brings commissions and points
        exactly as a confirmed receipt does), with the 用户自提 shipping upload created in
        the same transaction (`order.shipped` uploads it). Conditioned on the version read:
        of two redemptions at once one completes the order and the other, reading again,
        is 409 ALREADY_REDEEMED."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            pickup_rules.redeemable(order, store_id)
            now = iso(self.clock.now())
            upload = self.upload_pickup.pickup_upload(order, now)
            change = domain.confirm_receipt(order, now, automatic=False,
                                            redemption=pickup_rules.redeemed(order, store_id, by, now),
                                            shipping=upload.info.as_dict(), upload_status=upload.status)
            try:
                self._apply(change, now, extra=lambda tx, upload=upload: self.upload_pickup.stage_upload(
                    tx, upload, on_exists=_Stale))
            except _Stale:
                continue
            logger.info("pickup order redeemed", extra={"order_id": order_id, "store_id": store_id})
            return self.view(change.after)
        raise errors.RateLimited("the order is busy; try again in a moment")

    # -- sweeps (scheduled jobs) --------------------------------------------------------

    def close_expired(self, limit: int = 500) -> dict:
        """The close-expired-orders job: everything the per-order delayed messages missed."""
        now = iso(self.clock.now())
        closed = paid = skipped = 0
        for candidate in self.orders.due(domain.OPEN_ORDERS, now, limit=limit):
            try:
                result = self.close_unpaid(candidate.order_id, reason="EXPIRED")
            except (errors.UpstreamUnavailable, errors.RateLimited):
                skipped += 1
                continue
            if result is None:
                continue
            if result.status == CLOSED:
                closed += 1
            elif result.status == PAID:
                paid += 1
        return {"closed": closed, "paid": paid, "skipped": skipped}

    def auto_confirm_receipts(self, limit: int = 500) -> dict:
        now = iso(self.clock.now())
        done = 0
        for candidate in self.orders.due(domain.SHIPPED_ORDERS, now, limit=limit):
            try:
                self.confirm_receipt(None, candidate.order_id, automatic=True)
                done += 1
            except errors.InvalidState:
                continue
        return {"confirmed": done}

    def on_expiry_message(self, message: dict) -> str:
        """One delayed expiry message: close the order if its time has come, or wait again."""
        if not self.expiry.due(message):
            return "rescheduled"
        result = self.close_unpaid(message["order_id"], reason="EXPIRED")
        return result.status if result is not None else "gone"


def _address(facts, address: dict | None, address_id: str | None) -> dict | None:
    """The address an order keeps: given inline, or one of the shopper's saved addresses
    (404 for an id that is not among theirs, another shopper's included)."""
    if address_id is None:
        return address
    saved = facts.addresses.get(address_id) if facts.addresses is not None else None
    if saved is None:
        raise errors.NotFound("no such address among yours")
    return address_rules.order_address(saved)


def _priced_lines(facts, quantities: dict[str, int]) -> list[pricing.Line]:
    """The order's lines at the SKUs' server-side prices, as placement read them: 404 for
    an unknown or withdrawn SKU, 409 SOLD_OUT when its stock cannot cover the quantity."""
    lines = []
    for sku_id, quantity in quantities.items():
        sku = facts.skus.get(sku_id)
        if sku is None or not sku.active:
            raise errors.NotFound(f"no such sku: {sku_id}", sku_id=sku_id)
        if int(sku.stock) < quantity:
            raise errors.SoldOut(f"not enough stock for sku {sku_id}", sku_id=sku_id)
        lines.append(pricing.Line(sku_id=sku_id, product_id=sku.product_id, title=sku.title,
                                  category=sku.category, quantity=quantity, unit_price=int(sku.price),
                                  category_ids=tuple(getattr(sku, "category_ids", ()) or ())))
    return lines


def _item_view(item: dict, paid: int) -> dict:
    """An order line as the API shows it: `paid` always (derived for an order stored before
    lines carried it); its promotion and whether it is a gift when they apply."""
    view = {"sku_id": item["sku_id"], "product_id": item.get("product_id"), "title": item.get("title"),
            "quantity": item["quantity"], "unit_price": item["unit_price"], "paid": paid}
    if item.get("promotion_id"):
        view["promotion_id"] = item["promotion_id"]
        view["promotion_discount"] = int(item.get("promotion_discount") or 0)
    if item.get("gift"):
        view["gift"] = True
    return view


def _promotion_outcome(facts, lines: list[pricing.Line], now, kind: str,
                       without_gifts: bool = False) -> promo_rules.Outcome:
    """The live promotions this order takes part in. Only an ordinary order takes any: a
    flash sale, a group buy or a bargain prices its order by its own rules. A gift's
    stock is what the read saw, less what the order itself buys of that SKU."""
    if kind != "normal" or not facts.promotions:
        return promo_rules.Outcome()
    bought = {ln.sku_id: ln.quantity for ln in lines}  # one line per SKU (merge_quantities)
    gifts = {}
    if not without_gifts:
        for p in facts.promotions:
            sku = facts.skus.get(p.gift_sku_id or "")
            if sku is not None and sku.active:
                gifts[sku.sku_id] = promo_rules.Gift(
                    sku_id=sku.sku_id, product_id=sku.product_id, title=sku.title, unit_price=int(sku.price),
                    available=max(0, int(sku.stock) - bought.get(sku.sku_id, 0)))
    return promo_rules.apply(lines, facts.promotions, now, new_customer=facts.new_customer, gifts=gifts)


def _with_promotions(lines: list[pricing.Line], outcome: promo_rules.Outcome) -> list[pricing.Line]:
    """The lines with what their promotion takes off them (a coupon applies to the rest)."""
    if not outcome.line_discounts:
        return lines
    return [replace(ln, promotion_off=outcome.line_discounts.get(ln.sku_id, 0)) for ln in lines]


def _check_coupon_allowed(outcome: promo_rules.Outcome) -> None:
    if not outcome.coupons_allowed:
        names = "、".join(a.promotion.name for a in outcome.applied if not a.promotion.with_coupons)
        raise errors.CouponNotApplicable(f"a coupon cannot be used with the promotion {names}",
                                         reason=checkout.NOT_WITH_PROMOTION)


def _with_gift_reservations(reservations: list[dict], outcome: promo_rules.Outcome) -> list[dict]:
    """The caller's reservations plus each gift's units: on the same SKU's reservation when
    the order buys that SKU too (one transaction may write an item only once)."""
    taking = [dict(r) for r in reservations]
    for a in outcome.gifts():
        same = next((r for r in taking if r.get("kind") == "sku" and r.get("sku_id") == a.gift.sku_id), None)
        if same is not None:
            same["quantity"] = int(same["quantity"]) + a.gift_quantity
        else:
            taking.append({"kind": "sku", "sku_id": a.gift.sku_id, "quantity": a.gift_quantity})
    return taking


def _order_items(lines: list[pricing.Line], priced: checkout.Quote, outcome: promo_rules.Outcome,
                 commissions: dict | None) -> list[dict]:
    """The order's lines as stored: each with its `paid` and, when it took part in one, its
    promotion and what that took off it; then one free line per gift."""
    items = []
    for ln, paid in zip(lines, priced.line_paid, strict=True):
        item = {"sku_id": ln.sku_id, "product_id": ln.product_id, "title": ln.title, "category": ln.category,
                "quantity": ln.quantity, "unit_price": ln.unit_price,
                "commission": (commissions or {}).get(ln.sku_id), "paid": paid}
        applied = outcome.promotion_of(ln.sku_id)
        if applied is not None:
            item["promotion_id"] = applied.promotion.promotion_id
            item["promotion_discount"] = applied.line_discounts.get(ln.sku_id, 0)
        items.append(item)
    for a in outcome.gifts():
        items.append({"sku_id": a.gift.sku_id, "product_id": a.gift.product_id, "title": a.gift.title,
                      "category": None, "quantity": a.gift_quantity, "unit_price": 0, "commission": None,
                      "paid": 0, "gift": True, "promotion_id": a.promotion.promotion_id, "promotion_discount": 0})
    return items
