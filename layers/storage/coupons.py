"""Coupons in the shop table.

- Template: pk `COUPON#<tid>`, sk `TEMPLATE`; gsi1 `COUPONS` / `<claim_ends_at>#<tid>`
  (what can be claimed: claim window not over); post-payment templates are on gsi2
  `POSTPAY_TEMPLATES` / `<tid>` instead.
- Issue counter shards: pk `COUPON#<tid>`, sk `SHARD#<k>`, `issued` < `cap`. A template's
  `total` is split over its shards so a coupon drop is not limited by one hot item.
- Per-shopper count: pk `COUPON#<tid>`, sk `USER#<user_id>`, `claimed` < per_user_limit.
- A shopper's coupon: pk `UCOUPON#<id>`, sk `UCOUPON`, with the template's rule copied in;
  gsi1 `USER#<user_id>#COUPONS` / `<claimed_at>#<id>`; gsi2 `COUPONS_EXPIRING` /
  `<valid_until>#<id>` while UNUSED (expiry reminders).

A claim is one transaction: a shard's increment, the shopper's count and the coupon's
put, each with its condition. Status: UNUSED -> HELD (by an unpaid order) -> USED;
HELD -> UNUSED when the order closes; USED -> UNUSED when the order is fully refunded.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.storage.base import ListedAndQueued, ShopModel

UNUSED, HELD, USED, EXPIRED = "UNUSED", "HELD", "USED", "EXPIRED"


class TemplateItem(ListedAndQueued):
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    value = NumberAttribute()
    threshold = NumberAttribute(default=0)
    max_discount = NumberAttribute(null=True)
    claim_starts_at = UnicodeAttribute()
    claim_ends_at = UnicodeAttribute()
    valid_from = UnicodeAttribute(null=True)
    valid_until = UnicodeAttribute(null=True)
    valid_days = NumberAttribute(null=True)
    total = NumberAttribute()
    per_user_limit = NumberAttribute()
    scope = JSONAttribute(null=True)
    post_payment = JSONAttribute(null=True)
    shards = NumberAttribute()
    created_at = UnicodeAttribute()


class ShardItem(ShopModel):
    cap = NumberAttribute()
    issued = NumberAttribute(default=0)


class UserCountItem(ShopModel):
    claimed = NumberAttribute(default=0)


class UserCouponItem(ListedAndQueued):
    coupon_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    rule = JSONAttribute()
    status = UnicodeAttribute()
    valid_from = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    claimed_at = UnicodeAttribute()
    held_by = UnicodeAttribute(null=True)
    used_by = UnicodeAttribute(null=True)
    used_at = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="claim")  # claim | post_payment
    request_hash = UnicodeAttribute(null=True)


def template_key(tid: str) -> tuple[str, str]:
    return f"COUPON#{tid}", "TEMPLATE"


def shard_key(tid: str, k: int) -> tuple[str, str]:
    return f"COUPON#{tid}", f"SHARD#{k:03d}"


def user_count_key(tid: str, user_id: str) -> tuple[str, str]:
    return f"COUPON#{tid}", f"USER#{user_id}"


def coupon_key(coupon_id: str) -> tuple[str, str]:
    return f"UCOUPON#{coupon_id}", "UCOUPON"


def get_template(tid: str) -> TemplateItem | None:
    try:
        return TemplateItem.get(*template_key(tid))
    except TemplateItem.DoesNotExist:
        return None


def get_coupon(coupon_id: str, consistent: bool = True) -> UserCouponItem | None:
    try:
        return UserCouponItem.get(*coupon_key(coupon_id), consistent_read=consistent)
    except UserCouponItem.DoesNotExist:
        return None


def claimable(now_iso: str, limit: int, cursor: dict | None):
    result = TemplateItem.gsi1.query("COUPONS", TemplateItem.gsi1sk > now_iso, limit=limit,
                                     last_evaluated_key=cursor,
                                     filter_condition=TemplateItem.claim_starts_at <= now_iso)
    return list(result), result.last_evaluated_key


def all_templates(limit: int, cursor: dict | None):
    result = TemplateItem.gsi1.query("COUPONS", scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def post_payment_templates() -> list[TemplateItem]:
    return list(TemplateItem.gsi2.query("POSTPAY_TEMPLATES"))


def user_coupons(user_id: str, limit: int, cursor: dict | None):
    result = UserCouponItem.gsi1.query(f"USER#{user_id}#COUPONS", scan_index_forward=False, limit=limit,
                                       last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def expiring(from_iso: str, until_iso: str, limit: int = 1000):
    return UserCouponItem.gsi2.query("COUPONS_EXPIRING", UserCouponItem.gsi2sk.between(from_iso, f"{until_iso}#~"),
                                     limit=limit)


def issued_total(tid: str) -> int:
    return sum(int(s.issued) for s in ShardItem.query(f"COUPON#{tid}", ShardItem.sk.startswith("SHARD#")))
