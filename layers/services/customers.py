"""Customers: the record per shopper kept from the events, their phone number, the admin
list and page, tags and the `retag-customers` job (docs/customers.md).

Nothing here logs a phone number or any part of it: log lines name user ids and counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from layers.clock import iso
from layers.domain import customers as rules
from layers.domain import errors, paid_shares
from layers.domain import refund as refund_rules
from layers.domain.analytics import day_of
from layers.domain.customers import Filters, Tag
from layers.domain.miniprogram import InvalidCode, WeChatApiError, WeChatUnavailable
from layers.observability import logger


@dataclass(frozen=True)
class CustomerQuery:
    q: str | None = None
    filters: Filters = Filters()


class CustomerService:
    def __init__(self, *, customers, orders, phone_api, level_of: Callable[[str], str | None], clock,
                 order_views: Callable | None = None, coupon_views: Callable | None = None,
                 membership: Callable[[str], dict] | None = None, after_sale_views: Callable | None = None,
                 progress=None, budget_s: float = 20.0, monotonic: Callable[[], float] = time.monotonic):
        self.customers = customers
        self.orders = orders
        self.phone_api = phone_api
        self.level_of = level_of
        self.clock = clock
        self.order_views = order_views
        self.coupon_views = coupon_views
        self.membership = membership
        self.after_sale_views = after_sale_views
        self.progress = progress  # where the retag job keeps its place (None: one whole pass a run)
        self.budget_s = budget_s
        self.monotonic = monotonic

    # -- the events ------------------------------------------------------------------------
    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`: one more order, its goods' `paid` spent, its time first/last."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        goods = sum(paid_shares.line_paid(order.items, order.amounts))
        delta = rules.paid_delta(order.user_id, goods, order.paid_at or iso(self.clock.now()),
                                 self.level_of(order.user_id), order.distributor_id)
        applied = self.customers.apply(event_id, delta)
        logger.info("customer record: order paid", extra={"user_id": order.user_id, "applied": applied})

    def on_order_refunded(self, event_id: str, payload: dict) -> None:
        """`order.refunded`: the goods part of the refund off `spent`."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None:
            raise errors.NotFound(f"order {payload['order_id']} of {event_id}")
        goods = sum(paid_shares.line_paid(order.items, order.amounts))
        delta = rules.refund_delta(order.user_id, goods, int(payload["refunded_total"]), int(payload["amount"]),
                                   self.level_of(order.user_id))
        applied = self.customers.apply(event_id, delta)
        logger.info("customer record: order refunded", extra={"user_id": order.user_id, "applied": applied})

    # -- the shopper's phone -----------------------------------------------------------------
    def set_phone(self, user_id: str, code: str) -> dict:
        try:
            found = self.phone_api.get_phone_number(code)
        except InvalidCode:
            raise errors.NotAcceptable("the phone number code is not valid: it is used once and lives 5 minutes; "
                                       "ask for the number again") from None
        except (WeChatUnavailable, WeChatApiError) as exc:
            logger.warning("phone number: WeChat did not answer", extra={"user_id": user_id,
                                                                        "error": type(exc).__name__})
            raise errors.UpstreamUnavailable("WeChat did not give the number; try again") from None
        number = found["phone"]
        masked = rules.mask_phone(number)
        self.customers.set_phone(user_id, number, masked)
        logger.info("phone number saved", extra={"user_id": user_id})
        return {"phone_masked": masked}

    def remove_phone(self, user_id: str) -> None:
        if not self.customers.remove_phone(user_id):
            raise errors.NotFound("no phone number is saved")
        logger.info("phone number removed", extra={"user_id": user_id})

    # -- the admin list and page -----------------------------------------------------------
    def page(self, query: CustomerQuery, limit: int, cursor: dict | None):
        now = self.clock.now()
        if query.q is not None:
            found = rules.normalise_query(query.q)
            if found is None:
                raise errors.InvalidRequest("q is a phone number or its last four digits")
            matches = [c for c in self.customers.find_by_phone(*found) if query.filters.matches(c)]
            matches.sort(key=lambda c: (c.last_order_at or "", c.user_id), reverse=True)
            return [rules.view(c, now) for c in matches[:limit]], None
        if query.filters.tag is not None and query.filters.tag not in {t.name for t in self.customers.tags()}:
            raise errors.NotFound(f"no tag named {query.filters.tag}")
        found, next_cursor = self.customers.page(query.filters, limit, cursor)
        return [rules.view(c, now) for c in found], next_cursor

    def detail(self, user_id: str, whole_phone: bool = False) -> dict:
        """The customer with their orders, after-sales, coupons, balance, points and tags; the number whole
        only when the caller is an owner (`whole_phone`)."""
        customer = self.customers.get(user_id)
        if customer is None:
            raise errors.NotFound("no such customer")
        out = rules.view(customer, self.clock.now())
        out["segment_name"] = rules.SEGMENT_NAMES[out["segment"]]
        out["manual_tags"] = list(customer.manual_tags)
        out["rule_tags"] = list(customer.rule_tags)
        if whole_phone:
            out["phone"] = self.customers.phone(user_id)
        out["orders_list"] = self.order_views(user_id) if self.order_views else []
        out["coupons"] = self.coupon_views(user_id) if self.coupon_views else []
        out["after_sales"] = self.after_sale_views(user_id) if self.after_sale_views else []
        membership = self.membership(user_id) if self.membership else {}
        out["balance"] = membership.get("balance")
        out["points"] = membership.get("points")
        return out

    # -- tags ------------------------------------------------------------------------------
    def create_tag(self, body) -> dict:
        rule = body.rule.model_dump(exclude_none=True) if body.rule is not None else None
        if rule is not None and not rule:
            raise errors.InvalidRequest("a rule names at least one condition")
        if len(self.customers.tags()) >= rules.MAX_TAGS:
            raise errors.LimitExceeded(f"at most {rules.MAX_TAGS} tags")
        tag = self.customers.create_tag(Tag(name=body.name, rule=rule, created_at=iso(self.clock.now())))
        return _tag_view(tag)

    def tags(self) -> dict:
        return {"items": [_tag_view(t) for t in sorted(self.customers.tags(), key=lambda t: t.created_at)],
                "next_cursor": None}

    def set_manual_tags(self, user_id: str, names: list[str]) -> dict:
        known = {t.name: t for t in self.customers.tags()}
        for name in names:
            if name not in known:
                raise errors.NotAcceptable(f"no tag named {name}: create it first (POST /admin/tags)")
            if known[name].rule:
                raise errors.NotAcceptable(f"{name} is a rule tag: the retag-customers job sets it")
        if len(set(names)) > rules.MAX_MANUAL_TAGS:
            raise errors.NotAcceptable(f"at most {rules.MAX_MANUAL_TAGS} manual tags")
        if self.customers.get(user_id) is None:
            raise errors.NotFound("no such customer")
        after = self.customers.set_tags(user_id, manual=tuple(names))
        return {"user_id": user_id, "manual_tags": list(after.manual_tags), "tags": after.tags}

    def retag(self) -> dict:
        """The `retag-customers` job: every customer's rule tags recomputed from the tags'
        rules and the clock. Idempotent: a customer whose rule tags are already right is not
        written; run twice, the second run writes nothing.

        With `progress` (the table, in the stage) a run works for at most `budget_s`
        seconds, so it fits behind `POST /admin/jobs/{name}/run` (30 s) as well as the
        scheduled runs (every 5 minutes from 03:00 Beijing), keeps its place after each
        page and goes on from there the next run. A finished pass is started again when a
        rule tag was created since it began (an operator's new tag applies on the next
        run), or when it ended over `REPASS_S` ago (the day-based rules move with the
        clock); otherwise a run answers that the tags are current."""
        rule_tags = [t for t in self.customers.tags() if t.rule]
        now = self.clock.now()
        started = self.monotonic()
        state = self.progress.get(RETAG_PROGRESS) if self.progress is not None else None
        if not state or (state.get("finished_at") and self._repass(state, rule_tags, now)):
            state = {"cursor": None, "customers": 0, "retagged": 0, "started_at": iso(now)}
        elif state.get("finished_at"):
            return {"done": True, "customers": 0, "retagged": 0, "current_since": state["finished_at"]}
        seen = changed = 0
        while True:
            batch, cursor = self.customers.scan_all(state["cursor"])
            page_changed = 0
            for customer in batch:
                wanted = rules.rule_tags(rule_tags, customer, now)
                if tuple(sorted(customer.rule_tags)) != wanted:
                    self.customers.set_tags(customer.user_id, rule=wanted)
                    page_changed += 1
            seen, changed = seen + len(batch), changed + page_changed
            state.update(cursor=cursor, customers=state["customers"] + len(batch),
                         retagged=state["retagged"] + page_changed)
            if cursor is None:
                state["finished_at"] = iso(self.clock.now())
            if self.progress is not None:
                self.progress.set(RETAG_PROGRESS, state)
            logger.info("retag-customers: progress", extra={"customers": seen, "retagged": changed,
                                                            "customers_in_pass": state["customers"]})
            if cursor is None:
                return {"done": True, "customers": seen, "retagged": changed}
            if self.progress is not None and self.monotonic() - started >= self.budget_s:
                logger.info("retag-customers: run ends; the next run goes on", extra={"customers": seen})
                return {"done": False, "customers": seen, "retagged": changed}

    @staticmethod
    def _repass(state: dict, rule_tags: list[Tag], now) -> bool:
        from datetime import datetime

        finished = datetime.fromisoformat(state["finished_at"].replace("Z", "+00:00"))
        if (now - finished).total_seconds() >= REPASS_S:
            return True
        return any(t.created_at >= state["started_at"] for t in rule_tags)


RETAG_PROGRESS = "retag-customers"
# A finished pass is made again after this long (the schedule runs every 5 minutes for an
# hour each night: the first run of the night starts the pass, the others go on or rest).
REPASS_S = 6 * 3600


BACKFILL_PROGRESS = "customers-backfill"


class CustomerBackfill:
    """The one-off `backfill-customers` job: the records of shoppers who paid before the
    customers' consumers existed, from their orders and refunds.

    It walks the paid days (Beijing) back from today to the shop's first, and applies each
    order's paid fact and each of its succeeded refunds through the same `apply` as the
    events, under the events' own ids (`order.paid:<order_id>`, `order.refunded:<refund_id>`).
    So what the consumers already counted is skipped by its marker, and an event delivered
    after the backfill counted it changes nothing: run it again, late, or after it died
    halfway, nothing counts twice. The markers live 90 days: run it within 90 days of the
    deploy that brought the consumers. Each run works for at most `budget_s` seconds
    (it fits behind `POST /admin/jobs/{name}/run`), keeps where it is, and goes on from
    there the next time; a finished pass starts again from today."""

    def __init__(self, *, service: CustomerService, orders, refunds, progress, first_day: Callable[[], str | None],
                 clock, budget_s: float = 20.0, monotonic: Callable[[], float] = time.monotonic):
        self.service = service
        self.orders = orders
        self.refunds = refunds
        self.progress = progress
        self.first_day = first_day
        self.clock = clock
        self.budget_s = budget_s
        self.monotonic = monotonic

    def run(self) -> dict:
        started = self.monotonic()
        state = self.progress.get(BACKFILL_PROGRESS)
        if not state or state.get("finished_at"):
            state = {"day": day_of(iso(self.clock.now())), "floor": self.first_day(), "applied": 0}
        applied = 0
        while state["floor"] is not None and state["day"] >= state["floor"]:
            if self.monotonic() - started >= self.budget_s:
                break
            found = sum(self.backfill_order(o) for o in self.orders.paid_on(state["day"]))
            applied += found
            state.update(day=(date.fromisoformat(state["day"]) - timedelta(days=1)).isoformat(),
                         applied=state["applied"] + found)
            self.progress.set(BACKFILL_PROGRESS, state)
            if found:
                logger.info("customers backfill: a paid day", extra={"next_day": state["day"], "applied": found})
        done = state["floor"] is None or state["day"] < state["floor"]
        if done:
            state["finished_at"] = iso(self.clock.now())
            self.progress.set(BACKFILL_PROGRESS, state)
        logger.info("customers backfill: " + ("pass done" if done else "run ends; run it again to go on"),
                    extra={"applied": applied, "applied_in_pass": state["applied"], "next_day": state["day"]})
        return {"done": done, "applied": applied, "next_day": None if done else state["day"]}

    def backfill_order(self, order) -> int:
        """The order's paid fact and its succeeded refunds, oldest first, each once; how
        many were applied by this call."""
        if not order.paid_at:
            return 0
        goods = sum(paid_shares.line_paid(order.items, order.amounts))
        level = self.service.level_of(order.user_id)
        count = int(self.service.customers.apply(
            f"order.paid:{order.order_id}",
            rules.paid_delta(order.user_id, goods, order.paid_at, level, order.distributor_id)))
        refunded = 0
        done = sorted((r for r in self.refunds.for_order(order.order_id) if r.status == refund_rules.SUCCESS),
                      key=lambda r: (r.updated_at, r.refund_id))
        for refund in done:
            refunded += refund.amount
            count += int(self.service.customers.apply(
                f"order.refunded:{refund.refund_id}",
                rules.refund_delta(order.user_id, goods, refunded, refund.amount, level)))
        return count


def _tag_view(tag: Tag) -> dict:
    return {"name": tag.name, "rule": tag.rule, "kind": "rule" if tag.rule else "manual",
            "created_at": tag.created_at}
