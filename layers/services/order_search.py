"""Finding orders for the merchant console: by the buyer's phone over a range
of Beijing days (when the orders were placed), or the orders paid in such a range; of one
status if asked. Through the order storage's keys and indexes only: no scan."""

from __future__ import annotations

from collections.abc import Callable

from layers.clock import iso
from layers.domain import errors
from layers.domain import order_search as rules
from layers.domain.analytics import day_of
from layers.domain.order_search import OrderSearchRepository


class OrderSearch:
    def __init__(self, *, orders: OrderSearchRepository, clock, view: Callable):
        self.orders = orders
        self.clock = clock
        self.view = view

    def find(self, *, first: str | None = None, last: str | None = None, status: str | None = None,
             phone: str | None = None, cursor: dict | None = None, limit: int = 20) -> dict:
        """`{"items", "next_cursor", "from", "to", "by"}`: `by` is `phone` (orders placed in
        the range) or `paid` (orders paid in it); `next_cursor` is None at the end."""
        status = rules.checked_status(status)
        days = rules.day_range(first, last, day_of(iso(self.clock.now())))
        limit = max(1, min(int(limit), 100))
        if phone and phone.strip():
            normalized = rules.normalized_phone(phone)
            if normalized is None:
                raise errors.InvalidRequest("phone: at least 5 digits")
            orders, next_cursor = self.orders.by_phone(normalized, iso(days.start_utc), iso(days.end_utc),
                                                       status, limit, cursor)
            by = "phone"
        else:
            orders, next_cursor = self.orders.paid_in_days(days.days_newest_first(), status, limit, cursor)
            by = "paid"
        return {"items": [self.view(o) for o in orders], "next_cursor": next_cursor, "from": days.first,
                "to": days.last, "by": by}

    def buyers(self, text: str, days: int = rules.MAX_DAYS) -> list[dict]:
        """The shoppers behind an order number, or behind the orders placed with a phone in
        the last `days` Beijing days (newest first, one line per shopper): the console's
        shopper picker. `{"user_id", "name", "phone", "order_id", "created_at"}`; the phone
        as the order has it (the page masks it)."""
        from datetime import timedelta

        text = (text or "").strip()
        if not text:
            return []
        orders = []
        if any(ch.isalpha() for ch in text):  # an order number (a phone has no letters)
            order = self.orders.get(text)
            orders = [order] if order is not None else []
        elif rules.normalized_phone(text) is not None:
            today = self.clock.now()
            span = rules.day_range(day_of(iso(today - timedelta(days=days - 1))), day_of(iso(today)), day_of(iso(today)))
            orders, _ = self.orders.by_phone(rules.normalized_phone(text), iso(span.start_utc), iso(span.end_utc),
                                             None, 50, None)
        seen: dict[str, dict] = {}
        for o in orders:
            if o.user_id not in seen:
                address = o.address or {}
                seen[o.user_id] = {"user_id": o.user_id, "name": address.get("name", ""),
                                   "phone": address.get("phone", ""), "order_id": o.order_id,
                                   "created_at": o.created_at}
        return list(seen.values())
