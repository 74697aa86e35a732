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

import uuid
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
                 visits, clock, new_tx, max_items: int = 100, parallel: int = 16, exports=None, campaigns=None,
                 store_of_guide: Callable[[str], str | None] | None = None):
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
        self.exports = exports  # layers.domain.exports.Exports, None where no bucket is configured
        # The campaigns' own records (`CampaignRecords`: exists, groups, instances), for reviews.
        self.campaigns = campaigns
        # The store a guide belongs to (StoreRepository.store_of_guide): asked when a guide's
        # sale becomes a fact, so the order itself never carries it (docs/stores.md).
        self.store_of_guide = store_of_guide

    def _now_iso(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- 1. events -> facts -----------------------------------------------------------------

    def _template_of(self, order) -> str | None:
        if not order.coupon_id:
            return None
        coupon = self.user_coupons.get(order.coupon_id)
        return coupon.template_id if coupon else None

    def on_order_placed(self, event_id: str, payload: dict) -> None:
        """`order.placed`: an order placed in a campaign (its review's `orders`)."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            return  # deleted unpaid before it counted (its placement never became an order)
        self._forward(rules.placed_fact(event_id, order, self._template_of(order)))

    def on_campaign_step(self, event_id: str, payload: dict) -> None:
        """A campaign's step (group.opened, bargain.started, assist.rewarded, ...:
        layers/domain/campaign_events.py) -> a milestone fact of its review."""
        self._forward(rules.milestone_fact(event_id, payload["figure"], payload["campaign_id"], payload["subject"],
                                           payload["user_id"], payload["at"]))

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        template_id = self._template_of(order)
        commission = 0
        if order.distributor_id:
            entry = self.commission_of(order.order_id)
            commission = int(getattr(entry, "accrued", 0) or 0) if entry else 0
        guide_store = None
        if order.distributor_id and self.store_of_guide is not None:
            guide_store = self.store_of_guide(order.distributor_id)
        self._forward(rules.sale_fact(event_id, order, commission, template_id, guide_store))

    def on_order_refunded(self, event_id: str, payload: dict) -> None:
        """`order.refunded`: counts on the day the refund succeeded."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        refund = self.refunds.get(order.order_id, payload["refund_id"])
        succeeded_at = refund.updated_at if refund is not None else self._now_iso()
        self._forward(rules.refund_fact(event_id, order, int(payload["amount"]), succeeded_at,
                                        completes=rules.completes_refund(payload),
                                        refunded_total=int(payload.get("refunded_total") or payload["amount"]),
                                        coupon_template_id=self._template_of(order)))

    def on_top_up_paid(self, event_id: str, payload: dict) -> None:
        """A stored-value top-up paid: `{"user_id", "amount", "paid_at"}` (members)."""
        self._forward(rules.top_up_fact(event_id, payload["user_id"], int(payload["amount"]), payload["paid_at"]))

    def on_share_created(self, event_id: str, payload: dict) -> None:
        """`share.created`: `{"distributor_id", "at"}`."""
        self._forward(rules.share_fact(event_id, payload["distributor_id"], payload["at"]))

    def on_share_visited(self, event_id: str, payload: dict) -> None:
        """`share.visited`: `{"distributor_id", "visitor_id", "at"}`."""
        self._forward(rules.visit_fact(event_id, payload["distributor_id"], payload["visitor_id"], payload["at"]))

    def on_channel_visited(self, event_id: str, payload: dict) -> None:
        """`channel.visited`: `{"channel", "visitor_id", "at"}`."""
        self._forward(rules.channel_visit_fact(event_id, payload["channel"], payload["visitor_id"], payload["at"]))

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
        positions: dict = self._positions([f for f in unique if f.kind == rules.SALE])
        positions.update(self._visitor_firsts([f for f in unique if f.kind == rules.VISIT]))
        positions.update(self._participant_firsts([f for f in unique if rules.joins(f)]))
        firsts = self._channel_firsts([f for f in unique if f.channel and f.kind in (rules.SALE, rules.CHANNEL_VISIT)])
        planned = [(fact, rules.increments(fact, positions.get(fact.event_id), firsts.get(fact.event_id)))
                   for fact in unique]
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

    def _visitor_firsts(self, visits: list[Fact]) -> dict[str, dict[str, bool]]:
        """Each visit's {period name: first visit of the visitor to the guide there}, the
        slots asked in parallel across visits; the larger periods only when the smaller
        ones do not settle them (rules.visitor_follows)."""
        if not visits:
            return {}

        def ask(fact: Fact) -> dict[str, bool]:
            firsts: dict[str, bool] = {}
            for name, period in rules.distributor_periods(fact).items():
                if rules.visitor_follows(name, firsts):
                    firsts[name] = False
                    continue
                firsts[name] = self.analytics.visitor_first(fact.distributor_id, fact.user_id, period, fact.event_id)
            return firsts

        with ThreadPoolExecutor(max_workers=min(self.parallel, len(visits))) as pool:
            return dict(zip((f.event_id for f in visits), pool.map(ask, visits), strict=True))

    def _participant_firsts(self, facts: list[Fact]) -> dict[str, dict[str, bool]]:
        """Each placement's or start's {campaign: the shopper's first there}, a slot each."""
        if not facts:
            return {}

        def ask(fact: Fact) -> dict[str, bool]:
            return {ref: self.analytics.participant_first(ref, fact.user_id, fact.event_id)
                    for ref in rules.joins(fact)}

        with ThreadPoolExecutor(max_workers=min(self.parallel, len(facts))) as pool:
            return dict(zip((f.event_id for f in facts), pool.map(ask, facts), strict=True))

    def _channel_firsts(self, facts: list[Fact]) -> dict[str, dict[str, bool]]:
        """Each channel visit's (sale's) {"day", "month": the visitor's (buyer's) first
        through its channel there}: the day's slot, the month's only when the day's was
        the first (not the first of the day is not the first of the month). A sale's
        slot holds its order id, a visit's its event id (asked again: the same answer)."""
        if not facts:
            return {}

        def ask(fact: Fact) -> dict[str, bool]:
            role, holder = ("buyer", fact.order_id or fact.event_id) if fact.kind == rules.SALE else (
                "visitor", fact.event_id)
            firsts: dict[str, bool] = {}
            for name, period in rules.channel_periods(fact).items():
                if rules.visitor_follows(name, firsts):
                    firsts[name] = False
                    continue
                firsts[name] = self.analytics.channel_first(fact.channel, role, fact.user_id, period, holder)
            return firsts

        with ThreadPoolExecutor(max_workers=min(self.parallel, len(facts))) as pool:
            return dict(zip((f.event_id for f in facts), pool.map(ask, facts), strict=True))

    # -- what operators see -------------------------------------------------------------------

    def review(self, kind: str, campaign_id: str) -> dict:
        """`GET /admin/analytics/campaigns/{kind}/{id}`: the campaign's counters (two reads);
        404 for a campaign that does not exist."""
        rules.parse_campaign_kind(kind)
        ref = rules.campaign_ref(kind, campaign_id)
        counters, channels = self.analytics.campaign(ref)
        if counters is None and not channels and not (self.campaigns and self.campaigns.exists(kind, campaign_id)):
            raise errors.NotFound(f"no {kind} {campaign_id}")
        return rules.review(kind, counters, channels)

    def daily(self, first: str | None, last: str | None) -> dict:
        wanted = rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))
        found = self.analytics.days(wanted)
        return {"items": [rules.daily_row(d, found.get(d), (found.get(d) or {}).get("visitors"))
                          for d in wanted]}

    def distributors(self, month: str | None, limit: int = DISTRIBUTOR_LIMIT, week: str | None = None) -> dict:
        """The guides of a month (`2026-11`) or an ISO week (`2026-W48`), highest sales first."""
        period = rules.parse_period(month, week)
        return {"period": period,
                "items": [{"distributor_id": c["subject"], **rules.guide_figures(c)}
                          for c in self.analytics.ranking(rules.DISTRIBUTOR, period, limit)]}

    def guide_figures(self, distributor_ids: list[str], period: str = "ALL") -> dict[str, dict]:
        """{guide: shares, visits, visitors} of `period` (all-time by default), 0s for none."""
        found = self.analytics.distributors(distributor_ids, period)
        return {d: rules.reach(found.get(d)) for d in distributor_ids}

    def export_distributors(self, first: str | None, last: str | None) -> str:
        """Each guide's sales, orders, commission, shares and visits over the Beijing days
        `first`..`last` (inclusive, at most 366), summed from the guides' counters (whole
        months as one, the other days one by one: a query each), written to the exports
        bucket in parts; answers a link to the file. Visitors only where the period is one
        day, one ISO week or one calendar month (distinct visitors do not add up)."""
        wanted = rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))
        if self.exports is None:
            raise errors.ExportsUnavailable("exports need a bucket (CODE_BUCKET) and none is configured")
        totals: dict[str, dict[str, int]] = {}
        for period in _periods(wanted):
            for c in self.analytics.ranking(rules.DISTRIBUTOR, period, None):
                have = totals.setdefault(c["subject"], dict.fromkeys(rules.GUIDE_SALES + ("shares", "visits"), 0))
                for name in have:
                    have[name] += int(c.get(name, 0))
        whole = rules.whole_period(wanted)
        visitors = ({c["subject"]: int(c.get("visitors", 0)) for c in self.analytics.ranking(
            rules.DISTRIBUTOR, whole, None)} if whole else {})
        key = f"exports/distributors-{wanted[0]}-{wanted[-1]}-{uuid.uuid4().hex}.csv"
        out = self.exports.open(key, "text/csv; charset=utf-8")
        try:
            for text in rules.export_lines(wanted[0], wanted[-1], totals, visitors if whole else None):
                out.write(text.encode())
            out.close()
        except BaseException:
            out.abort()
            raise
        logger.info("distributors exported", extra={"from": wanted[0], "to": wanted[-1], "rows": len(totals)})
        return self.exports.url(key, f"distributors-{wanted[0]}-{wanted[-1]}.csv")

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

    def stores(self, month: str | None) -> dict:
        """Each store's figures of a month (`2026-11`), highest gmv first: the stores that
        sold or had an order collected that month."""
        period = rules.parse_month(month)
        return {"month": period, "items": [rules.store_row(c) for c in self.analytics.ranking(rules.STORE, period, None)]}

    def channels(self, first: str | None, last: str | None) -> dict:
        """Each channel's visitors, paid orders, buyers and gmv over the Beijing days
        `first`..`last` (inclusive, at most 366): whole months as one query each, the other
        days one each (`rules.channel_totals` says how visitors and buyers add up)."""
        wanted = rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))
        found = {period: self.analytics.ranking(rules.CHANNEL, period, None) for period in _periods(wanted)}
        return {"items": rules.channel_totals(found)}

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
        paid = self.analytics.paid_orders(day)
        recounted = rules.recount(paid)
        differences = rules.differences(recounted, self.analytics.days([day]).get(day))
        # the channels' orders, gmv and buyers from the same orders: one query more
        channels = rules.recount_channels(paid)
        channel_differences = rules.channel_differences(channels, self.analytics.ranking(rules.CHANNEL, day, None))
        if differences or channel_differences:
            logger.error("analytics differ from the recount",
                         extra={"alarm": "ANALYTICS_MISMATCH", "day": day, "differences": differences,
                                "channel_differences": channel_differences})
        refs = sorted({ref for order in paid if rules.counts_as_sale(order)
                       for ref in rules.order_campaigns(order, self._template_of(order))})
        reviews = {ref: found for ref in refs if (found := self.recount_review(ref))}
        return {"day": day, "recount": recounted, "differences": differences, "channels": channels,
                "channel_differences": channel_differences, "campaigns": len(refs), "campaign_differences": reviews}

    def recount_review(self, ref: str) -> dict:
        """One campaign's review again from its records (its orders as placed, its groups
        or instances); any difference is logged with `alarm: CAMPAIGN_REVIEW_MISMATCH` and
        answered."""
        kind, campaign_id = ref.split("#", 1)
        records = self.analytics.campaign_records(ref)
        orders = [o for o in (self.orders.get(oid, consistent=True) for oid in records.get("order", ()))
                  if o is not None]
        firsts = self.analytics.first_orders([o.user_id for o in orders if rules.counts_as_sale(o)])
        groups = self.campaigns.groups(campaign_id) if self.campaigns and kind == "group_buy" else ()
        instances = (self.campaigns.instances(kind, records.get("instance", ()))
                     if self.campaigns and kind in ("bargain", "assist") else ())
        recounted = rules.recount_review(kind, orders, set(firsts.values()), groups, instances)
        counters, channels = self.analytics.campaign(ref)
        differences = rules.review_differences(recounted, rules.review(kind, counters, channels))
        if differences:
            logger.error("a campaign's review differs from its recount",
                         extra={"alarm": "CAMPAIGN_REVIEW_MISMATCH", "campaign": ref, "differences": differences})
        return differences


class CampaignRecords:
    """What each campaign kind keeps of its own, read by its review: whether it exists
    (a review of an unknown campaign is 404), a group buy's groups, a bargain's or an
    assistance campaign's instances."""

    def __init__(self, *, flash_sales, group_buys, groups, bargains, bargain_instances, assist_campaigns,
                 assist_instances, promotions, coupon_templates):
        self._exists = {"flash_sale": flash_sales.get, "group_buy": group_buys.get, "bargain": bargains.get,
                        "assist": assist_campaigns.get, "promotion": promotions.get, "coupon": coupon_templates.get}
        self._groups = groups
        self._instances = {"bargain": bargain_instances.get, "assist": assist_instances.get}

    def exists(self, kind: str, campaign_id: str) -> bool:
        return self._exists[kind](campaign_id) is not None

    def groups(self, group_buy_id: str) -> list:
        out, cursor = [], None
        while True:
            page, cursor = self._groups.list_groups(group_buy_id, 100, cursor)
            out.extend(page)
            if not cursor:
                return out

    def instances(self, kind: str, instance_ids) -> list:
        return [i for i in (self._instances[kind](iid) for iid in instance_ids) if i is not None]


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
