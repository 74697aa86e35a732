"""A coupon template: what a coupon is worth, when it can be claimed, how many exist.

A template does not change once created. What moves is its issue count, split over
counter shards (`issued < cap` per shard, so a coupon drop is not limited by one hot
item) and counted per shopper (`claimed < per_user_limit`). Issuing one coupon is one
transaction: a shard's increment, the shopper's count and the coupon's creation, each
with its condition (see `layers/domain/user_coupon.py` for the coupon itself).

A post-payment template (支付有礼) is never listed for claiming: `order.paid` gives it,
once per order, to a payment of at least `post_payment["min_payable"]` fen made inside
its claim window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from layers.domain import coupons as rules
from layers.domain import errors


@dataclass(frozen=True)
class CouponTemplate:
    template_id: str
    name: str
    kind: str  # fixed | percent
    value: int
    threshold: int
    max_discount: int | None
    claim_starts_at: str
    claim_ends_at: str
    valid_from: str | None
    valid_until: str | None
    valid_days: int | None
    total: int
    per_user_limit: int
    scope: dict | None  # {"product_ids": [...], "categories": [...]}
    post_payment: dict | None  # {"min_payable": fen}
    shards: int
    created_at: str

    @property
    def rule(self) -> dict:
        """The rule every coupon of this template carries (copied in at issue)."""
        return {"kind": self.kind, "value": self.value, "threshold": self.threshold,
                "max_discount": self.max_discount, "scope": self.scope}


class CouponTemplateRepository(Protocol):
    def get(self, template_id: str) -> CouponTemplate | None: ...

    def claimable(self, now_iso: str, limit: int, cursor: dict | None
                  ) -> tuple[list[CouponTemplate], dict | None]:
        """Templates whose claim window is open at `now_iso` (post-payment ones excluded)."""

    def listed(self, limit: int, cursor: dict | None) -> tuple[list[CouponTemplate], dict | None]:
        """Every claimable-kind template, latest claim end first."""

    def post_payment(self) -> list[CouponTemplate]: ...

    def issued_total(self, template_id: str) -> int: ...

    def stage_create(self, tx, template: CouponTemplate, shard_caps: list[int], on_exists) -> None:
        """The template and its counter shards (shard k may issue `shard_caps[k]`)."""

    def stage_count_claim(self, tx, template_id: str, user_id: str, limit: int, on_limit) -> None:
        """The shopper's count of this template + 1, conditioned on it being below `limit`."""

    def stage_take_from_shard(self, tx, template_id: str, shard: int, on_empty) -> None:
        """Shard `shard`'s issue count + 1, conditioned on it being below the shard's cap."""


def new_template_id() -> str:
    return "t" + uuid.uuid4().hex[:20]


def shard_caps(template: CouponTemplate) -> list[int]:
    return rules.split_total(template.total, template.shards)


def claim_window_open(template: CouponTemplate, now: datetime) -> None:
    """Raises NotStarted / Ended outside the claim window."""
    rules.check_claim_window(now, _at(template.claim_starts_at), _at(template.claim_ends_at))


def validity(template: CouponTemplate, claimed_at: datetime) -> tuple[datetime, datetime]:
    """When a coupon of this template claimed at `claimed_at` can be used."""
    return rules.validity(claimed_at, _at(template.valid_from) if template.valid_from else None,
                          _at(template.valid_until) if template.valid_until else None, template.valid_days)


def check_givable(template: CouponTemplate, now: datetime) -> None:
    """The shop may give a coupon of it (a grant, a goodwill coupon): not bound by the claim
    window, which is when shoppers may claim (a template only the shop gives keeps its
    window closed, so it is never listed), but never a coupon already expired at issue.
    Raises Ended."""
    _, valid_until = validity(template, now)
    if valid_until <= now:
        raise errors.Ended("coupons of this template are no longer valid")


def check_claimable(template: CouponTemplate | None, now: datetime) -> CouponTemplate:
    """A shopper may claim it: it exists, is not a post-payment gift, and its window is open."""
    if template is None or template.post_payment:
        raise errors.NotFound("no such coupon")
    claim_window_open(template, now)
    return template


def gives_after_payment(template: CouponTemplate, payable: int, now: datetime) -> bool:
    """Whether a payment of `payable` fen at `now` earns this post-payment template."""
    if payable < int((template.post_payment or {}).get("min_payable", 0)):
        return False
    try:
        claim_window_open(template, now)
    except (errors.NotStarted, errors.Ended):
        return False
    return True


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)
