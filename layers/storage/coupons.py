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
HELD -> UNUSED when the order closes; USED -> UNUSED when the order is fully refunded
(the transitions are `layers/domain/user_coupon.py`'s; each write here is conditioned
on the status, owner and holding order it was decided from).

`DynamoCouponTemplates` and `DynamoUserCoupons` implement the domain's
`CouponTemplateRepository` and `UserCouponRepository`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.domain.coupon_template import CouponTemplate
from layers.domain.user_coupon import HELD, UNUSED, USED, UserCoupon
from layers.storage.base import ListedAndQueued, ShopModel, changed

TEMPLATES = "COUPONS"  # gsi1: templates that can be claimed, by claim end
POST_PAYMENT_TEMPLATES = "POSTPAY_TEMPLATES"  # gsi2: templates given after payment
EXPIRING = "COUPONS_EXPIRING"  # gsi2: UNUSED coupons, by the end of their validity


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


def _user_coupons_key(user_id: str) -> str:
    return f"USER#{user_id}#COUPONS"


def _int(value) -> int | None:
    return int(value) if value is not None else None


def _template(t: TemplateItem) -> CouponTemplate:
    return CouponTemplate(
        template_id=t.template_id, name=t.name, kind=t.kind, value=int(t.value), threshold=int(t.threshold or 0),
        max_discount=_int(t.max_discount), claim_starts_at=t.claim_starts_at, claim_ends_at=t.claim_ends_at,
        valid_from=t.valid_from, valid_until=t.valid_until, valid_days=_int(t.valid_days), total=int(t.total),
        per_user_limit=int(t.per_user_limit), scope=t.scope, post_payment=t.post_payment, shards=int(t.shards),
        created_at=t.created_at)


def _coupon(c: UserCouponItem) -> UserCoupon:
    return UserCoupon(
        coupon_id=c.coupon_id, template_id=c.template_id, user_id=c.user_id, name=c.name, rule=c.rule,
        status=c.status, valid_from=c.valid_from, valid_until=c.valid_until, claimed_at=c.claimed_at,
        source=c.source or "claim", held_by=c.held_by, used_by=c.used_by, used_at=c.used_at)


class DynamoCouponTemplates:
    """`CouponTemplateRepository` on the shop table: templates, issue shards, per-shopper counts."""

    def get(self, template_id: str) -> CouponTemplate | None:
        try:
            return _template(TemplateItem.get(*template_key(template_id)))
        except TemplateItem.DoesNotExist:
            return None

    def claimable(self, now_iso: str, limit: int, cursor: dict | None):
        result = TemplateItem.gsi1.query(TEMPLATES, TemplateItem.gsi1sk > now_iso, limit=limit,
                                         last_evaluated_key=cursor,
                                         filter_condition=TemplateItem.claim_starts_at <= now_iso)
        return [_template(t) for t in result], result.last_evaluated_key

    def listed(self, limit: int, cursor: dict | None):
        result = TemplateItem.gsi1.query(TEMPLATES, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=cursor)
        return [_template(t) for t in result], result.last_evaluated_key

    def post_payment(self) -> list[CouponTemplate]:
        return [_template(t) for t in TemplateItem.gsi2.query(POST_PAYMENT_TEMPLATES)]

    def issued_total(self, template_id: str) -> int:
        return sum(int(s.issued) for s in ShardItem.query(f"COUPON#{template_id}", ShardItem.sk.startswith("SHARD#")))

    def stage_create(self, tx, template: CouponTemplate, shard_caps: list[int], on_exists) -> None:
        tid = template.template_id
        item = TemplateItem(
            *template_key(tid), template_id=tid, name=template.name, kind=template.kind, value=template.value,
            threshold=template.threshold, max_discount=template.max_discount,
            claim_starts_at=template.claim_starts_at, claim_ends_at=template.claim_ends_at,
            valid_from=template.valid_from, valid_until=template.valid_until, valid_days=template.valid_days,
            total=template.total, per_user_limit=template.per_user_limit, scope=template.scope,
            post_payment=template.post_payment, shards=template.shards, created_at=template.created_at)
        if template.post_payment:
            item.gsi2pk, item.gsi2sk = POST_PAYMENT_TEMPLATES, tid  # given after payment, not listed for claiming
        else:
            item.gsi1pk, item.gsi1sk = TEMPLATES, f"{template.claim_ends_at}#{tid}"
        tx.put(item, condition=TemplateItem.pk.does_not_exist(), on_fail=on_exists)
        for k, cap in enumerate(shard_caps):
            tx.put(ShardItem(*shard_key(tid, k), cap=cap, issued=0))

    def stage_count_claim(self, tx, template_id: str, user_id: str, limit: int, on_limit) -> None:
        tx.update(UserCountItem(*user_count_key(template_id, user_id)), actions=[UserCountItem.claimed.add(1)],
                  condition=UserCountItem.claimed.does_not_exist() | (UserCountItem.claimed < limit),
                  on_fail=on_limit)

    def stage_take_from_shard(self, tx, template_id: str, shard: int, on_empty) -> None:
        tx.update(ShardItem(*shard_key(template_id, shard)), actions=[ShardItem.issued.add(1)],
                  condition=ShardItem.issued < ShardItem.cap, on_fail=on_empty)


class DynamoUserCoupons:
    """`UserCouponRepository` on the shop table. The coupon sits in the expiry queue
    (gsi2) exactly while it is UNUSED; this class keeps that in step with the status."""

    def get(self, coupon_id: str, consistent: bool = True) -> UserCoupon | None:
        try:
            return _coupon(UserCouponItem.get(*coupon_key(coupon_id), consistent_read=consistent))
        except UserCouponItem.DoesNotExist:
            return None

    def for_user(self, user_id: str, limit: int, cursor: dict | None):
        result = UserCouponItem.gsi1.query(_user_coupons_key(user_id), scan_index_forward=False, limit=limit,
                                           last_evaluated_key=cursor)
        return [_coupon(c) for c in result], result.last_evaluated_key

    def expiring(self, from_iso: str, until_iso: str, limit: int = 1000) -> list[UserCoupon]:
        result = UserCouponItem.gsi2.query(EXPIRING, UserCouponItem.gsi2sk.between(from_iso, f"{until_iso}#~"),
                                           limit=limit)
        return [c for c in map(_coupon, result) if c.status == UNUSED]

    def stage_issue(self, tx, coupon: UserCoupon, on_exists) -> None:
        item = UserCouponItem(
            *coupon_key(coupon.coupon_id), coupon_id=coupon.coupon_id, template_id=coupon.template_id,
            user_id=coupon.user_id, name=coupon.name, status=str(coupon.status), valid_from=coupon.valid_from,
            valid_until=coupon.valid_until, claimed_at=coupon.claimed_at, source=coupon.source, rule=coupon.rule,
            held_by=coupon.held_by, used_by=coupon.used_by, used_at=coupon.used_at,
            gsi1pk=_user_coupons_key(coupon.user_id), gsi1sk=f"{coupon.claimed_at}#{coupon.coupon_id}")
        if coupon.status == UNUSED:
            item.gsi2pk, item.gsi2sk = EXPIRING, f"{coupon.valid_until}#{coupon.coupon_id}"
        tx.put(item, condition=UserCouponItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx, before: UserCoupon, after: UserCoupon, on_stale) -> None:
        condition = (UserCouponItem.status == str(before.status)) & (UserCouponItem.user_id == before.user_id)
        if before.held_by is not None:
            condition &= UserCouponItem.held_by == before.held_by
        if before.used_by is not None:
            condition &= UserCouponItem.used_by == before.used_by
        actions = changed(UserCouponItem, before, after, ("status", "held_by", "used_by", "used_at"),
                          lambda name, value: None if value is None else str(value))
        if after.status == UNUSED and before.status != UNUSED:
            actions += [UserCouponItem.gsi2pk.set(EXPIRING),
                        UserCouponItem.gsi2sk.set(f"{after.valid_until}#{after.coupon_id}")]
        elif before.status == UNUSED and after.status != UNUSED:
            actions += [UserCouponItem.gsi2pk.remove(), UserCouponItem.gsi2sk.remove()]
        if actions:
            tx.update(UserCouponItem(*coupon_key(before.coupon_id)), actions=actions, condition=condition,
                      on_fail=on_stale)

    def stage_consume(self, tx, coupon_id: str, order_id: str, now: str, on_stale=None) -> None:
        tx.update(UserCouponItem(*coupon_key(coupon_id)), actions=[
            UserCouponItem.status.set(str(USED)), UserCouponItem.used_by.set(order_id), UserCouponItem.used_at.set(now),
            UserCouponItem.held_by.remove()],
            condition=(UserCouponItem.status == str(HELD)) & (UserCouponItem.held_by == order_id), on_fail=on_stale)


# -- the placement reader (layers/storage/placement.py) reads a coupon in its batch --

def to_coupon(item: UserCouponItem) -> UserCoupon:
    return _coupon(item)
