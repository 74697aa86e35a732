"""Customers: the record the events keep per shopper, its tags and its RFM segment.

Pure rules; `layers/storage/customers.py` keeps the records and `layers/services/customers.py`
feeds them from the events (docs/customers.md says why each rule is what it is).

- `spent` is what the customer paid for goods (the sum of the order lines' `paid`, so
  shipping is not spending) less refunds. A refund takes back the goods part of what it
  returns: a refund counts against the order's shipping only once the goods are all
  refunded (`refunded_goods`), so a whole refund of an order brings `spent` back exactly to
  what it was, and a partial one never goes below it.
- `orders` counts paid orders; a refund does not uncount an order (it was placed and paid),
  it only lowers `spent`.
- Tags: manual ones are set by an operator; a tag with a `rule` is recomputed for everyone
  by the `retag-customers` job (`rule_holds`).
- Segment (RFM): recency, frequency and money each high or low against fixed thresholds,
  eight named groups (SEGMENTS), computed at read time from the record and the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

# -- RFM thresholds: a customer is "high" on each when they reach it ------------------------
RECENT_DAYS = 90          # recency high: last order within 90 days
FREQUENT_ORDERS = 3       # frequency high: at least 3 paid orders
MONEY_SPENT = 50000       # money high: at least 500 yuan spent (fen)

# (recency, frequency, money) high? -> segment; the console names them in Chinese.
SEGMENTS = {
    (True, True, True): "important_value",      # 重要价值客户
    (True, False, True): "important_develop",   # 重要发展客户
    (False, True, True): "at_risk",    # 流失预警客户 (重要保持: were loyal and spent much, gone quiet)
    (False, False, True): "important_recover",  # 重要挽留客户
    (True, True, False): "general_value",       # 一般价值客户
    (True, False, False): "general_develop",    # 一般发展客户
    (False, True, False): "general_retain",     # 一般保持客户
    (False, False, False): "general_recover",   # 一般挽留客户
}
SEGMENT_NAMES = {
    "important_value": "重要价值客户", "important_develop": "重要发展客户",
    "at_risk": "流失预警客户", "important_recover": "重要挽留客户",
    "general_value": "一般价值客户", "general_develop": "一般发展客户",
    "general_retain": "一般保持客户", "general_recover": "一般挽留客户",
    "new": "未下单客户",
}

TAG_NAME = re.compile(r"^[^\s,/#]{1,20}$")
MAX_MANUAL_TAGS = 20
MAX_TAGS = 200
RULE_FIELDS = ("min_orders", "min_spent", "last_order_within_days", "no_order_for_days", "level")


@dataclass(frozen=True)
class Customer:
    user_id: str
    orders: int = 0
    spent: int = 0
    first_order_at: str | None = None
    last_order_at: str | None = None
    level: str | None = None
    distributor_id: str | None = None
    phone_masked: str | None = None
    manual_tags: tuple[str, ...] = ()
    rule_tags: tuple[str, ...] = ()

    @property
    def tags(self) -> list[str]:
        return sorted(set(self.manual_tags) | set(self.rule_tags))


@dataclass(frozen=True)
class Tag:
    name: str
    rule: dict | None = None
    created_at: str = ""


@dataclass(frozen=True)
class Delta:
    """What one event changes in a customer record: figures added, fields set."""

    user_id: str
    orders: int = 0
    spent: int = 0
    order_at: str | None = None        # a paid order's time: first (if none) and last (if later)
    sets: dict = field(default_factory=dict)  # level, distributor_id


def mask_phone(number: str) -> str:
    """`138****0000`: the first three and the last four digits; shorter numbers (some
    outside mainland China) keep only their last four."""
    if len(number) >= 8:
        return f"{number[:3]}****{number[-4:]}"
    return f"****{number[-4:]}"


def normalise_query(q: str) -> tuple[str, str] | None:
    """`q` of the customer list: ("phone", digits) for a whole number, ("last4", digits)
    for four digits, None for anything else (the list answers 400)."""
    digits = q.strip().removeprefix("+86").replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):  # `²` and `١` are digits too, to str.isdigit
        return None
    if len(digits) == 4:
        return "last4", digits
    if 5 <= len(digits) <= 20:
        return "phone", digits
    return None


def refunded_goods(goods_paid: int, refunded_before: int, amount: int) -> int:
    """The goods part of a refund of `amount` when `refunded_before` was already refunded
    of an order whose lines paid `goods_paid`: refunds go against the goods first."""
    return max(0, min(refunded_before + amount, goods_paid) - min(refunded_before, goods_paid))


def paid_delta(user_id: str, goods_paid: int, paid_at: str, level: str | None,
               distributor_id: str | None) -> Delta:
    sets = {"level": level}
    if distributor_id:
        sets["distributor_id"] = distributor_id  # the distributor the latest order was bound to
    return Delta(user_id, orders=1, spent=goods_paid, order_at=paid_at, sets=sets)


def refund_delta(user_id: str, goods_paid: int, refunded_total: int, amount: int, level: str | None) -> Delta:
    return Delta(user_id, spent=-refunded_goods(goods_paid, refunded_total - amount, amount), sets={"level": level})


def applied(c: Customer, d: Delta) -> Customer:
    """The record after `d` (the storage writes the same with ADD and conditional SETs;
    this is its reference, used by the fake and the properties)."""
    first, last = c.first_order_at, c.last_order_at
    if d.order_at:
        first = d.order_at if first is None or d.order_at < first else first
        last = d.order_at if last is None or d.order_at > last else last
    return replace(c, orders=c.orders + d.orders, spent=c.spent + d.spent, first_order_at=first,
                   last_order_at=last, **{k: v for k, v in d.sets.items() if k in ("level", "distributor_id")})


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def days_since(at: str | None, now: datetime) -> float | None:
    return None if at is None else (now - _parse(at)) / timedelta(days=1)


def segment(c: Customer, now: datetime) -> str:
    """The RFM group; a customer who never paid is `new`."""
    if not c.orders or c.last_order_at is None:
        return "new"
    recent = days_since(c.last_order_at, now) <= RECENT_DAYS
    return SEGMENTS[(recent, c.orders >= FREQUENT_ORDERS, c.spent >= MONEY_SPENT)]


def rule_holds(rule: dict, c: Customer, now: datetime) -> bool:
    """Every condition of the rule holds (an empty rule holds for no one)."""
    if not rule:
        return False
    if "min_orders" in rule and c.orders < int(rule["min_orders"]):
        return False
    if "min_spent" in rule and c.spent < int(rule["min_spent"]):
        return False
    since = days_since(c.last_order_at, now)
    if "last_order_within_days" in rule and (since is None or since > int(rule["last_order_within_days"])):
        return False
    if "no_order_for_days" in rule and since is not None and since < int(rule["no_order_for_days"]):
        return False
    return not ("level" in rule and c.level != rule["level"])


def rule_tags(tags: list[Tag], c: Customer, now: datetime) -> tuple[str, ...]:
    return tuple(sorted(t.name for t in tags if t.rule and rule_holds(t.rule, c, now)))


@dataclass(frozen=True)
class Filters:
    """The customer list's filters; each None is no filter."""

    tag: str | None = None
    level: str | None = None
    min_spent: int | None = None
    min_orders: int | None = None
    last_order_before: str | None = None
    last_order_after: str | None = None

    def matches(self, c: Customer) -> bool:
        if self.tag is not None and self.tag not in c.tags:
            return False
        if self.level is not None and c.level != self.level:
            return False
        if self.min_spent is not None and c.spent < self.min_spent:
            return False
        if self.min_orders is not None and c.orders < self.min_orders:
            return False
        if self.last_order_before is not None and (c.last_order_at is None or c.last_order_at >= self.last_order_before):
            return False
        return not (self.last_order_after is not None
                    and (c.last_order_at is None or c.last_order_at <= self.last_order_after))


def view(c: Customer, now: datetime) -> dict:
    """A customer as the admin list answers it (the phone only masked)."""
    return {"user_id": c.user_id, "phone_masked": c.phone_masked, "level": c.level, "orders": c.orders,
            "spent": c.spent, "last_order_at": c.last_order_at, "first_order_at": c.first_order_at,
            "distributor_id": c.distributor_id, "tags": c.tags, "segment": segment(c, now)}


class CustomerRepository(Protocol):
    """What the service needs of the records (layers/storage/customers.py on DynamoDB)."""

    def get(self, user_id: str) -> Customer | None: ...

    def apply(self, event_id: str, delta: Delta) -> bool:
        """`delta` once per `event_id`: False when that event was already applied."""

    def set_phone(self, user_id: str, phone: str, masked: str) -> None: ...

    def remove_phone(self, user_id: str) -> bool: ...

    def find_by_phone(self, kind: str, digits: str) -> list[Customer]: ...

    def page(self, filters: Filters, limit: int, cursor: dict | None) -> tuple[list[Customer], dict | None]: ...

    def create_tag(self, tag: Tag) -> Tag: ...

    def tags(self) -> list[Tag]: ...

    def set_tags(self, user_id: str, manual: tuple[str, ...] | None = None,
                 rule: tuple[str, ...] | None = None) -> Customer: ...

    def users_with_tag(self, tag: str, limit: int = 100, cursor: dict | None = None) -> tuple[list[str], dict | None]:
        """A page of the user ids holding `tag`, and the next page's cursor (None at the end)."""

    def scan_all(self, cursor: dict | None) -> tuple[list[Customer], dict | None]: ...
