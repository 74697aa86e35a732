"""Analytics: facts from events, counted once per event, one write per counter per batch.

Two steps, two queues:

1. On the events queue (`functions/wiring.py:event_handlers()`), `on_order_paid`,
   `on_order_refunded` (and, once members emit it, `on_top_up_paid`) turn an event into
   a `Fact` with the event's own time, reading what the event does not carry (the
   order's lines, its distributor's commission, its coupon's template), and send it to
   the analytics queue. Sending twice is harmless.
2. The analytics consumer takes a whole batch (`consume`): asks each sale's buyer
   positions, merges every increment of the batch into one per counter, and writes
   them in transactions with one marker per event. A marker that already exists means
   that event was counted: it is dropped and the rest written again.

A new kind of event plugs in with a builder here that makes a `Fact` and one line in
`event_handlers()`; the counters it moves are declared in `layers/domain/analytics.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from layers.domain import analytics as rules
from layers.domain import errors
from layers.domain.analytics import Fact
from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable
from layers.observability import logger

PRODUCT_LIMIT = 50
DISTRIBUTOR_LIMIT = 100


class _Counted(Exception):
    def __init__(self, event_id: str):
        super().__init__(event_id)
        self.event_id = event_id


class AnalyticsService:
    def __init__(self, *, analytics, orders, refunds, user_coupons, coupon_templates,
                 commission_of: Callable[[str], object], send: Callable[..., None], queue_url: str | None,
                 visits, clock, new_tx, max_items: int = 100, parallel: int = 16):
        self.analytics = analytics
        self.orders = orders
        self.refunds = refunds
        self.user_coupons = user_coupons
        self.coupon_templates = coupon_templates
        self.commission_of = commission_of
        self.send = send
        self.queue_url = queue_url
        self.visits = visits
        self.clock = clock
        self.new_tx = new_tx
        self.max_items = max_items
        self.parallel = parallel

    def _now_iso(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- 1. events -> facts -----------------------------------------------------------------

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        template_id = None
        if order.coupon_id:
            coupon = self.user_coupons.get(order.coupon_id)
            template_id = coupon.template_id if coupon else None
        commission = 0
        if order.distributor_id:
            entry = self.commission_of(order.order_id)
            commission = int(getattr(entry, "accrued", 0) or 0) if entry else 0
        self._forward(rules.sale_fact(event_id, order, commission, template_id))

    def on_order_refunded(self, event_id: str, payload: dict) -> None:
        """`order.refunded`: counts on the day the refund succeeded."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        refund = self.refunds.get(order.order_id, payload["refund_id"])
        succeeded_at = refund.updated_at if refund is not None else self._now_iso()
        self._forward(rules.refund_fact(event_id, order, int(payload["amount"]), succeeded_at,
                                        completes=rules.completes_refund(payload),
                                        refunded_total=int(payload.get("refunded_total") or payload["amount"])))

    def on_top_up_paid(self, event_id: str, payload: dict) -> None:
        """A stored-value top-up paid: `{"user_id", "amount", "paid_at"}` (members)."""
        self._forward(rules.top_up_fact(event_id, payload["user_id"], int(payload["amount"]), payload["paid_at"]))

    def units_sold(self) -> dict[str, int]:
        """Units sold per product (paid, less orders refunded in full): the storefront's `sales`."""
        return {str(c["subject"]): max(0, int(c.get("quantity", 0)))
                for c in self.analytics.ranking(rules.SALES, "ALL", None)}

    def _forward(self, fact: Fact | None) -> None:
        if fact is not None:
            self.send(self.queue_url, fact.to_message())

    # -- 2. a batch of facts -> counters ----------------------------------------------------

    def consume(self, facts: list[Fact]) -> dict:
        """Count each fact once. Returns {"counted", "duplicates"}."""
        unique = list({f.event_id: f for f in facts}.values())
        positions = self._positions([f for f in unique if f.kind == rules.SALE])
        planned = [(fact, rules.increments(fact, positions.get(fact.event_id))) for fact in unique]
        counted = duplicates = 0
        while planned:
            chunk = rules.chunks(planned, self.max_items)[0]
            tx = self.new_tx()
            for fact in chunk.facts:
                self.analytics.stage_counted(tx, fact.event_id, _Counted)
            for inc in chunk.increments:
                self.analytics.stage_increment(tx, inc)
            try:
                tx.commit()
            except _Counted as already:
                duplicates += 1
                planned = [p for p in planned if p[0].event_id != already.event_id]
                continue
            counted += len(chunk.facts)
            done = {f.event_id for f in chunk.facts}
            planned = [p for p in planned if p[0].event_id not in done]
        return {"counted": counted, "duplicates": duplicates + len(facts) - len(unique)}

    def _positions(self, sales: list[Fact]) -> dict[str, rules.Positions]:
        """Each sale's place among its buyer's orders (day, month, ever). The slots are
        independent conditional writes: asked in parallel across sales (each answer is
        idempotent); "ever" only when the month's answer does not already settle it."""
        if not sales:
            return {}

        def ask(fact: Fact) -> rules.Positions:
            order_id, periods = fact.order_id or fact.event_id, rules.buyer_periods(fact)
            where = {}
            for name in ("month", "day", "ever"):
                known = rules.ever_follows(where["month"]) if name == "ever" else None
                where[name] = known or self.analytics.buyer_position(fact.user_id, periods[name], order_id,
                                                                     rules.SLOTS[name])
            return rules.Positions(**where)

        with ThreadPoolExecutor(max_workers=min(self.parallel, len(sales))) as pool:
            return dict(zip((f.event_id for f in sales), pool.map(ask, sales), strict=True))

    # -- what operators see -------------------------------------------------------------------

    def daily(self, first: str | None, last: str | None) -> dict:
        wanted = rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))
        found = self.analytics.days(wanted)
        return {"items": [rules.daily_row(d, found.get(d), (found.get(d) or {}).get("visitors"))
                          for d in wanted]}

    def distributors(self, month: str | None, limit: int = DISTRIBUTOR_LIMIT) -> dict:
        month = rules.parse_month(month)
        return {"items": [{"distributor_id": c["subject"], "sales_amount": c.get("sales_amount", 0),
                           "orders": c.get("orders", 0), "commission": c.get("commission", 0)}
                          for c in self.analytics.ranking(rules.DISTRIBUTOR, month, limit)]}

    def products(self, first: str | None, last: str | None, limit: int = PRODUCT_LIMIT) -> dict:
        """One day or one calendar month: a query on its ranking, highest first. Any other
        range: the whole months in it and the days around them, summed."""
        wanted = rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))
        periods = _periods(wanted)
        if len(periods) == 1:
            rows = self.analytics.ranking(rules.PRODUCT, periods[0], limit)
        else:
            merged: dict[str, dict] = {}
            for period in periods:
                for c in self.analytics.ranking(rules.PRODUCT, period, None):
                    have = merged.setdefault(c["subject"], {"subject": c["subject"], "title": c.get("title", ""),
                                                            "quantity": 0, "gmv": 0})
                    have["quantity"] += c.get("quantity", 0)
                    have["gmv"] += c.get("gmv", 0)
            rows = sorted(merged.values(), key=lambda c: (-c["gmv"], c["subject"]))[:limit]
        return {"items": [{"product_id": c["subject"], "title": c.get("title", ""),
                           "quantity": c.get("quantity", 0), "gmv": c.get("gmv", 0)} for c in rows]}

    def coupons(self) -> dict:
        used = {c["subject"]: c for c in self.analytics.coupons()}
        templates, cursor = [], None
        while True:
            page, cursor = self.coupon_templates.listed(100, cursor)
            templates.extend(t.template_id for t in page)
            if not cursor:
                break
        templates.extend(t.template_id for t in self.coupon_templates.post_payment())
        ids = list(dict.fromkeys([*templates, *used]))
        return {"items": [{"template_id": tid, "issued": self.coupon_templates.issued_total(tid),
                           "used": used.get(tid, {}).get("used", 0), "discount": used.get(tid, {}).get("discount", 0),
                           "gmv": used.get(tid, {}).get("gmv", 0)} for tid in ids]}

    # -- jobs -----------------------------------------------------------------------------------

    def fetch_visitors(self, day: str | None = None) -> dict:
        """Hourly from 09:00: yesterday's unique visitors from WeChat's analysis API
        (datacube). Until WeChat has made them nothing is stored (an empty answer is not 0
        visitors) and the next run asks again; once stored, later runs store the same."""
        day = day or rules.yesterday(self.clock.now())
        try:
            visitors = self.visits.daily_visitors(day)
        except rules.VisitsNotReady:
            logger.info("WeChat has not made the visit figures yet", extra={"day": day})
            return {"day": day, "visitors": None, "ready": False}
        except (WeChatUnavailable, WeChatApiError) as exc:
            # Nothing stored; the schedule (or an operator) runs it again.
            raise errors.UpstreamUnavailable(f"WeChat's visit figures for {day}: {exc}") from exc
        self.analytics.set_visitors(day, visitors)
        return {"day": day, "visitors": visitors}

    def recount(self, day: str | None = None) -> dict:
        """Nightly: the day's figures again from its paid orders (the paid-date index);
        any difference from the counters is logged with an `alarm`."""
        day = day or rules.yesterday(self.clock.now())
        recounted = rules.recount(self.analytics.paid_orders(day))
        differences = rules.differences(recounted, self.analytics.days([day]).get(day))
        if differences:
            logger.error("analytics differ from the recount",
                         extra={"alarm": "ANALYTICS_MISMATCH", "day": day, "differences": differences})
        return {"day": day, "recount": recounted, "differences": differences}


def _periods(days: list[str]) -> list[str]:
    """The days as whole months where a month is complete, single days elsewhere."""
    by_month: dict[str, list[str]] = {}
    for d in days:
        by_month.setdefault(d[:7], []).append(d)
    out: list[str] = []
    for month, in_month in by_month.items():
        out.extend([month] if _whole_month(month, in_month) else in_month)
    return out


def _whole_month(month: str, days: list[str]) -> bool:
    from calendar import monthrange

    year, m = int(month[:4]), int(month[5:])
    return len(days) == monthrange(year, m)[1]
