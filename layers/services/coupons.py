"""Coupons: templates, claims, and the coupon's part in an order's transactions
(hold at placement, consume at payment, give back at close or full refund), plus the
post-payment gift (支付有礼) issued from `order.paid`."""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers import clock
from layers.domain import coupons as rules
from layers.domain import errors
from layers.domain.pricing import Line
from layers.events import on
from layers.observability import logger
from layers.storage import coupons as store
from layers.storage.coupons import ShardItem, TemplateItem, UserCountItem, UserCouponItem
from layers.storage.tx import Tx


class ScopeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_ids: list[str] = Field(default_factory=list, max_length=100)
    categories: list[str] = Field(default_factory=list, max_length=50)


class PostPaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_payable: int = Field(0, ge=0)


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    kind: Literal["fixed", "percent"]
    value: int = Field(ge=1)
    threshold: int = Field(0, ge=0)
    max_discount: int | None = Field(None, ge=1)
    claim_starts_at: datetime
    claim_ends_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = Field(None, ge=1, le=3650)
    total: int = Field(ge=1, le=10_000_000)
    per_user_limit: int = Field(ge=1, le=1000)
    scope: ScopeInput | None = None
    post_payment: PostPaymentInput | None = None
    expected_claims_per_s: int | None = Field(None, ge=1, le=1_000_000)
    shards: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _coherent(self):
        for name in ("claim_starts_at", "claim_ends_at", "valid_from", "valid_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (RFC 3339, e.g. 2026-11-22T08:00:00Z)")
        if self.kind == "percent" and not 1 <= self.value <= 99:
            raise ValueError("a percent coupon takes 1 to 99 percent off")
        if self.claim_ends_at <= self.claim_starts_at:
            raise ValueError("claim_ends_at must be after claim_starts_at")
        if self.valid_days is None and (self.valid_from is None or self.valid_until is None):
            raise ValueError("give valid_from and valid_until, or valid_days")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if self.shards and self.shards > self.total:
            raise ValueError("no more shards than coupons")
        return self


class _Exists(Exception):
    pass


# -- templates ----------------------------------------------------------------------------

def template_view(t: TemplateItem) -> dict:
    return {"id": t.template_id, "name": t.name, "kind": t.kind, "value": int(t.value),
            "threshold": int(t.threshold), "max_discount": int(t.max_discount) if t.max_discount else None,
            "claim_starts_at": t.claim_starts_at, "claim_ends_at": t.claim_ends_at, "valid_from": t.valid_from,
            "valid_until": t.valid_until, "valid_days": int(t.valid_days) if t.valid_days else None,
            "total": int(t.total), "per_user_limit": int(t.per_user_limit), "scope": t.scope,
            "post_payment": t.post_payment}


def create_template(body: TemplateInput) -> dict:
    tid = "t" + uuid.uuid4().hex[:20]
    now = clock.now_iso()
    shards = body.shards or rules.shards_for(body.total, body.expected_claims_per_s)
    item = TemplateItem(
        *store.template_key(tid), template_id=tid, name=body.name, kind=body.kind, value=body.value,
        threshold=body.threshold, max_discount=body.max_discount,
        claim_starts_at=clock.iso(body.claim_starts_at), claim_ends_at=clock.iso(body.claim_ends_at),
        valid_from=clock.iso(body.valid_from) if body.valid_from else None,
        valid_until=clock.iso(body.valid_until) if body.valid_until else None, valid_days=body.valid_days,
        total=body.total, per_user_limit=body.per_user_limit,
        scope=body.scope.model_dump() if body.scope else None,
        post_payment=body.post_payment.model_dump() if body.post_payment else None,
        shards=shards, created_at=now)
    if body.post_payment:
        item.gsi2pk, item.gsi2sk = "POSTPAY_TEMPLATES", tid  # given after payment, not listed for claiming
    else:
        item.gsi1pk, item.gsi1sk = "COUPONS", f"{item.claim_ends_at}#{tid}"
    tx = Tx()
    tx.put(item)
    for k, cap in enumerate(rules.split_total(body.total, shards)):
        tx.put(ShardItem(*store.shard_key(tid, k), cap=cap, issued=0))
    tx.commit()
    return template_view(item)


def claimable_now(limit: int, cursor: dict | None):
    items, next_key = store.claimable(clock.now_iso(), limit, cursor)
    return [template_view(t) for t in items], next_key


def list_templates(limit: int, cursor: dict | None):
    items, next_key = store.all_templates(limit, cursor)
    return [{**template_view(t), "issued": store.issued_total(t.template_id)} for t in items], next_key


# -- claiming -------------------------------------------------------------------------------

def coupon_view(c: UserCouponItem, now_iso: str | None = None) -> dict:
    return {"id": c.coupon_id, "template_id": c.template_id, "name": c.name, "status": status_of(c, now_iso),
            "kind": c.rule["kind"], "value": c.rule["value"], "threshold": c.rule.get("threshold", 0),
            "max_discount": c.rule.get("max_discount"), "scope": c.rule.get("scope"),
            "valid_from": c.valid_from, "valid_until": c.valid_until, "claimed_at": c.claimed_at,
            "source": c.source}


def status_of(c: UserCouponItem, now_iso: str | None = None) -> str:
    if c.status == store.UNUSED and c.valid_until <= (now_iso or clock.now_iso()):
        return store.EXPIRED
    return c.status


def claim(user_id: str, template_id: str, idempotency_key: str | None, body_hash: str = "") -> dict:
    template = store.get_template(template_id)
    if template is None or template.post_payment:
        raise errors.NotFound("no such coupon")
    now = clock.now()
    rules.check_claim_window(now, clock.parse_iso(template.claim_starts_at), clock.parse_iso(template.claim_ends_at))
    coupon_id = ("c" + hashlib.sha256(f"{user_id}\x00{template_id}\x00{idempotency_key}".encode()).hexdigest()[:25]
                 if idempotency_key else "c" + uuid.uuid4().hex[:25])
    if idempotency_key:
        existing = store.get_coupon(coupon_id)
        if existing is not None:
            return coupon_view(existing)
    return coupon_view(_issue(template, user_id, coupon_id, now, source="claim"))


def _issue(template: TemplateItem, user_id: str, coupon_id: str, now: datetime, source: str) -> UserCouponItem:
    """One transaction per try: a shard's increment, the shopper's count, the coupon."""
    valid_from, valid_until = rules.validity(
        now, clock.parse_iso(template.valid_from) if template.valid_from else None,
        clock.parse_iso(template.valid_until) if template.valid_until else None,
        int(template.valid_days) if template.valid_days else None)
    coupon = UserCouponItem(
        *store.coupon_key(coupon_id), coupon_id=coupon_id, template_id=template.template_id, user_id=user_id,
        name=template.name, status=store.UNUSED, valid_from=clock.iso(valid_from), valid_until=clock.iso(valid_until),
        claimed_at=clock.iso(now), source=source,
        rule={"kind": template.kind, "value": int(template.value), "threshold": int(template.threshold),
              "max_discount": int(template.max_discount) if template.max_discount else None,
              "scope": template.scope},
        gsi1pk=f"USER#{user_id}#COUPONS", gsi1sk=f"{clock.iso(now)}#{coupon_id}",
        gsi2pk="COUPONS_EXPIRING", gsi2sk=f"{clock.iso(valid_until)}#{coupon_id}")
    order = list(range(int(template.shards)))
    random.shuffle(order)
    limit = int(template.per_user_limit)
    for k in order:
        tx = Tx()
        tx.put(coupon, condition=UserCouponItem.pk.does_not_exist(), on_fail=_Exists)
        tx.update(UserCountItem(*store.user_count_key(template.template_id, user_id)),
                  actions=[UserCountItem.claimed.add(1)],
                  condition=UserCountItem.claimed.does_not_exist() | (UserCountItem.claimed < limit),
                  on_fail=lambda: errors.LimitExceeded(f"at most {limit} of this coupon per shopper"))
        tx.update(ShardItem(*store.shard_key(template.template_id, k)), actions=[ShardItem.issued.add(1)],
                  condition=ShardItem.issued < ShardItem.cap, on_fail=_ShardFull)
        try:
            tx.commit()
            return coupon
        except _ShardFull:
            continue  # this shard is empty; another may not be
        except _Exists:
            return store.get_coupon(coupon.coupon_id)  # a concurrent retry of the same claim won
    raise errors.SoldOut("all of this coupon has been claimed")


class _ShardFull(Exception):
    pass


def my_coupons(user_id: str, status: str | None, limit: int, cursor: dict | None):
    if status is not None and status not in (store.UNUSED, store.HELD, store.USED, store.EXPIRED):
        raise errors.InvalidRequest("status must be UNUSED, HELD, USED or EXPIRED")
    now = clock.now_iso()
    items, next_key = store.user_coupons(user_id, limit, cursor)
    views = [coupon_view(c, now) for c in items]
    return [v for v in views if status is None or v["status"] == status], next_key


# -- the coupon in an order's transactions (called through coupon_hooks) ----------------------

def _rule(c: UserCouponItem) -> rules.Rule:
    scope = c.rule.get("scope") or {}
    return rules.Rule(kind=c.rule["kind"], value=int(c.rule["value"]), threshold=int(c.rule.get("threshold") or 0),
                      max_discount=c.rule.get("max_discount"),
                      product_ids=frozenset(scope.get("product_ids") or ()),
                      categories=frozenset(scope.get("categories") or ()))


def hold_for_order(tx: Tx, user_id: str, coupon_id: str, order_id: str, lines: list[Line], now: str) -> int:
    coupon = store.get_coupon(coupon_id)
    if coupon is None or coupon.user_id != user_id:
        raise errors.CouponNotApplicable("no such coupon among yours")
    if coupon.status != store.UNUSED:
        raise errors.CouponNotApplicable(f"this coupon is {coupon.status.lower()}")
    rules.check_usable(clock.parse_iso(now), clock.parse_iso(coupon.valid_from), clock.parse_iso(coupon.valid_until))
    off = rules.discount(_rule(coupon), lines)
    tx.update(coupon, actions=[UserCouponItem.status.set(store.HELD), UserCouponItem.held_by.set(order_id),
                               UserCouponItem.gsi2pk.remove(), UserCouponItem.gsi2sk.remove()],
              condition=(UserCouponItem.status == store.UNUSED) & (UserCouponItem.user_id == user_id),
              on_fail=lambda: errors.CouponNotApplicable("this coupon is already in use"))
    return off


def consume_for_order(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    tx.update(UserCouponItem(*store.coupon_key(coupon_id)), actions=[
        UserCouponItem.status.set(store.USED), UserCouponItem.used_by.set(order_id), UserCouponItem.used_at.set(now),
        UserCouponItem.held_by.remove()],
        condition=(UserCouponItem.status == store.HELD) & (UserCouponItem.held_by == order_id))


def give_back_for_order(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    """HELD by this order -> UNUSED (the order closed). Exactly once: this runs inside the
    order's closing transaction, whose condition on the order's status holds once."""
    coupon = store.get_coupon(coupon_id)
    if coupon is None or coupon.held_by != order_id:
        logger.warning("coupon not held by the closing order", extra={"order_id": order_id, "coupon_id": coupon_id})
        return
    tx.update(coupon, actions=_back_to_unused(coupon),
              condition=(UserCouponItem.status == store.HELD) & (UserCouponItem.held_by == order_id))


def give_back_used_for_order(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    """USED by this order -> UNUSED (the order was fully refunded), within the refund's transaction."""
    coupon = store.get_coupon(coupon_id)
    if coupon is None or coupon.used_by != order_id or coupon.status != store.USED:
        return
    tx.update(coupon, actions=[*_back_to_unused(coupon), UserCouponItem.used_by.remove(),
                               UserCouponItem.used_at.remove()],
              condition=(UserCouponItem.status == store.USED) & (UserCouponItem.used_by == order_id))


def _back_to_unused(coupon: UserCouponItem) -> list:
    # An expired coupon goes back too; it shows as EXPIRED (status_of) and cannot be held.
    return [UserCouponItem.status.set(store.UNUSED), UserCouponItem.held_by.remove(),
            UserCouponItem.gsi2pk.set("COUPONS_EXPIRING"),
            UserCouponItem.gsi2sk.set(f"{coupon.valid_until}#{coupon.coupon_id}")]


# -- post-payment gift, and expiry reminders ---------------------------------------------

@on("order.paid")
def give_post_payment_coupons(event_id: str, payload: dict) -> None:
    """支付有礼: each post-payment template the order qualifies for, once per order."""
    now = clock.now()
    for template in store.post_payment_templates():
        if int(payload.get("payable", 0)) < int((template.post_payment or {}).get("min_payable", 0)):
            continue
        try:
            rules.check_claim_window(now, clock.parse_iso(template.claim_starts_at),
                                     clock.parse_iso(template.claim_ends_at))
        except (errors.NotStarted, errors.Ended):
            continue
        coupon_id = "c" + hashlib.sha256(f"{payload['order_id']}\x00{template.template_id}".encode()).hexdigest()[:25]
        if store.get_coupon(coupon_id) is not None:
            continue
        try:
            _issue(template, payload["user_id"], coupon_id, now, source="post_payment")
        except (errors.SoldOut, errors.LimitExceeded):
            continue  # none left, or the shopper has enough: no gift this time


def expiring_coupons(from_iso: str, until_iso: str):
    """(user_id, coupon_id, name, valid_until) of UNUSED coupons expiring in the window."""
    for c in store.expiring(from_iso, until_iso):
        if c.status == store.UNUSED:
            yield c.user_id, c.coupon_id, c.name, c.valid_until
