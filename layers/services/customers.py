"""Customers: the record per shopper kept from the events, their phone number, the admin
list and page, tags and the `retag-customers` job (docs/customers.md).

Nothing here logs a phone number or any part of it: log lines name user ids and counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from layers.clock import iso
from layers.domain import customers as rules
from layers.domain import errors, paid_shares
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
                 membership: Callable[[str], dict] | None = None, after_sale_views: Callable | None = None):
        self.customers = customers
        self.orders = orders
        self.phone_api = phone_api
        self.level_of = level_of
        self.clock = clock
        self.order_views = order_views
        self.coupon_views = coupon_views
        self.membership = membership
        self.after_sale_views = after_sale_views

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
        written; run twice, the second run writes nothing."""
        rule_tags = [t for t in self.customers.tags() if t.rule]
        now = self.clock.now()
        seen = changed = 0
        cursor = None
        while True:
            batch, cursor = self.customers.scan_all(cursor)
            for customer in batch:
                seen += 1
                wanted = rules.rule_tags(rule_tags, customer, now)
                if tuple(sorted(customer.rule_tags)) != wanted:
                    self.customers.set_tags(customer.user_id, rule=wanted)
                    changed += 1
            if batch:
                logger.info("retag-customers: progress", extra={"customers": seen, "changed": changed})
            if cursor is None:
                return {"customers": seen, "retagged": changed}


def _tag_view(tag: Tag) -> dict:
    return {"name": tag.name, "rule": tag.rule, "kind": "rule" if tag.rule else "manual",
            "created_at": tag.created_at}
