"""Refunds: asked for by the shopper (full or partial), approved automatically while the
order is unshipped or by an operator once shipped, sent to WeChat Pay under a fixed
`out_refund_no`, and finished by WeChat's refund notification (or a query).

Money bookkeeping on the order (`layers/domain/order.py`): `refunding_amount` holds
what is in flight, `refunded_amount` what WeChat confirmed, `refund_room` what is left.
A refund's end is one transaction: the refund conditioned on its status, the order on
the version the new amounts and status were computed from. Two refunds finishing
together cannot both compute from the same snapshot: the second re-reads and decides
again, so the last one to finish sees everything refunded.
"""

from __future__ import annotations

from layers.clock import iso
from layers.domain import after_sale as after_sale_rules
from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain import refund as domain
from layers.domain.order import Change, Order
from layers.domain.payment_gateway import OrderNotFoundAtWeChat, WeChatPayError, retry_later
from layers.domain.refund import ABNORMAL, PROCESSING, REQUESTED, Refund
from layers.observability import logger

ATTEMPTS = 8


class _Stale(Exception):
    """The order or the refund moved since it was read."""


class _Exists(Exception):
    pass


_UNKNOWN = object()  # a query without a known outcome
# Why a payment that came after its order closed is refunded (WeChat shows the reason).
_LATE_PAYMENT_REASONS = {"SOLD_OUT": "订单已关闭，库存不足，自动退款",
                         "COUPON_NOT_APPLICABLE": "订单已关闭，优惠券已用于其他订单，自动退款",
                         "LIMIT_EXCEEDED": "订单已关闭，已达限购数量，自动退款"}


class RefundService:
    def __init__(self, *, orders, refunds, reservations, coupons, ledger, outbox, publisher, anomalies,
                 pay, clock, new_tx, notify_url, members=None, after_sales=None):
        # the after-sales repository: an after-sale's refund moves it when it ends
        self.after_sales = after_sales
        # refunds of balance-paid orders go back to the balance (MemberService)
        self.members = members
        self.orders = orders
        self.refunds = refunds
        self.reservations = reservations
        self.coupons = coupons
        self.ledger = ledger
        self.outbox = outbox
        self.publisher = publisher
        self.anomalies = anomalies
        self.pay = pay
        self.clock = clock
        self.new_tx = new_tx
        self.notify_url = notify_url

    @staticmethod
    def view(refund: Refund, admin: bool = False) -> dict:
        view = {"id": refund.refund_id, "order_id": refund.order_id, "amount": refund.amount,
                "status": str(refund.status), "reason": refund.reason, "automatic": refund.automatic,
                "created_at": refund.created_at, "updated_at": refund.updated_at}
        if refund.lines:
            view["items"] = [{"sku_id": ln["sku_id"], "quantity": ln["units"], "amount": ln["amount"]}
                             for ln in refund.lines]
        if admin:
            view["last_error"] = refund.last_error  # NOT_ENOUGH (top up the merchant balance), ...
        return view

    def _now(self) -> str:
        return iso(self.clock.now())

    def _get(self, refund_id: str) -> Refund:
        refund = self.refunds.get(domain.order_id_of(refund_id), refund_id)
        if refund is None:
            raise errors.NotFound("no such refund")
        return refund

    # -- asking ---------------------------------------------------------------------------

    def for_order(self, order_id: str) -> list[dict]:
        return [self.view(r) for r in self.refunds.for_order(order_id)]

    def waiting(self, status: str) -> list[dict]:
        """The refunds waiting in one of the open statuses (the only ones with a queue)."""
        if status not in domain.OPEN:
            raise errors.InvalidRequest(f"status: one of {', '.join(domain.OPEN)}")
        return [self.view(r, admin=True) for r in self.refunds.waiting(status, limit=100)]

    def request_refund(self, user_id: str, order_id: str, body, key: str | None) -> dict:
        """`body` is the validated request (functions/schemas.RefundInput): an amount, or
        order lines' units (`items`), refunded for what those units paid."""
        asked = body.model_dump(mode="json")
        if asked.get("items") is None:
            asked.pop("items", None)  # an amount's request hashes as it did before refunds of lines
        digest = order_rules.request_hash(asked)
        wanted = [dict(i) for i in asked["items"]] if asked.get("items") else None
        refund_id = domain.refund_id_for(order_id, user_id, key)
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None or order.user_id != user_id:
                raise errors.NotFound("no such order")
            existing = self.refunds.get(order_id, refund_id)
            if existing is not None:
                if existing.request_hash != digest:
                    raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
                return self.view(existing)
            if wanted is None:
                amount, change = order_rules.request_refund(order, body.amount)
                lines: tuple[dict, ...] = ()
            else:
                amount, lines, change = order_rules.request_line_refund(order, wanted)
            automatic = order.shipped_at is None
            now = self._now()
            refund = Refund(refund_id=refund_id, order_id=order_id, user_id=user_id, amount=amount,
                            reason=body.reason, status=PROCESSING if automatic else REQUESTED,
                            automatic=automatic, request_hash=digest, created_at=now, updated_at=now,
                            lines=lines)
            tx = self.new_tx()
            self.refunds.stage_create(tx, refund, on_exists=_Exists)
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
            try:
                tx.commit()
            except (_Exists, _Stale):
                continue  # a concurrent retry or refund won: look again
            logger.info("refund requested", extra={"order_id": order_id, "refund_id": refund_id, "amount": amount})
            if automatic:
                self._send(refund, change.after)
            return self.view(self.refunds.get(order_id, refund_id))
        raise errors.RateLimited("the order is busy; try again in a moment")

    def refund_by_merchant(self, order_id: str, body, key: str) -> dict:
        """An operator refunds a paid order, all or part (the console): the same
        refund a shopper's request makes (the order's refund room, its coupon and stock,
        WeChat Pay), approved at once since the merchant decided it. `key` makes a
        resubmitted form the same refund; `body` is functions/schemas.RefundInput."""
        order = self.orders.get(order_id, consistent=True)
        if order is None:
            raise errors.NotFound("no such order")
        refund = self.request_refund(order.user_id, order_id, body, f"merchant:{key}")
        if refund["status"] == REQUESTED:
            refund = self.approve(refund["id"])
        return refund

    def refund_after_sale(self, order_id: str, after_sale_id: str, who: str, note: str | None = None) -> Refund:
        """Refund an after-sale that is due its refund: its units for its amount, as a
        refund of those lines, approved (the merchant decided it), written with the
        after-sale's move to REFUNDING in one transaction. Its refund id derives from the
        after-sale and its attempt, so asking again is the same refund."""
        for _ in range(ATTEMPTS):
            a = self.after_sales.get(order_id, after_sale_id)
            if a is None:
                raise errors.NotFound("no such after-sale")
            if a.status in (after_sale_rules.REFUNDING, after_sale_rules.REFUNDED) and a.refund_id:
                return self.refunds.get(order_id, a.refund_id)
            order = self.orders.get(order_id, consistent=True)
            refund_id = domain.refund_id_for(order_id, a.user_id, after_sale_rules.refund_key(a))
            amount, lines, change = order_rules.request_line_refund(order, [dict(i) for i in a.items], a.amount)
            now_dt = self.clock.now()
            now = iso(now_dt)
            moved = after_sale_rules.start_refund(a, who, refund_id, now_dt, note)
            refund = Refund(refund_id=refund_id, order_id=order_id, user_id=a.user_id, amount=amount,
                            reason=f"售后退款：{after_sale_rules.reason_text(a.reason_code)}", status=PROCESSING,
                            created_at=now, updated_at=now, lines=lines, after_sale_id=a.after_sale_id)
            tx = self.new_tx()
            self.refunds.stage_create(tx, refund, on_exists=_Exists)
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
            self.after_sales.stage_change(tx, moved.before, moved.after, on_stale=_Stale)
            for event in moved.events:
                self.outbox.stage(tx, event, now)
            try:
                tx.commit()
            except (_Exists, _Stale):
                continue  # a concurrent answer or refund won: look again
            logger.info("after-sale refund requested", extra={"order_id": order_id, "refund_id": refund_id,
                                                              "after_sale_id": after_sale_id, "amount": amount})
            for event in moved.events:
                self.publisher.publish(event.event_id)
            self._send(refund, change.after)
            return self.refunds.get(order_id, refund_id)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def _stage_after_sale(self, tx, refund: Refund, succeeded: bool, now_dt, now: str) -> tuple:
        """The after-sale this refund refunds, moved by its end (REFUNDED, or back to be
        tried again), in the refund's transaction; the events to publish after it."""
        if not refund.after_sale_id or self.after_sales is None:
            return ()
        a = self.after_sales.get(refund.order_id, refund.after_sale_id)
        moved = None if a is None else after_sale_rules.refund_ended(a, refund.refund_id, succeeded, now_dt)
        if moved is None:
            return ()
        self.after_sales.stage_change(tx, moved.before, moved.after, on_stale=_Stale)
        for event in moved.events:
            self.outbox.stage(tx, event, now)
        return moved.events

    def approve(self, refund_id: str) -> dict:
        refund = self._get(refund_id)
        if refund.status == REQUESTED:
            tx = self.new_tx()
            self.refunds.stage_change(tx, refund, domain.approve(refund, self._now()), on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                pass  # approved (or finished) by someone else meanwhile
            refund = self._get(refund_id)
        if refund.status == PROCESSING:
            self._send(refund, self.orders.get(refund.order_id))
        return self.view(self._get(refund_id))

    def reject(self, refund_id: str) -> dict:
        refund = self._get(refund_id)
        if refund.status != REQUESTED:
            raise errors.InvalidState(f"a {refund.status} refund cannot be rejected")
        self._finish(refund_id, domain.REJECTED)
        return self.view(self._get(refund_id))

    # -- WeChat Pay -----------------------------------------------------------------------

    def _send(self, refund: Refund, order: Order) -> None:
        """Ask WeChat Pay; always with the same out_refund_no. An outcome that is not known
        (timeout, 5xx, 429, NOT_ENOUGH, the one-minute spacing, an answer that does not
        verify) leaves the refund PROCESSING: the sweep asks WeChat and sends it again with
        the same number. Only a refusal WeChat documents as final, confirmed by a query
        that finds no such refund, fails it."""
        if order is not None and order.pay_with == "balance" and self.members is not None:
            # back to the balance, in the refund's finishing transaction; no WeChat.
            self._finish(refund.refund_id, domain.SUCCESS)
            return
        try:
            answer = self.pay.refund(
                out_trade_no=refund.order_id, out_refund_no=refund.refund_id, refund_fen=refund.amount,
                total_fen=order.paid, reason=refund.reason, notify_url=self.notify_url("/wechatpay/refund-notify"))
        except WeChatPayError as exc:
            if retry_later(exc):
                logger.warning("refund not settled yet; the sweep asks again",
                               extra={"refund_id": refund.refund_id, "code": exc.code})
                self._note_error(refund, exc.code)
                return
            known = self._query(refund)
            if known is _UNKNOWN:
                self._note_error(refund, exc.code)
                return
            if known is None:
                logger.error("WeChat Pay refused a refund", extra={"refund_id": refund.refund_id, "code": exc.code,
                                                                   "reason": exc.message})
                self._finish(refund.refund_id, domain.FAILED, error=f"{exc.code}: {exc.message}")
                return
            answer = known
        self._follow(refund, answer)

    def _query(self, refund: Refund):
        """WeChat's view of the refund: its answer, None when WeChat has no such refund, or
        _UNKNOWN when the query itself has no known outcome."""
        try:
            return self.pay.query_refund(refund.refund_id)
        except OrderNotFoundAtWeChat:
            return None
        except WeChatPayError as exc:
            logger.warning("refund query without an answer", extra={"refund_id": refund.refund_id,
                                                                    "code": exc.code})
            return _UNKNOWN

    def _follow(self, refund: Refund, answer: dict) -> None:
        """What WeChat says of the refund (an answer to the request, or to a query)."""
        if answer.get("refund_id") and answer["refund_id"] != refund.wechat_refund_id:
            self.refunds.set_wechat_refund_id(refund, answer["refund_id"], answer.get("create_time"))
        status = answer.get("status") or answer.get("refund_status")
        if status in domain.WECHAT_FINAL:
            self._finish(refund.refund_id, status)
        elif status == domain.ABNORMAL:
            self._mark_abnormal(refund.refund_id)

    def _note_error(self, refund: Refund, code: str) -> None:
        current = self.refunds.get(refund.order_id, refund.refund_id)
        if current is None or current.last_error == code or not current.open:
            return
        tx = self.new_tx()
        self.refunds.stage_change(tx, current, domain.note_error(current, code, self._now()), on_stale=_Stale)
        try:
            tx.commit()
        except _Stale:
            pass  # it moved on: the note no longer matters

    def _mark_abnormal(self, refund_id: str) -> None:
        """WeChat could not pay the money back (the payer's card was cancelled, ...). The
        refund keeps its room: an operator sends it to a bank card through WeChat's
        abnormal-refund API. A new refund would pay twice once WeChat resolves this one."""
        order_id = domain.order_id_of(refund_id)
        for _ in range(ATTEMPTS):
            refund = self.refunds.get(order_id, refund_id)
            if refund is None or refund.status != PROCESSING:
                return
            tx = self.new_tx()
            self.refunds.stage_change(tx, refund, domain.abnormal(refund, self._now()), on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            self.anomalies.record(order_id, "REFUND_ABNORMAL", {"refund_id": refund_id, "amount": refund.amount})
            logger.error("refund abnormal: an operator must apply the abnormal refund",
                         extra={"refund_id": refund_id, "alarm": "REFUND_ABNORMAL"})
            return

    def apply_abnormal(self, refund_id: str, body) -> dict:
        """An operator sends an ABNORMAL refund to a bank card (WeChat's 发起异常退款),
        under the same refund: `body` is functions/schemas.AbnormalRefundInput."""
        refund = self._get(refund_id)
        if refund.status != ABNORMAL:
            raise errors.InvalidState(f"only an {ABNORMAL} refund can be sent to a bank card; it is {refund.status}")
        if not refund.wechat_refund_id:
            known = self._query(refund)
            if not isinstance(known, dict) or not known.get("refund_id"):
                raise errors.UpstreamUnavailable("WeChat Pay did not say which refund this is; try again")
            self.refunds.set_wechat_refund_id(refund, known["refund_id"])
            refund = self._get(refund_id)
        try:
            answer = self.pay.apply_abnormal_refund(
                refund.wechat_refund_id, refund.refund_id, body.type, bank_type=body.bank_type,
                bank_account=body.bank_account, real_name=body.real_name)
        except WeChatPayError as exc:
            if retry_later(exc):
                raise errors.UpstreamUnavailable("WeChat Pay did not answer; try again") from exc
            raise errors.NotAcceptable(f"WeChat Pay refused it: {exc.code} {exc.message}") from exc
        tx = self.new_tx()
        self.refunds.stage_change(tx, refund, domain.abnormal_applied(refund, self._now()), on_stale=_Stale)
        try:
            tx.commit()
        except _Stale:
            pass  # a notification moved it meanwhile
        logger.info("abnormal refund applied", extra={"refund_id": refund_id, "type": body.type})
        if answer.get("status") in domain.WECHAT_FINAL:
            self._finish(refund_id, answer["status"])
        return self.view(self._get(refund_id), admin=True)

    def on_refund_result(self, refund_id: str, status: str, resource: dict | None = None,
                         event_type: str | None = None) -> None:
        """A verified refund notification (with its resource and event_type), or a query."""
        refund = self.refunds.get(domain.order_id_of(refund_id), refund_id)
        if refund is None:
            raise LookupError(f"no refund {refund_id}")
        if resource is not None:
            problems = domain.notification_problems(refund, event_type or "", resource)
            if problems:
                self.anomalies.record(refund.order_id, "REFUND_MISMATCH", {"refund_id": refund_id,
                                                                           "problems": problems})
                logger.error("refund notification does not match its refund",
                             extra={"refund_id": refund_id, "problems": problems, "alarm": "REFUND_MISMATCH"})
                return
        if status == domain.SUCCESS and refund.status in (domain.FAILED, domain.CLOSED):
            self._late_success(refund)
        elif status in domain.WECHAT_FINAL:
            self._finish(refund_id, status)
        elif status == domain.ABNORMAL:
            self._mark_abnormal(refund_id)

    def _late_success(self, refund: Refund) -> None:
        """WeChat says a refund we recorded as failed succeeded: the money moved. Record it on
        the order (its room taken again) and raise the alarm; never ignore it."""
        self.anomalies.record(refund.order_id, "REFUND_SUCCEEDED_AFTER_FAILURE",
                              {"refund_id": refund.refund_id, "amount": refund.amount, "was": str(refund.status)})
        logger.error("refund recorded as failed succeeded at WeChat",
                     extra={"refund_id": refund.refund_id, "alarm": "REFUND_SUCCEEDED_AFTER_FAILURE"})
        for _ in range(ATTEMPTS):
            current = self.refunds.get(refund.order_id, refund.refund_id)
            if current is None or current.status == domain.SUCCESS:
                return
            order = self.orders.get(refund.order_id, consistent=True)
            now_dt = self.clock.now()
            now = iso(now_dt)
            change = order_rules.late_refund_success(order, current.refund_id, current.amount, now, current.lines)
            tx = self.new_tx()
            self.refunds.stage_change(tx, current, domain.succeeded_late(current, now), on_stale=_Stale)
            self._stage_order_change(tx, change, now)
            self.ledger.stage_refund(tx, current.refund_id, current.amount, now_dt,
                                     requested_at=current.accepted_at or current.updated_at)
            followed = self._stage_after_sale(tx, current, True, now_dt, now)
            try:
                tx.commit()
            except _Stale:
                continue
            for event in (*change.events, *followed):
                self.publisher.publish(event.event_id)
            return
        raise errors.RateLimited("the order is busy; try again in a moment")

    def _finish(self, refund_id: str, status: str, error: str | None = None) -> None:
        """One transition out of REQUESTED/PROCESSING, with the order's money moved in the
        same transaction; a second notification finds the refund finished and does nothing."""
        order_id = domain.order_id_of(refund_id)
        for _ in range(ATTEMPTS):
            refund = self.refunds.get(order_id, refund_id)
            if refund is None or not refund.open:
                return
            order = self.orders.get(order_id, consistent=True)
            now_dt = self.clock.now()
            now = iso(now_dt)
            succeeded = status == domain.SUCCESS
            change = order_rules.finish_refund(order, refund_id, refund.amount, succeeded, now, refund.lines)
            tx = self.new_tx()
            after = domain.finish(refund, status, now)
            if error:
                after = domain.note_error(after, error, now)
            self.refunds.stage_change(tx, refund, after, on_stale=_Stale)
            self._stage_order_change(tx, change, now)
            if succeeded and order.pay_with == "balance" and self.members is not None:
                # the same parts it took, in proportion; out of WeChat's bill.
                self.members.stage_balance_refund(tx, order, refund_id, refund.amount, now)
            elif succeeded:
                # Dated as WeChat's bill dates it: the day WeChat accepted the refund.
                self.ledger.stage_refund(tx, refund_id, refund.amount, now_dt,
                                         requested_at=refund.accepted_at or refund.updated_at)
            followed = self._stage_after_sale(tx, refund, succeeded, now_dt, now)
            try:
                tx.commit()
            except _Stale:
                continue  # another refund of this order finished first: decide again
            logger.info("refund finished", extra={"order_id": order_id, "refund_id": refund_id, "status": status})
            for event in (*change.events, *followed):
                self.publisher.publish(event.event_id)
            return
        raise errors.RateLimited("the order is busy; try again in a moment")

    def _stage_order_change(self, tx, change: Change, now: str) -> None:
        self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
        for r in change.release:
            self.reservations.stage_release(tx, r)
        if change.coupon == "give_back_used":
            self.coupons.stage_give_back_used(tx, change.before.coupon_id, change.before.order_id, now)
        for event in change.events:
            self.outbox.stage(tx, event, now)

    def refund_unfulfillable_payment(self, order: Order, trade: dict, reason: str = "SOLD_OUT") -> Order | None:
        """Paid after the order was closed and what it held went elsewhere: record the payment
        on the closed order and refund all of it, under one fixed out_refund_no."""
        paid = int(trade["amount"]["total"])
        refund_id = domain.auto_refund_id(order.order_id)
        for _ in range(ATTEMPTS):
            current = self.orders.get(order.order_id, consistent=True)
            if current is None or current.status != order_rules.CLOSED or current.transaction_id:
                return current
            now = self._now()
            change = order_rules.paid_after_close_unfulfillable(current, trade.get("transaction_id"), paid, now)
            refund = Refund(refund_id=refund_id, order_id=order.order_id, user_id=order.user_id, amount=paid,
                            reason=_LATE_PAYMENT_REASONS.get(reason, "订单已关闭，自动退款"), status=PROCESSING,
                            automatic=True, created_at=now, updated_at=now)
            tx = self.new_tx()
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
            self.refunds.stage_create(tx, refund, on_exists=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            self.anomalies.record(order.order_id, "PAID_AFTER_CLOSE_REFUNDED",
                                  {"transaction_id": trade.get("transaction_id"), "amount": paid, "reason": reason})
            self._send(refund, change.after)
            return self.orders.get(order.order_id, consistent=True)
        raise errors.RateLimited("the order is busy; try again in a moment")

    # -- a group that failed refunds each paid member in full ----------------------

    def refund_in_full(self, order_id: str, reason: str, only_if=None) -> Refund | None:
        """Refund what is left of a paid order's payment, automatically, under the one
        out_refund_no derived from the order (`auto_refund_id`): asked twice, or by two
        callers at once, it is one refund. None when there is nothing to refund.
        `only_if(order)`: the caller's condition on the order as read here (the write is
        conditioned on that read's version): None when it no longer holds."""
        refund_id = domain.auto_refund_id(order_id)
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None:
                return None
            existing = self.refunds.get(order_id, refund_id)
            if existing is not None:
                return existing  # asked already; the sweep sends it again while PROCESSING
            if order.status not in order_rules.REFUNDABLE or not order.refund_room:
                return None
            if only_if is not None and not only_if(order):
                return None
            amount, change = order_rules.request_refund(order, None)
            now = self._now()
            refund = Refund(refund_id=refund_id, order_id=order_id, user_id=order.user_id, amount=amount,
                            reason=reason, status=PROCESSING, automatic=True, created_at=now, updated_at=now)
            tx = self.new_tx()
            self.refunds.stage_create(tx, refund, on_exists=_Stale)
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            logger.info("refund in full asked", extra={"order_id": order_id, "refund_id": refund_id,
                                                       "amount": amount})
            self._send(refund, change.after)
            return self.refunds.get(order_id, refund_id)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def sweep(self) -> dict:
        """Refunds still PROCESSING (WeChat unreachable, busy or short of balance when asked,
        or its notification lost): ask WeChat with the same out_refund_no; send it again,
        with the same number, only when WeChat has no such refund."""
        sent = finished = 0
        for candidate in self.refunds.waiting(PROCESSING, limit=100):
            refund = self.refunds.get(candidate.order_id, candidate.refund_id)
            if refund is None or refund.status != PROCESSING:
                continue
            order = self.orders.get(refund.order_id)
            if order is None:
                logger.error("refund of an unknown order", extra={"refund_id": refund.refund_id,
                                                                  "alarm": "REFUND_MISMATCH"})
                continue
            if order.pay_with == "balance" and self.members is not None:  # no WeChat
                self._send(refund, order)
                finished += 1
                continue
            known = self._query(refund)
            if known is _UNKNOWN:
                continue  # next run
            if known is None:
                self._send(refund, order)
                sent += 1
                continue
            self._follow(refund, known)
            if (known.get("status") or known.get("refund_status")) in domain.WECHAT_FINAL:
                finished += 1
        return {"resent": sent, "finished": finished}
