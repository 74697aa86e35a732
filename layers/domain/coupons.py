"""Coupon rules: pure functions on integer fen.

- `fixed` (满减 / 无门槛): `value` fen off.
- `percent` (折扣): `value` percent off (1 to 99), at most `max_discount` fen.
- A coupon applies to the goods in its scope (the whole shop, some products, some
  categories); those goods must reach `threshold` fen.
- Rounding is in the shopper's favour: a percent discount is rounded UP to whole fen
  (30% of 333 fen is 99.9 fen: the shopper gets 100). It is then capped by
  `max_discount` and by the goods in scope, so a discount is never negative and never
  more than what it applies to.
- Shipping is never discounted.
- Promotions come off first. The threshold is measured on the covered goods at list
  price, so a promotion never makes a coupon unusable (the shopper never pays more for
  a promotion); a percent coupon and the cap see the goods after their promotions
  (`Line.net`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from layers.domain import errors
from layers.domain.pricing import Line


@dataclass(frozen=True)
class Rule:
    kind: str  # fixed | percent
    value: int
    threshold: int = 0
    max_discount: int | None = None
    product_ids: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)

    @property
    def whole_shop(self) -> bool:
        return not self.product_ids and not self.categories


def in_scope(rule: Rule, line: Line) -> bool:
    return rule.whole_shop or line.product_id in rule.product_ids or (
        line.category is not None and line.category in rule.categories)


def scoped_goods(rule: Rule, lines: list[Line]) -> int:
    """The goods the coupon covers, at list price: what its threshold is measured on."""
    return sum(line.amount for line in lines if in_scope(rule, line))


def scoped_net(rule: Rule, lines: list[Line]) -> int:
    """The goods the coupon covers after their promotions: what it can take off."""
    return sum(line.net for line in lines if in_scope(rule, line))


def discount(rule: Rule, lines: list[Line]) -> int:
    """The discount in fen; raises CouponNotApplicable when the order does not qualify."""
    base = scoped_goods(rule, lines)
    if base == 0:
        raise errors.CouponNotApplicable("no goods in this order are covered by the coupon")
    if base < rule.threshold:
        raise errors.CouponNotApplicable(
            f"the coupon needs {rule.threshold} fen of goods it covers; this order has {base}",
            threshold=rule.threshold)
    base = scoped_net(rule, lines)
    if rule.kind == "fixed":
        off = rule.value
    elif rule.kind == "percent":
        off = -(-base * rule.value // 100)  # ceiling: whole fen, in the shopper's favour
        if rule.max_discount is not None:
            off = min(off, rule.max_discount)
    else:
        raise ValueError(f"unknown coupon kind {rule.kind}")
    return max(0, min(off, base))


def check_claim_window(now: datetime, starts: datetime, ends: datetime) -> None:
    if now < starts:
        raise errors.NotStarted("claiming this coupon has not started")
    if now >= ends:
        raise errors.Ended("claiming this coupon has ended")


def validity(claimed_at: datetime, valid_from: datetime | None, valid_until: datetime | None,
             valid_days: int | None) -> tuple[datetime, datetime]:
    """When a coupon claimed at `claimed_at` can be used: fixed dates, or `valid_days` from
    the claim. A warm-up coupon (预热) is simply one whose valid_from is after its claim."""
    if valid_days is not None:
        start = max(claimed_at, valid_from) if valid_from else claimed_at
        return start, start + timedelta(days=valid_days)
    if valid_from is None or valid_until is None:
        raise ValueError("a coupon needs valid_from and valid_until, or valid_days")
    return valid_from, valid_until


def check_usable(now: datetime, valid_from: datetime, valid_until: datetime) -> None:
    if now < valid_from:
        raise errors.CouponNotApplicable("this coupon cannot be used yet", valid_from=valid_from.isoformat())
    if now >= valid_until:
        raise errors.CouponNotApplicable("this coupon has expired")


def split_total(total: int, shards: int) -> list[int]:
    """How a template's `total` is spread over its counter shards (sums to `total`)."""
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shards_for(total: int, expected_claims_per_s: int | None) -> int:
    """Counter shards for a template. One DynamoDB item takes about 1,000 writes/s; a claim
    writes its shard once, so N shards carry about N x 1,000 claims/s (we plan on half, for
    the transaction's overhead and uneven spread). Never more shards than coupons."""
    peak = expected_claims_per_s or 500
    return max(1, min(total, 100, -(-peak // 500)))
