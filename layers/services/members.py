"""Members: the shopper's books (stored value, points), what orders do to
them, and top-ups paid and refunded through WeChat Pay.

Every movement goes through `MemberRepository.stage_move`, in the same transaction as
whatever caused it (an order's placement, closing or refund; a top-up's payment or
refund), so a book always equals its entries and never goes below zero where it must
not. The rules (splits, proportions, rounding) are `layers/domain/members.py`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

from layers.clock import iso, parse_iso
from layers.domain import errors, paid_shares
from layers.domain import members as rules
from layers.domain import shipping as shipping_rules
from layers.domain.members import BALANCE, POINTS, Movement, Plan, TopUp, TopUpStatus
from layers.domain.order import Event
from layers.domain.payment_gateway import OrderNotFoundAtWeChat, WeChatPayError, retry_later
from layers.observability import logger

ATTEMPTS = 8
_UNKNOWN = object()
# A top-up made before payment windows existed, and never given a prepay id: WeChat's
# time_expire for it is 2 hours from its first prepay, as it was then.
_LEGACY_WINDOW = timedelta(hours=2)


def _default_shop_settings():
    from layers.domain.shop_settings import ShopSettings

    return ShopSettings()


class _Duplicate(Exception):
    """The cause is already written: this movement happened."""


class _Stale(Exception):
    pass


class MemberService:
    """The books as the shopper sees them, and the order side of points and balance."""

    def __init__(self, *, members, orders, shop_settings, clock, new_tx, users=None):
        self.members = members
        self.users = users  # an adjustment is for a shopper who exists (when given)
        self.orders = orders  # the order repository (what an order event is about)
        self.shop_settings = shop_settings  # () -> ShopSettings
        self.clock = clock
        self.new_tx = new_tx

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- views ----------------------------------------------------------------------------

    def membership(self, user_id: str) -> dict:
        balance = self.members.get_book(user_id, BALANCE)
        points = self.members.get_book(user_id, POINTS)
        level = rules.level_for(self.members.get_levels(), points.growth)
        return {"level": {"name": level["name"], "discount_bps": int(level.get("discount_bps") or 0)} if level
                else None,
                "growth": points.growth,
                "points": {"available": points.available, "frozen": points.frozen},
                "balance": {"principal": balance.principal, "bonus": balance.bonus}}

    def set_levels(self, body) -> dict:
        levels = sorted((lv.model_dump() for lv in body.levels), key=lambda lv: lv["min_growth"])
        self.members.save_levels(levels)
        return {"levels": levels}

    def entries(self, user_id: str, book: str, limit: int, cursor: dict | None):
        found, next_cursor = self.members.entries(user_id, book, limit, cursor)
        return [rules.entry_view(m) for m in found], next_cursor

    # -- an owner's adjustment --------------------------------------------------------

    def adjust(self, user_id: str, book: str, amount: int, reason: str, by: str, adjust_id: str) -> dict:
        """A signed adjustment of a shopper's balance (fen) or points by an owner (`by`), as
        one ledgered movement: decided from the book as read, written with its entry in one
        transaction conditioned so that no part goes below zero; when another movement got
        there first, read again and decide again. The same `adjust_id` moves the book once
        (`duplicate` in the answer)."""
        if self.users is not None and self.users.get_user(user_id) is None:
            raise errors.NotFound("没有这个用户")
        for _ in range(ATTEMPTS):
            current = self.members.get_book(user_id, book)
            movement = rules.adjustment(current, book, amount, adjust_id, reason, by, self._now())
            tx = self.new_tx()
            self.members.stage_move(tx, movement, on_short=_Stale, on_duplicate=_Duplicate)
            try:
                tx.commit()
            except _Stale:
                continue  # taken meanwhile: decide again from a new read
            except _Duplicate:
                return {"entry": None, "duplicate": True}
            logger.info("member book adjusted", extra={"user_id": user_id, "book": book, "amount": amount, "by": by})
            return {"entry": rules.entry_view(movement), "duplicate": False}
        raise errors.RateLimited("账户正忙,请稍后重试")

    # -- what placement and refunds stage ------------------------------------------------------

    def stage_balance_payment(self, tx, user_id: str, order_id: str, amount: int, book, now: str,
                              on_short=None, on_exists=None) -> dict:
        """Debit a balance order's payable from the balance as read (`book`): the split is
        decided from it and the write is conditioned so that neither part goes below zero;
        `on_short` when a payment that got there first took what this one counted on (the
        caller reads again and decides again: 409 INSUFFICIENT_BALANCE if it is short)."""
        principal, bonus = rules.split_payment(book, amount)
        self.members.stage_move(tx, Movement(user_id, BALANCE, f"order#{order_id}#pay", "order_payment", now,
                                             principal=-principal, bonus=-bonus, order_id=order_id),
                                on_short=on_short or (lambda: rules.InsufficientBalance("the balance is not enough")),
                                on_duplicate=on_exists or (lambda: errors.InvalidState("this order is already paid")))
        return {"principal": principal, "bonus": bonus}

    def stage_balance_refund(self, tx, order, refund_id: str, amount: int, now: str) -> None:
        """A refund of a balance-paid order goes back to the same parts, in proportion."""
        split = (order.member or {}).get("balance") or {}
        principal, bonus = rules.refund_parts(int(split.get("principal", 0)), int(split.get("bonus", 0)),
                                              order.refunded_amount, amount)
        self.members.stage_move(tx, Movement(order.user_id, BALANCE, f"order#{order.order_id}#refund#{refund_id}",
                                             "order_refund", now, principal=principal, bonus=bonus,
                                             order_id=order.order_id),
                                on_short=None, on_duplicate=lambda: _Stale())

    # -- points held by an unpaid order: the reservation kind "points" -------------------------

    def stage_take(self, tx, reservation: dict) -> None:
        order_id, n = reservation["order_id"], int(reservation["points"])
        self.members.stage_move(tx, Movement(reservation["user_id"], POINTS, f"order#{order_id}#spend",
                                             "order_spend", self._now(), available=-n, order_id=order_id),
                                on_short=lambda: rules.InsufficientPoints("not enough points"),
                                # taken once: an order closed and paid late cannot take them again
                                on_duplicate=lambda: rules.InsufficientPoints("its points went back"))

    def stage_release(self, tx, reservation: dict) -> None:
        order_id, n = reservation["order_id"], int(reservation["points"])
        self.members.stage_move(tx, Movement(reservation["user_id"], POINTS, f"order#{order_id}#spend_back",
                                             "order_spend_returned", self._now(), available=n, order_id=order_id),
                                on_short=None, on_duplicate=None)

    # -- order events: points earned, released, removed; growth --------------------------------

    def _move_once(self, movement: Movement) -> bool:
        tx = self.new_tx()
        self.members.stage_move(tx, movement, on_short=None, on_duplicate=_Duplicate)
        try:
            tx.commit()
        except _Duplicate:
            return False
        return True

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            return
        # Points are earned on the payment: the lines' `paid` and the shipping; growth on the
        # lines' `paid` alone (what was paid for goods). A refund of lines then removes, by its
        # amount, exactly the points and growth those lines' `paid` brought.
        earned = rules.points_earned(order.paid, self.shop_settings().points_per_yuan)
        goods_paid = sum(paid_shares.line_paid(order.items, order.amounts))
        self._move_once(Movement(order.user_id, POINTS, f"order#{order.order_id}#earn", "order_earn", self._now(),
                                 frozen=earned, growth=goods_paid, order_id=order.order_id))

    def _order_points(self, user_id: str, order_id: str) -> tuple[int, int, bool]:
        """(earned, still frozen, released) of this order's points, from its entries."""
        entries = [m for m in self.members.entries_for(user_id, POINTS, f"order#{order_id}#")
                   if not m.cause.endswith(("#spend", "#spend_back"))]
        earned = sum(m.frozen for m in entries if m.kind == "order_earn")
        frozen = sum(m.frozen for m in entries)
        released = any(m.kind == "order_release" for m in entries)
        return earned, frozen, released

    def on_order_completed(self, event_id: str, payload: dict) -> None:
        user_id, order_id = payload["user_id"], payload["order_id"]
        _, frozen, released = self._order_points(user_id, order_id)
        if released or frozen <= 0:
            return
        self._move_once(Movement(user_id, POINTS, f"order#{order_id}#release", "order_release", self._now(),
                                 frozen=-frozen, available=frozen, order_id=order_id))

    def on_order_refunded(self, event_id: str, payload: dict) -> None:
        """Points removed in proportion to the refund, frozen first; available may go below
        zero (it blocks spending) and is never clamped. Growth goes down by the refund. A
        refund of lines refunds what those lines paid, so it removes the points and growth
        their `paid` earned."""
        user_id, order_id = payload["user_id"], payload["order_id"]
        amount, total = int(payload["amount"]), int(payload["refunded_total"])
        earned, frozen, _ = self._order_points(user_id, order_id)
        removed = rules.points_removed(earned, int(payload["order_payable"]), total - amount, amount)
        from_frozen = min(removed, max(0, frozen))
        self._move_once(Movement(user_id, POINTS, f"order#{order_id}#refund#{payload['refund_id']}",
                                 "order_refund", self._now(), frozen=-from_frozen, available=-(removed - from_frozen),
                                 growth=-amount, order_id=order_id, guard_available=False))


class TopUpService:
    """Plans, top-ups paid with WeChat Pay, and their refunds (unspent principal only)."""

    def __init__(self, *, top_ups, members, users, pay, outbox, publisher, anomalies, clock, new_tx, settings,
                 notify_url, uploads=None, ledger=None, shop_settings=None):
        # `shop_settings`: () -> ShopSettings; a top-up's payment window is the shop's
        # order_payment_timeout_s, as an order's.
        self.shop_settings = shop_settings or _default_shop_settings
        # `ledger`: the WeChat ledger reconciliation compares with WeChat's bill (a top-up is
        # WeChat money: its payment and refund are recorded there, in their transactions).
        self.ledger = ledger
        # `uploads` (ShippingUploadRepository): a paid top-up's shipping information
        # goes to WeChat as virtual goods, through the shipping service's `shipping.upload`.
        self.uploads = uploads
        self.top_ups = top_ups
        self.members = members
        self.users = users
        self.pay = pay
        self.outbox = outbox
        self.publisher = publisher
        self.anomalies = anomalies
        self.clock = clock
        self.new_tx = new_tx
        self.settings = settings
        self.notify_url = notify_url

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- plans ----------------------------------------------------------------------------

    @staticmethod
    def plan_view(plan: Plan) -> dict:
        return {"id": plan.plan_id, "pay": plan.pay, "bonus": plan.bonus}

    def plans(self) -> dict:
        return {"items": [self.plan_view(p) for p in sorted(self.top_ups.plans(), key=lambda p: (p.pay, p.plan_id))]}

    def create_plan(self, body) -> dict:
        import uuid

        plan = Plan("plan" + uuid.uuid4().hex[:12], body.pay, body.bonus, self._now())
        self.top_ups.save_plan(plan)
        return self.plan_view(plan)

    # -- top-ups ---------------------------------------------------------------------------

    def view(self, top_up: TopUp) -> dict:
        body = {"id": top_up.top_up_id, "plan_id": top_up.plan_id, "amount": top_up.amount, "bonus": top_up.bonus,
                "status": str(top_up.status), "created_at": top_up.created_at, "paid_at": top_up.paid_at,
                "expires_at": top_up.expires_at, "payment": None}
        if top_up.status == TopUpStatus.PENDING_PAYMENT and rules.top_up_prepay_fresh(top_up, self.clock.now()):
            body["payment"] = self.pay.jsapi_params(top_up.prepay_id)
        return body

    def create(self, user_id: str, body, idempotency_key: str | None) -> dict:
        """A top-up of a plan, or the shopper's unpaid one of that plan while its window
        lasts (a repeated tap pays the same top-up). At most UNPAID_TOP_UPS_CAP unpaid ones
        per shopper: beyond, 409 LIMIT_EXCEEDED before anything is written or asked of
        WeChat. One whose window is over is closed first and a new one made."""
        from layers.domain.order import request_hash

        digest = request_hash(body.model_dump(mode="json"))
        top_up_id = rules.top_up_id_for(user_id, idempotency_key)
        for _ in range(ATTEMPTS):
            existing = self.top_ups.get(top_up_id) if idempotency_key else None
            if existing is not None:
                if existing.request_hash != digest:
                    raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
                return self._payable(existing)
            plan = self.top_ups.get_plan(body.plan_id)
            if plan is None:
                raise errors.NotFound("no such top-up plan")
            user = self.users.get_user(user_id)
            if user is None:
                raise errors.Unauthorized("unknown shopper")
            now = self.clock.now()
            open_one = self.top_ups.open_for(user_id, plan.plan_id)
            if open_one is not None:
                if rules.top_up_reusable(open_one, now):
                    return self._payable(open_one)
                if self._close(open_one) == "unknown":
                    raise errors.UpstreamUnavailable("WeChat Pay could not close the last top-up; try again")
                continue  # its place is free now: make a new one
            expires_at = rules.top_up_window_end(now, self.shop_settings().order_payment_timeout_s)
            top_up = TopUp(top_up_id=top_up_id, user_id=user_id, openid=user.openid, plan_id=plan.plan_id,
                           amount=plan.pay, bonus=plan.bonus, status=TopUpStatus.PENDING_PAYMENT,
                           created_at=iso(now), request_hash=digest, expires_at=iso(expires_at))
            tx = self.new_tx()
            self.top_ups.stage_create(tx, top_up, on_exists=_Duplicate, on_open=_Stale)
            try:
                tx.commit()
            except (_Duplicate, _Stale):
                continue  # the same key, or another request for this plan, got there first
            logger.info("top-up created", extra={"top_up_id": top_up_id, "expires_at": top_up.expires_at})
            return self._payable(top_up)
        raise errors.RateLimited("the top-up is busy; try again in a moment")

    def _payable(self, top_up: TopUp) -> dict:
        """The top-up with a prepay id that can start a payment: asked again (the same
        out_trade_no, amount and time_expire: WeChat refuses a changed one) when the one
        held has lived its 2 hours, while the window lasts."""
        now = self.clock.now()
        if top_up.status != TopUpStatus.PENDING_PAYMENT or rules.top_up_prepay_fresh(top_up, now):
            return self.view(top_up)
        if top_up.expires_at is not None and parse_iso(top_up.expires_at) <= now:
            return self.view(top_up)  # its window is over: the sweep closes it
        if top_up.expires_at is None and top_up.prepay_id:
            return self.view(top_up)  # made before windows: its time_expire is not known any more
        asked_at = iso(now)
        time_expire = parse_iso(top_up.expires_at) if top_up.expires_at else now.replace(microsecond=0) + \
            _LEGACY_WINDOW
        try:
            prepay_id = self.pay.jsapi_prepay(
                out_trade_no=top_up.top_up_id, description="储值充值", total_fen=top_up.amount,
                payer_openid=top_up.openid, notify_url=self.notify_url("/wechatpay/notify"),
                time_expire=time_expire)
        except WeChatPayError as exc:
            logger.warning("top-up prepay failed", extra={"top_up_id": top_up.top_up_id, "code": exc.code})
            raise errors.UpstreamUnavailable("WeChat Pay could not start the payment; try again") from exc
        if self.top_ups.set_prepay_id(top_up.top_up_id, prepay_id, asked_at):
            return self.view(replace(top_up, prepay_id=prepay_id, prepay_at=asked_at))
        return self.view(self.top_ups.get(top_up.top_up_id))  # paid or closed meanwhile

    # -- closing an unpaid top-up past its window -------------------------------------------------

    def close_expired(self, limit: int = 100) -> dict:
        """The close-expired-orders job's top-up step: each unpaid top-up whose window has
        ended is closed at WeChat, then here; one whose close has no known outcome waits
        for the next run."""
        now = self.clock.now()
        counts = {"closed": 0, "paid": 0, "skipped": 0}
        for candidate in self.top_ups.due_unpaid(iso(now), limit=limit):
            top_up = self.top_ups.get(candidate.top_up_id)
            if top_up is None or top_up.status != TopUpStatus.PENDING_PAYMENT or top_up.expires_at is None \
                    or parse_iso(top_up.expires_at) > now:
                continue
            outcome = self._close(top_up)
            counts[outcome if outcome in ("closed", "paid") else "skipped"] += 1
        return counts

    def _close(self, top_up: TopUp) -> str:
        """Close an unpaid top-up at WeChat (so it can no longer be paid there), then here,
        giving back its unpaid place: "closed", "paid" (WeChat had taken the payment: it
        is credited), or "unknown" (WeChat's answer is not known: nothing changed here)."""
        top_up_id = top_up.top_up_id
        try:
            self.pay.close_order(top_up_id)
        except OrderNotFoundAtWeChat:
            pass  # never reached WeChat (no prepay): nothing to close there
        except WeChatPayError as exc:
            if retry_later(exc):
                logger.warning("top-up close not settled", extra={"top_up_id": top_up_id, "code": exc.code})
                return "unknown"
            # Refused (ORDERPAID: paid in the instant before the close): what WeChat holds decides.
            try:
                trade = self.pay.query_order(top_up_id)
            except OrderNotFoundAtWeChat:
                trade = {"trade_state": "CLOSED"}
            except WeChatPayError:
                return "unknown"
            if trade.get("trade_state") == "SUCCESS":
                paid = self.on_paid(trade)
                return "paid" if paid is not None and paid.status != TopUpStatus.PENDING_PAYMENT else "unknown"
            if trade.get("trade_state") != "CLOSED":
                logger.warning("top-up close refused", extra={"top_up_id": top_up_id, "code": exc.code,
                                                              "trade_state": trade.get("trade_state")})
                return "unknown"
        for _ in range(ATTEMPTS):
            current = self.top_ups.get(top_up_id)
            if current is None or current.status != TopUpStatus.PENDING_PAYMENT:
                return "paid" if current is not None and current.transaction_id else "closed"
            tx = self.new_tx()
            self.top_ups.stage_change(tx, current, rules.top_up_closed(current, self._now()), on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            logger.info("top-up closed", extra={"top_up_id": top_up_id, "expires_at": current.expires_at})
            return "closed"
        return "unknown"

    def on_paid(self, trade: dict) -> TopUp | None:
        """A verified WeChat payment of a top-up: PENDING_PAYMENT -> PAID with principal and
        bonus credited, once (the top-up's version and the credit's cause both say so)."""
        top_up_id = trade.get("out_trade_no", "")
        for _ in range(ATTEMPTS):
            top_up = self.top_ups.get(top_up_id)
            problems = self._problems(top_up, trade)
            if problems:
                self.anomalies.record(top_up_id[:64], "PAYMENT_MISMATCH",
                                      {"transaction_id": trade.get("transaction_id"), "problems": problems})
                logger.error("top-up payment does not match", extra={"top_up_id": top_up_id, "problems": problems,
                                                                      "alarm": "PAYMENT_MISMATCH"})
                return top_up
            # CLOSED without a payment: WeChat took it just before our close reached it.
            # Nothing a top-up holds can be gone, so it is credited (once: the version).
            if top_up.status != TopUpStatus.PENDING_PAYMENT and not (
                    top_up.status == TopUpStatus.CLOSED and not top_up.transaction_id):
                if top_up.transaction_id != trade.get("transaction_id"):
                    self.anomalies.record(top_up_id, "DUPLICATE_PAYMENT",
                                          {"transaction_id": trade.get("transaction_id")})
                return top_up  # the same payment again: already credited
            now = self._now()
            after = rules.top_up_paid(top_up, trade.get("transaction_id"), now)
            event = Event("top_up.paid", top_up_id, {"top_up_id": top_up_id, "user_id": top_up.user_id,
                                                     "amount": top_up.amount, "bonus": top_up.bonus, "paid_at": now})
            tx = self.new_tx()
            self.top_ups.stage_change(tx, top_up, after, on_stale=_Stale)
            self.members.stage_move(tx, Movement(top_up.user_id, BALANCE, f"top_up#{top_up_id}#credit", "top_up",
                                                 now, principal=top_up.amount, bonus=top_up.bonus,
                                                 top_up_id=top_up_id),
                                    on_short=None, on_duplicate=_Stale)
            self.outbox.stage(tx, event, now)
            events = [event]
            if self.ledger is not None:
                self.ledger.stage_payment(tx, order_id=top_up_id, amount=top_up.amount,
                                          transaction_id=trade.get("transaction_id"),
                                          success_time=trade.get("success_time"), now=self.clock.now())
            if self.uploads is not None:
                upload = shipping_rules.new_upload(
                    SimpleNamespace(order_id=top_up_id, openid=top_up.openid, address=None,
                                    transaction_id=trade.get("transaction_id"),
                                    items=({"sku_id": "top_up", "title": "储值充值", "quantity": 1},)),
                    shipping_rules.ShippingInfo("virtual"), self.settings.wechatpay_mchid, now)
                self.uploads.stage_create(tx, upload, on_exists=_Stale)
                events.append(Event("shipping.upload", top_up_id, {"order_id": top_up_id}))
                self.outbox.stage(tx, events[-1], now)
            try:
                tx.commit()
            except _Stale:
                continue
            for sent in events:
                self.publisher.publish(sent.event_id)
            logger.info("top-up paid", extra={"top_up_id": top_up_id, "amount": top_up.amount,
                                              "after_close": top_up.status == TopUpStatus.CLOSED})
            return after
        raise errors.RateLimited("the top-up is busy; try again in a moment")

    def _problems(self, top_up: TopUp | None, trade: dict) -> list[str]:
        if top_up is None:
            return ["no such top-up"]
        problems = []
        if trade.get("trade_state") != "SUCCESS":
            problems.append(f"trade_state {trade.get('trade_state')}")
        if self.settings.wechatpay_mchid and trade.get("mchid") != self.settings.wechatpay_mchid:
            problems.append("mchid")
        if self.settings.wechat_appid and trade.get("appid") != self.settings.wechat_appid:
            problems.append("appid")
        if (trade.get("amount") or {}).get("total") != top_up.amount:
            problems.append(f"amount {(trade.get('amount') or {}).get('total')} != {top_up.amount}")
        return problems

    # -- refunds ----------------------------------------------------------------------------

    @staticmethod
    def refund_view(top_up: TopUp) -> dict:
        status = {TopUpStatus.REFUNDING: "PROCESSING", TopUpStatus.REFUNDED: "SUCCESS",
                  TopUpStatus.REFUND_ABNORMAL: "ABNORMAL"}.get(top_up.status, "FAILED")
        in_flight = top_up.status in (TopUpStatus.REFUNDING, TopUpStatus.REFUND_ABNORMAL)
        return {"id": rules.top_up_refund_id(top_up.top_up_id, top_up.version if in_flight else top_up.version - 1),
                "top_up_id": top_up.top_up_id, "amount": top_up.refund_amount, "bonus_forfeited": top_up.refund_bonus,
                "status": status, "error": top_up.refund_error}

    def refund(self, top_up_id: str) -> dict:
        """Debit the unspent principal (and the bonus in proportion) FIRST, conditioned so it
        cannot go below zero, then ask WeChat under a fixed out_refund_no; the balance is
        credited back only if WeChat finally refuses."""
        for _ in range(ATTEMPTS):
            top_up = self.top_ups.get(top_up_id)
            if top_up is None:
                raise errors.NotFound("no such top-up")
            if top_up.status == TopUpStatus.REFUNDING:
                self._send(top_up)  # asked again: the same refund, the same number
                return self.refund_view(self.top_ups.get(top_up_id))
            if top_up.status == TopUpStatus.REFUNDED:
                return self.refund_view(top_up)
            book = self.members.get_book(top_up.user_id, BALANCE)
            after = rules.top_up_refund(top_up, book)
            now = self._now()
            tx = self.new_tx()
            self.top_ups.stage_change(tx, top_up, after, on_stale=_Stale)
            self.members.stage_move(tx, Movement(top_up.user_id, BALANCE, f"top_up#{top_up_id}#refund#{after.version}",
                                                 "top_up_refund", now, principal=-after.refund_amount,
                                                 bonus=-after.refund_bonus, top_up_id=top_up_id),
                                    on_short=_Stale, on_duplicate=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue  # spent or moved meanwhile: decide again from a new read
            logger.info("top-up refund debited", extra={"top_up_id": top_up_id, "amount": after.refund_amount})
            self._send(after)
            return self.refund_view(self.top_ups.get(top_up_id))
        raise errors.RateLimited("the balance is busy; try again in a moment")

    def _send(self, top_up: TopUp) -> None:
        refund_id = rules.top_up_refund_id(top_up.top_up_id, top_up.version)
        try:
            answer = self.pay.refund(out_trade_no=top_up.top_up_id, out_refund_no=refund_id,
                                     refund_fen=top_up.refund_amount, total_fen=top_up.amount, reason="储值退款",
                                     notify_url=self.notify_url("/wechatpay/refund-notify"))
        except WeChatPayError as exc:
            if retry_later(exc):
                logger.warning("top-up refund not settled yet", extra={"refund_id": refund_id, "code": exc.code})
                return
            known = self._query(refund_id)
            if known is _UNKNOWN:
                return
            if known is None:
                self._ended(top_up.top_up_id, refund_id, succeeded=False, error=f"{exc.code}: {exc.message}")
                return
            answer = known
        self._follow(top_up.top_up_id, refund_id, answer)

    def _query(self, refund_id: str):
        try:
            return self.pay.query_refund(refund_id)
        except OrderNotFoundAtWeChat:
            return None
        except WeChatPayError:
            return _UNKNOWN

    def _follow(self, top_up_id: str, refund_id: str, answer: dict) -> bool:
        """Act on what WeChat says of the refund; True when it ended (SUCCESS or CLOSED)."""
        status = answer.get("status") or answer.get("refund_status")
        if status == "SUCCESS":
            self._ended(top_up_id, refund_id, succeeded=True)
        elif status == "CLOSED":
            self._ended(top_up_id, refund_id, succeeded=False, error="CLOSED")
        elif status == "ABNORMAL":
            self._abnormal(top_up_id, refund_id)
        return status in ("SUCCESS", "CLOSED")

    def _abnormal(self, top_up_id: str, refund_id: str) -> None:
        """WeChat could not pay the refund back: an anomaly with an alarm, off the sweep's
        queue (asking again changes nothing until an operator acts), the debit kept so a
        second refund cannot pay twice."""
        for _ in range(ATTEMPTS):
            top_up = self.top_ups.get(top_up_id)
            if top_up is None or top_up.status != TopUpStatus.REFUNDING or \
                    rules.top_up_refund_id(top_up_id, top_up.version) != refund_id:
                return
            tx = self.new_tx()
            self.top_ups.stage_change(tx, top_up, rules.top_up_refund_abnormal(top_up), on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            self.anomalies.record(top_up_id, "REFUND_ABNORMAL", {"refund_id": refund_id,
                                                                 "amount": top_up.refund_amount})
            logger.error("top-up refund abnormal: an operator must apply the abnormal refund",
                         extra={"refund_id": refund_id, "alarm": "REFUND_ABNORMAL"})
            return

    def apply_abnormal(self, top_up_id: str, body) -> dict:
        """An operator sends an ABNORMAL top-up refund to a bank card (发起异常退款), as an
        order refund's: `body` is functions/schemas.AbnormalRefundInput."""
        top_up = self.top_ups.get(top_up_id)
        if top_up is None:
            raise errors.NotFound("no such top-up")
        if top_up.status != TopUpStatus.REFUND_ABNORMAL:
            raise errors.InvalidState(f"only an abnormal top-up refund can go to a bank card; it is {top_up.status}")
        refund_id = rules.top_up_refund_id(top_up_id, top_up.version)
        known = self._query(refund_id)
        if not isinstance(known, dict) or not known.get("refund_id"):
            raise errors.UpstreamUnavailable("WeChat Pay did not say which refund this is; try again")
        try:
            answer = self.pay.apply_abnormal_refund(known["refund_id"], refund_id, body.type,
                                                    bank_type=body.bank_type, bank_account=body.bank_account,
                                                    real_name=body.real_name)
        except WeChatPayError as exc:
            if retry_later(exc):
                raise errors.UpstreamUnavailable("WeChat Pay did not answer; try again") from exc
            raise errors.NotAcceptable(f"WeChat Pay refused it: {exc.code} {exc.message}") from exc
        tx = self.new_tx()
        self.top_ups.stage_change(tx, top_up, rules.top_up_abnormal_applied(top_up), on_stale=_Stale)
        try:
            tx.commit()
        except _Stale:
            pass  # a notification moved it meanwhile
        logger.info("top-up abnormal refund applied", extra={"refund_id": refund_id, "type": body.type})
        self._follow(top_up_id, refund_id, answer)
        return self.refund_view(self.top_ups.get(top_up_id))

    def on_refund_result(self, refund_id: str, status: str, resource: dict | None = None) -> None:
        """A verified refund notification (or a query) for a top-up's refund."""
        top_up_id = refund_id.split("R", 1)[0]
        top_up = self.top_ups.get(top_up_id)
        if top_up is None:
            raise LookupError(f"no top-up {top_up_id}")
        if resource is not None and (resource.get("out_trade_no") != top_up_id or (
                top_up.status == TopUpStatus.REFUNDING
                and (resource.get("amount") or {}).get("refund") != top_up.refund_amount)):
            self.anomalies.record(top_up_id, "REFUND_MISMATCH", {"refund_id": refund_id})
            logger.error("top-up refund notification does not match", extra={"refund_id": refund_id,
                                                                             "alarm": "REFUND_MISMATCH"})
            return
        self._follow(top_up_id, refund_id, {"status": status})

    def _ended(self, top_up_id: str, refund_id: str, succeeded: bool, error: str | None = None) -> None:
        for _ in range(ATTEMPTS):
            top_up = self.top_ups.get(top_up_id)
            if top_up is None or top_up.status not in (TopUpStatus.REFUNDING, TopUpStatus.REFUND_ABNORMAL) or \
                    rules.top_up_refund_id(top_up_id, top_up.version) != refund_id:
                return  # already ended (a second notification), or another refund's
            after = rules.top_up_refund_ended(top_up, succeeded, error)
            now = self._now()
            tx = self.new_tx()
            self.top_ups.stage_change(tx, top_up, after, on_stale=_Stale)
            if succeeded and self.ledger is not None:
                self.ledger.stage_refund(tx, refund_id, top_up.refund_amount, self.clock.now())
            if not succeeded:
                # WeChat finally refused: what was debited goes back, once.
                self.members.stage_move(tx, Movement(top_up.user_id, BALANCE,
                                                     f"top_up#{top_up_id}#refund_failed#{top_up.version}",
                                                     "top_up_refund_failed", now, principal=top_up.refund_amount,
                                                     bonus=top_up.refund_bonus, top_up_id=top_up_id),
                                        on_short=None, on_duplicate=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            logger.info("top-up refund ended", extra={"top_up_id": top_up_id, "succeeded": succeeded})
            return

    def sweep(self) -> dict:
        """Top-up refunds still in flight: ask WeChat with the same number; send again only
        when WeChat has no such refund. `finished` counts only refunds that ended; an
        ABNORMAL one leaves the queue (it waits for an operator), so it is reported once
        and never holds the queue's head against the others."""
        sent = finished = 0
        for candidate in self.top_ups.refunding(limit=100):
            top_up = self.top_ups.get(candidate.top_up_id)
            if top_up is None or top_up.status != TopUpStatus.REFUNDING:
                continue
            refund_id = rules.top_up_refund_id(top_up.top_up_id, top_up.version)
            known = self._query(refund_id)
            if known is _UNKNOWN:
                continue
            if known is None:
                self._send(top_up)
                sent += 1
            elif self._follow(top_up.top_up_id, refund_id, known):
                finished += 1
        return {"resent": sent, "finished": finished}
