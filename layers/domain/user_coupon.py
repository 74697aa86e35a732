"""A shopper's coupon: its state, its statuses, and every transition as a pure function.

    (issued)                          UNUSED    a claim, or a post-payment gift
    UNUSED --hold(order)-->           HELD      an unpaid order holds it (placement)
    HELD   --consume(order)-->        USED      that order is paid
    HELD   --give_back(order)-->      UNUSED    that order closed unpaid
    USED   --give_back_used(order)--> UNUSED    that order was fully refunded
    UNUSED --retake(order)-->         USED      that order, closed, was paid after all

EXPIRED is never stored: an UNUSED coupon past `valid_until` shows as EXPIRED and
cannot be held. A transition takes the coupon as read and answers the coupon after (or
a domain error); the repository writes it conditioned on the status (and the order
holding it) it was decided from, in the order's own transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from layers.domain import coupons as rules
from layers.domain import errors
from layers.domain.coupon_template import CouponTemplate
from layers.domain.pricing import Line


class CouponStatus(StrEnum):
    UNUSED = "UNUSED"
    HELD = "HELD"
    USED = "USED"
    EXPIRED = "EXPIRED"


UNUSED = CouponStatus.UNUSED
HELD = CouponStatus.HELD
USED = CouponStatus.USED
EXPIRED = CouponStatus.EXPIRED
STATUSES = tuple(s.value for s in CouponStatus)


@dataclass(frozen=True)
class UserCoupon:
    coupon_id: str
    template_id: str
    user_id: str
    name: str
    rule: dict  # the template's rule, copied in: {"kind", "value", "threshold", "max_discount", "scope"}
    status: str
    valid_from: str
    valid_until: str
    claimed_at: str
    source: str = "claim"  # claim | post_payment
    held_by: str | None = None  # the unpaid order holding it (HELD)
    used_by: str | None = None  # the paid order that used it (USED)
    used_at: str | None = None

    def shown_status(self, now_iso: str) -> str:
        """The status a shopper sees: an UNUSED coupon past its validity is EXPIRED."""
        if self.status == UNUSED and self.valid_until <= now_iso:
            return EXPIRED.value
        return str(self.status)

    def as_rule(self) -> rules.Rule:
        scope = self.rule.get("scope") or {}
        return rules.Rule(kind=self.rule["kind"], value=int(self.rule["value"]),
                          threshold=int(self.rule.get("threshold") or 0),
                          max_discount=self.rule.get("max_discount"),
                          product_ids=frozenset(scope.get("product_ids") or ()),
                          categories=frozenset(scope.get("categories") or ()))


class UserCouponRepository(Protocol):
    def get(self, coupon_id: str, consistent: bool = True) -> UserCoupon | None: ...

    def for_user(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[UserCoupon], dict | None]:
        """A shopper's coupons, latest claim first."""

    def expiring(self, from_iso: str, until_iso: str, limit: int = 1000) -> list[UserCoupon]:
        """UNUSED coupons whose validity ends in [from_iso, until_iso], soonest first."""

    def stage_issue(self, tx, coupon: UserCoupon, on_exists) -> None:
        """Create the coupon, conditioned on no coupon having its id."""

    def stage_change(self, tx, before: UserCoupon, after: UserCoupon, on_stale) -> None:
        """Write `after`, conditioned on the stored coupon still having `before`'s status,
        owner and holding order (`held_by` / `used_by`)."""

    def stage_consume(self, tx, coupon_id: str, order_id: str, now: str, on_stale=None) -> None:
        """`consume` without a read: HELD by `order_id` -> USED, conditioned on exactly
        that (the only state `consume` is defined from, so nothing is decided blind)."""


def claim_coupon_id(user_id: str, template_id: str, idempotency_key: str | None) -> str:
    """With an Idempotency-Key the id is derived, so a retried claim is the same coupon."""
    if idempotency_key is None:
        return "c" + uuid.uuid4().hex[:25]
    return "c" + hashlib.sha256(f"{user_id}\x00{template_id}\x00{idempotency_key}".encode()).hexdigest()[:25]


def gift_coupon_id(order_id: str, template_id: str) -> str:
    """The one post-payment coupon of a template an order can earn."""
    return "c" + hashlib.sha256(f"{order_id}\x00{template_id}".encode()).hexdigest()[:25]


def issue(template: CouponTemplate, user_id: str, coupon_id: str, claimed_at: str, valid_from: str,
          valid_until: str, source: str) -> UserCoupon:
    """A new UNUSED coupon of `template` (the validity comes from `coupon_template.validity`)."""
    return UserCoupon(coupon_id=coupon_id, template_id=template.template_id, user_id=user_id,
                      name=template.name, rule=template.rule, status=UNUSED, valid_from=valid_from,
                      valid_until=valid_until, claimed_at=claimed_at, source=source)


def hold(coupon: UserCoupon | None, user_id: str, order_id: str, lines: list[Line],
         now: datetime) -> tuple[int, UserCoupon]:
    """The shopper's order `order_id` takes the coupon: answers (discount in fen, coupon
    after). Raises CouponNotApplicable when it is not theirs, not UNUSED, not valid now,
    or the order does not qualify."""
    if coupon is None or coupon.user_id != user_id:
        raise errors.CouponNotApplicable("no such coupon among yours")
    if coupon.status != UNUSED:
        raise errors.CouponNotApplicable(f"this coupon is {coupon.status.lower()}")
    rules.check_usable(now, datetime.fromisoformat(coupon.valid_from), datetime.fromisoformat(coupon.valid_until))
    off = rules.discount(coupon.as_rule(), lines)
    return off, replace(coupon, status=HELD, held_by=order_id)


def consume(coupon: UserCoupon, order_id: str, now: str) -> UserCoupon:
    """The order holding it is paid."""
    if coupon.status != HELD or coupon.held_by != order_id:
        raise errors.InvalidState(f"coupon {coupon.coupon_id} is not held by order {order_id}")
    return replace(coupon, status=USED, used_by=order_id, used_at=now, held_by=None)


def give_back(coupon: UserCoupon, order_id: str) -> UserCoupon:
    """The order holding it closed unpaid. An expired coupon goes back too; it shows as
    EXPIRED and cannot be held again."""
    if coupon.status != HELD or coupon.held_by != order_id:
        raise errors.InvalidState(f"coupon {coupon.coupon_id} is not held by order {order_id}")
    return replace(coupon, status=UNUSED, held_by=None)


def retake(coupon: UserCoupon, order_id: str, now: str) -> UserCoupon:
    """An order that closed (giving its coupon back) was paid after all: it takes the coupon
    again, used. Refused when the coupon went to another order meanwhile; then the payment
    is refunded instead, so no coupon is ever used twice."""
    if coupon.status != UNUSED:
        raise errors.CouponNotApplicable(f"coupon {coupon.coupon_id} is {coupon.status.lower()} elsewhere")
    return replace(coupon, status=USED, used_by=order_id, used_at=now, held_by=None)


def give_back_used(coupon: UserCoupon, order_id: str) -> UserCoupon:
    """The order that used it was fully refunded: usable again (if still valid)."""
    if coupon.status != USED or coupon.used_by != order_id:
        raise errors.InvalidState(f"coupon {coupon.coupon_id} was not used by order {order_id}")
    return replace(coupon, status=UNUSED, held_by=None, used_by=None, used_at=None)
