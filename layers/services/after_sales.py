"""After-sales (售后): a shopper asks for a refund, a return or an exchange of delivered
units; the merchant approves, rejects, receives the goods and ships a replacement; two
timers answer for whoever does not.

Each change is one transaction conditioned on the after-sale's version (and, for a
refund, on the order's: layers/services/refunds.py `refund_after_sale`, the one refund
path, writes the refund, the order's refund room and the after-sale together). A
decision made from a stale read never lands: the service reads again and decides again.
Every call is safe to repeat: asked again in the state it leads to, it answers that.
"""

from __future__ import annotations

from layers.clock import iso
from layers.domain import after_sale as rules
from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain.after_sale import AfterSale
from layers.domain.catalog import StockEntry
from layers.observability import logger

ATTEMPTS = 8


class _Stale(Exception):
    pass


class _Exists(Exception):
    pass


class AfterSaleService:
    def __init__(self, *, after_sales, orders, refunds, catalog, shop, outbox, publisher, clock, new_tx,
                 images=None, order_view=None):
        """`refunds`: the RefundService (`refund_after_sale`); `catalog`: stock moves and
        their ledger (`stage_adjust_stock`, `stage_stock_entry`); `shop`: the settings;
        `images`: `check(urls)` (422 UNKNOWN_IMAGE for a photo the shop did not issue);
        `order_view`: the order as the API shows it (the operators' detail)."""
        self.after_sales = after_sales
        self.orders = orders
        self.refunds = refunds
        self.catalog = catalog
        self.shop = shop
        self.outbox = outbox
        self.publisher = publisher
        self.clock = clock
        self.new_tx = new_tx
        self.images = images
        self.order_view = order_view

    # -- views ------------------------------------------------------------------------------

    @staticmethod
    def reasons() -> dict:
        return {"items": [{"code": r.code, "text": r.text, "kinds": list(r.kinds)} for r in rules.REASONS]}

    @staticmethod
    def view(a: AfterSale, admin: bool = False) -> dict:
        view = {"id": a.after_sale_id, "order_id": a.order_id, "kind": a.kind, "status": str(a.status),
                "items": [dict(i) for i in a.items], "amount": a.amount, "reason_code": a.reason_code,
                "reason": rules.reason_text(a.reason_code), "description": a.description,
                "images": list(a.images), "created_at": a.created_at, "updated_at": a.updated_at,
                "history": [dict(h) for h in a.history]}
        if a.return_address is not None:
            view["return_address"] = dict(a.return_address)
            view["return_due_at"] = a.return_due_at
        if a.return_shipping is not None:
            view["return_shipping"] = dict(a.return_shipping)
        if a.received_at:
            view["received_at"] = a.received_at
            view["restocked"] = a.restocked
        if a.replacement_shipping is not None:
            view["replacement_shipping"] = dict(a.replacement_shipping)
        if a.refund_id:
            view["refund_id"] = a.refund_id
        if a.reject_reason:
            view["reject_reason"] = a.reject_reason
        if a.auto_approve_at:
            view["auto_approve_at"] = a.auto_approve_at
        if admin:
            view["user_id"] = a.user_id
            view["lines"] = [dict(ln) for ln in a.lines]
        return view

    def _get(self, after_sale_id: str) -> AfterSale:
        a = self.after_sales.get(rules.order_id_of(after_sale_id), after_sale_id)
        if a is None:
            raise errors.NotFound("no such after-sale")
        return a

    def _mine(self, user_id: str, after_sale_id: str) -> AfterSale:
        a = self._get(after_sale_id)
        if a.user_id != user_id:
            raise errors.NotFound("no such after-sale")  # another shopper's is not there for you
        return a

    def get(self, user_id: str, after_sale_id: str) -> dict:
        return self.view(self._mine(user_id, after_sale_id))

    def mine(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        found, next_key = self.after_sales.for_user(user_id, limit, cursor)
        return [self.view(a) for a in found], next_key

    def listed(self, status: str, kind: str | None, limit: int, cursor: dict | None):
        if status not in rules.STATUSES:
            raise errors.InvalidRequest(f"status: one of {', '.join(rules.STATUSES)}")
        if kind is not None and kind not in rules.KINDS:
            raise errors.InvalidRequest(f"kind: one of {', '.join(rules.KINDS)}")
        found, next_key = self.after_sales.by_status(status, kind, limit, cursor)
        return [self.view(a, admin=True) for a in found], next_key

    def detail(self, after_sale_id: str) -> dict:
        """The operators' view: the after-sale with its order and the lines it names."""
        a = self._get(after_sale_id)
        view = self.view(a, admin=True)
        order = self.orders.get(a.order_id, consistent=True)
        if order is not None:
            view["order"] = self.order_view(order) if self.order_view else {"id": order.order_id,
                                                                            "status": str(order.status)}
            view["lines"] = [{**ln, "title": order.items[int(ln["line"])].get("title"),
                              "unit_price": order.items[int(ln["line"])].get("unit_price"),
                              "quantity": order.items[int(ln["line"])].get("quantity")} for ln in a.lines]
        return view

    def open_count(self, user_id: str) -> int:
        return self.after_sales.open_count(user_id)

    # -- the shopper ------------------------------------------------------------------------

    def request(self, user_id: str, order_id: str, body, key: str | None) -> dict:
        """`body` is functions/schemas.AfterSaleInput. With an Idempotency-Key, the same
        body answers the same after-sale; another body is 422 IDEMPOTENCY_KEY_REUSED."""
        asked = body.model_dump(mode="json")
        digest = order_rules.request_hash(asked)
        after_sale_id = rules.after_sale_id_for(order_id, user_id, key)
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None or order.user_id != user_id:
                raise errors.NotFound("no such order")
            existing = self.after_sales.get(order_id, after_sale_id)
            if existing is not None:
                if existing.request_hash != digest:
                    raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different body")
                return self.view(existing)
            if self.images is not None and body.images:
                self.images.check(body.images)
            settings = self.shop.load_settings()
            created = rules.request(
                after_sale_id=after_sale_id, order=order, kind=body.kind, items=asked["items"],
                reason_code=body.reason_code, amount=body.amount, description=body.description,
                images=tuple(body.images or ()), now=self.clock.now(), window_s=settings.after_sales_window_s,
                auto_approve_s=settings.after_sales_auto_approve_s, request_hash=digest)
            tx = self.new_tx()
            self.after_sales.stage_create(tx, created.after, on_exists=_Exists, on_line_busy=lambda: errors.AfterSaleOpen(
                "a line of these units already has an open after-sale: wait for it, or cancel it"))
            self._stage_events(tx, created)
            try:
                tx.commit()
            except _Exists:
                continue  # a retry with the same key won: answer it
            self._publish(created)
            logger.info("after-sale requested", extra={"order_id": order_id, "after_sale_id": after_sale_id,
                                                       "kind": body.kind, "amount": created.after.amount})
            return self.view(created.after)
        raise errors.RateLimited("the order is busy; try again in a moment")

    def send_back(self, user_id: str, after_sale_id: str, body) -> dict:
        """The shopper sent the goods back (`body`: functions/schemas.ReturnShipmentInput)."""
        self._mine(user_id, after_sale_id)

        def decide(a: AfterSale):
            if a.return_shipping == {"express_company": body.express_company, "tracking_no": body.tracking_no}:
                return None  # sent already, with this tracking (and perhaps further on)
            return rules.send_back(a, f"user:{user_id}", body.express_company, body.tracking_no, self.clock.now())

        return self.view(self._move(after_sale_id, decide))

    def cancel(self, user_id: str, after_sale_id: str) -> dict:
        self._mine(user_id, after_sale_id)

        def decide(a: AfterSale):
            return None if a.status == rules.CANCELLED else rules.cancel(a, f"user:{user_id}", self.clock.now())

        return self.view(self._move(after_sale_id, decide))

    # -- the merchant -----------------------------------------------------------------------

    def approve(self, after_sale_id: str, note: str | None = None, who: str = "owner") -> dict:
        """A refund_only is refunded now; a return or an exchange waits for the goods, at
        the shop's return address."""
        a = self._get(after_sale_id)
        if a.status == rules.REQUESTED and rules.refund_due(a):
            self.refunds.refund_after_sale(a.order_id, after_sale_id, who, note)
            return self.view(self._get(after_sale_id))
        settings = self.shop.load_settings()
        address = settings.return_address.model_dump() if settings.return_address else None

        def decide(current: AfterSale):
            if current.status != rules.REQUESTED and current.status not in (rules.REJECTED, rules.CANCELLED):
                return None  # approved already (and perhaps further on)
            return rules.approve(current, who, self.clock.now(), address, settings.return_window_s, note)

        return self.view(self._move(after_sale_id, decide))

    def reject(self, after_sale_id: str, reason: str, who: str = "owner") -> dict:
        def decide(a: AfterSale):
            if a.status == rules.REJECTED and a.reject_reason == reason:
                return None
            return rules.reject(a, who, reason, self.clock.now())

        return self.view(self._move(after_sale_id, decide))

    def receive(self, after_sale_id: str, restock: bool, who: str = "owner") -> dict:
        """The goods came back: stock goes back only with `restock` (in the stock ledger,
        in the same write); a return is then refunded, an exchange waits for its
        replacement. Receiving again refunds a return whose earlier refund failed."""

        def decide(a: AfterSale):
            if a.received_at is not None:
                return None  # received already
            return rules.receive(a, who, restock, self.clock.now())

        a = self._move(after_sale_id, decide, stage_more=self._stage_restock)
        if rules.refund_due(a):
            self.refunds.refund_after_sale(a.order_id, after_sale_id, who)
            a = self._get(after_sale_id)
        return self.view(a)

    def ship(self, after_sale_id: str, shipping: dict, who: str = "owner") -> dict:
        """The exchange's replacement left (`shipping`: as an order's, layers/domain/shipping.py)."""

        def decide(a: AfterSale):
            if a.status == rules.EXCHANGED and a.replacement_shipping == shipping:
                return None
            return rules.ship_replacement(a, who, shipping, self.clock.now())

        return self.view(self._move(after_sale_id, decide))

    # -- the timers -------------------------------------------------------------------------

    def auto_approve_due(self) -> dict:
        """Requests left unanswered past `after_sales_auto_approve_s`: the shop approves
        them (WeChat expects a mini-program shop to answer). Each re-read before acting."""
        approved = failed = 0
        now = self.clock.now()
        for candidate in self.after_sales.due(rules.AUTO_APPROVE, iso(now), 200):
            current = self.after_sales.get(candidate.order_id, candidate.after_sale_id)
            if current is None or not rules.auto_approve_due(current, now):
                continue
            try:
                self.approve(current.after_sale_id, note="超时未处理，系统自动同意", who=rules.SYSTEM)
                approved += 1
            except errors.DomainError as exc:
                # e.g. no return address set, or the order has nothing left to refund: an
                # operator must answer; the request stays in the queue for the next run.
                failed += 1
                logger.warning("after-sale not approved automatically",
                               extra={"after_sale_id": current.after_sale_id, "code": exc.code})
        return {"after_sales_approved": approved, "after_sales_not_approved": failed}

    def close_unreturned(self) -> dict:
        """Returns and exchanges whose goods were not sent back within `return_window_s`."""
        closed = 0
        now = self.clock.now()
        for candidate in self.after_sales.due(rules.RETURN_DUE, iso(now), 200):
            def decide(a: AfterSale):
                return rules.close_unreturned(a, now) if rules.return_overdue(a, now) else None

            before = self.after_sales.get(candidate.order_id, candidate.after_sale_id)
            if before is None:
                continue
            after = self._move(candidate.after_sale_id, decide)
            closed += int(after.status == rules.CLOSED and before.status != rules.CLOSED)
        return {"after_sales_closed": closed}

    # -- one write --------------------------------------------------------------------------

    def _move(self, after_sale_id: str, decide, stage_more=None) -> AfterSale:
        """Read, decide (None: nothing to do, it is there already), write conditioned on
        the version read; on a stale write, read and decide again."""
        for _ in range(ATTEMPTS):
            a = self._get(after_sale_id)
            moved = decide(a)
            if moved is None:
                return a
            tx = self.new_tx()
            self.after_sales.stage_change(tx, moved.before, moved.after, on_stale=_Stale)
            if stage_more is not None:
                stage_more(tx, moved)
            self._stage_events(tx, moved)
            try:
                tx.commit()
            except _Stale:
                continue
            self._publish(moved)
            logger.info("after-sale moved", extra={"after_sale_id": after_sale_id, "status": str(moved.after.status)})
            return moved.after
        raise errors.RateLimited("the after-sale is busy; try again in a moment")

    def _stage_restock(self, tx, moved: rules.Transition) -> None:
        a = moved.after
        if not a.restocked or moved.before.received_at is not None:
            return
        order = self.orders.get(a.order_id, consistent=True)
        by_product: dict[str, dict[str, int]] = {}
        for ln in a.lines:
            item = order.items[int(ln["line"])]
            sku_id = item["sku_id"]
            self.catalog.stage_adjust_stock(tx, sku_id, int(ln["units"]), on_short=lambda sku_id=sku_id: (
                errors.InvalidState(f"SKU {sku_id} is no longer sold: receive it without restock")))
            moves = by_product.setdefault(item.get("product_id") or sku_id, {})
            moves[sku_id] = moves.get(sku_id, 0) + int(ln["units"])
        for product_id, moves in sorted(by_product.items()):
            self.catalog.stage_stock_entry(tx, StockEntry(
                product_id=product_id, entry_id=f"{a.after_sale_id}-restock", moves=moves,
                reason=f"售后退货入库 {a.after_sale_id}", at=a.received_at, by=a.history[-1]["by"]))

    def _stage_events(self, tx, moved: rules.Transition) -> None:
        for event in moved.events:
            self.outbox.stage(tx, event, moved.after.updated_at)

    def _publish(self, moved: rules.Transition) -> None:
        for event in moved.events:
            self.publisher.publish(event.event_id)
