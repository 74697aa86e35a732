"""Coupons: templates, claims, the coupon's part in an order's transactions (hold at
placement, consume at payment, give back at close or full refund), the post-payment
gift (支付有礼, an `order.paid` consumer) and the coupons about to expire (reminders).

The rules are the domain's (`layers/domain/coupons.py`, `coupon_template.py`,
`user_coupon.py`); this service reads, asks them, and stages the writes the
repositories condition on what was read.
"""

from __future__ import annotations

import random
from datetime import datetime

from layers.clock import iso, parse_iso
from layers.domain import coupon_template as templates_rules
from layers.domain import coupons as rules
from layers.domain import errors
from layers.domain import user_coupon as coupon_rules
from layers.domain.coupon_template import CouponTemplate, CouponTemplateRepository
from layers.domain.ports import Clock, NewTransaction
from layers.domain.pricing import Line
from layers.domain.user_coupon import UserCoupon, UserCouponRepository
from layers.observability import logger


class _Exists(Exception):
    """The coupon's id is taken: a concurrent retry of the same claim won."""


class _ShardFull(Exception):
    """This shard has issued all it may; another may not have."""


def template_view(t: CouponTemplate) -> dict:
    return {"id": t.template_id, "name": t.name, "kind": t.kind, "value": t.value, "threshold": t.threshold,
            "max_discount": t.max_discount or None, "claim_starts_at": t.claim_starts_at,
            "claim_ends_at": t.claim_ends_at, "valid_from": t.valid_from, "valid_until": t.valid_until,
            "valid_days": t.valid_days or None, "total": t.total, "per_user_limit": t.per_user_limit,
            "scope": t.scope, "post_payment": t.post_payment}


def coupon_view(c: UserCoupon, now_iso: str) -> dict:
    return {"id": c.coupon_id, "template_id": c.template_id, "name": c.name, "status": c.shown_status(now_iso),
            "kind": c.rule["kind"], "value": c.rule["value"], "threshold": c.rule.get("threshold", 0),
            "max_discount": c.rule.get("max_discount"), "scope": c.rule.get("scope"),
            "valid_from": c.valid_from, "valid_until": c.valid_until, "claimed_at": c.claimed_at,
            "source": c.source}


class CouponService:
    def __init__(self, templates: CouponTemplateRepository, coupons: UserCouponRepository,
                 new_tx: NewTransaction, clock: Clock, rng: random.Random | None = None):
        self.templates = templates
        self.coupons = coupons
        self.new_tx = new_tx
        self.clock = clock
        self.rng = rng or random.Random()

    # -- templates ------------------------------------------------------------------------

    def create_template(self, body) -> dict:
        """`body`: the route's CouponTemplateInput (validated there)."""
        template = CouponTemplate(
            template_id=templates_rules.new_template_id(), name=body.name, kind=body.kind, value=body.value,
            threshold=body.threshold, max_discount=body.max_discount,
            claim_starts_at=iso(body.claim_starts_at), claim_ends_at=iso(body.claim_ends_at),
            valid_from=iso(body.valid_from) if body.valid_from else None,
            valid_until=iso(body.valid_until) if body.valid_until else None, valid_days=body.valid_days,
            total=body.total, per_user_limit=body.per_user_limit,
            scope=body.scope.model_dump() if body.scope else None,
            post_payment=body.post_payment.model_dump() if body.post_payment else None,
            shards=body.shards or rules.shards_for(body.total, body.expected_claims_per_s),
            created_at=iso(self.clock.now()))
        tx = self.new_tx()
        self.templates.stage_create(tx, template, templates_rules.shard_caps(template), on_exists=None)
        tx.commit()
        return template_view(template)

    def claimable_now(self, limit: int, cursor: dict | None):
        items, next_key = self.templates.claimable(iso(self.clock.now()), limit, cursor)
        return [template_view(t) for t in items], next_key

    def list_templates(self, limit: int, cursor: dict | None):
        items, next_key = self.templates.listed(limit, cursor)
        return [{**template_view(t), "issued": self.templates.issued_total(t.template_id)} for t in items], next_key

    # -- claiming -------------------------------------------------------------------------

    def claim(self, user_id: str, template_id: str, idempotency_key: str | None) -> dict:
        now = self.clock.now()
        template = templates_rules.check_claimable(self.templates.get(template_id), now)
        coupon_id = coupon_rules.claim_coupon_id(user_id, template_id, idempotency_key)
        if idempotency_key:
            existing = self.coupons.get(coupon_id)
            if existing is not None:
                return coupon_view(existing, iso(self.clock.now()))
        return coupon_view(self._issue(template, user_id, coupon_id, now, source="claim"), iso(self.clock.now()))

    def _issue(self, template: CouponTemplate, user_id: str, coupon_id: str, now: datetime,
               source: str) -> UserCoupon:
        """One transaction per try: a shard's increment, the shopper's count, the coupon.
        An empty shard means try another; every shard empty means sold out."""
        valid_from, valid_until = templates_rules.validity(template, now)
        coupon = coupon_rules.issue(template, user_id, coupon_id, claimed_at=iso(now), valid_from=iso(valid_from),
                                    valid_until=iso(valid_until), source=source)
        shards = list(range(template.shards))
        self.rng.shuffle(shards)
        limit = template.per_user_limit
        for k in shards:
            tx = self.new_tx()
            self.coupons.stage_issue(tx, coupon, on_exists=_Exists)
            self.templates.stage_count_claim(
                tx, template.template_id, user_id, limit,
                on_limit=lambda: errors.LimitExceeded(f"at most {limit} of this coupon per shopper"))
            self.templates.stage_take_from_shard(tx, template.template_id, k, on_empty=_ShardFull)
            try:
                tx.commit()
                return coupon
            except _ShardFull:
                continue
            except _Exists:
                return self.coupons.get(coupon_id)
        raise errors.SoldOut("all of this coupon has been claimed")

    # -- a campaign's reward (friend assistance) --
    def issue_reward(self, template_id: str, user_id: str, coupon_id: str, source: str) -> UserCoupon:
        """Give the shopper one coupon of the template under `coupon_id`, which the caller
        derives from what earned it: a retry, or a racing caller, gets the same coupon and
        nothing is counted twice. The template's claim window and per-shopper limit hold:
        raises NotFound, NotStarted, Ended, LimitExceeded, or SoldOut when none is left."""
        existing = self.coupons.get(coupon_id)
        if existing is not None:
            return existing
        template = self.templates.get(template_id)
        if template is None:
            raise errors.NotFound("no such coupon template")
        now = self.clock.now()
        templates_rules.claim_window_open(template, now)
        return self._issue(template, user_id, coupon_id, now, source=source)

    # -- a coupon an operator gives (targeted grants, goodwill) --
    def issue_granted(self, template: CouponTemplate, user_id: str, coupon_id: str,
                      source: str = "grant") -> UserCoupon:
        """Give the shopper one coupon of `template` under `coupon_id` (derived by the
        caller from what gives it). A coupon already under that id is answered as it is,
        before any limit is checked, so a retry of a given coupon is never counted as
        refused. The template's total and per-shopper limit hold as for a claim (SoldOut,
        LimitExceeded); the claim window does not, since the shop gives it, but a coupon
        that would already be expired is not given (Ended)."""
        existing = self.coupons.get(coupon_id)
        if existing is not None:
            return existing
        now = self.clock.now()
        templates_rules.check_givable(template, now)
        return self._issue(template, user_id, coupon_id, now, source=source)

    def my_coupons(self, user_id: str, status: str | None, limit: int, cursor: dict | None):
        if status is not None and status not in coupon_rules.STATUSES:
            raise errors.InvalidRequest("status must be UNUSED, HELD, USED or EXPIRED")
        now = iso(self.clock.now())
        items, next_key = self.coupons.for_user(user_id, limit, cursor)
        views = [coupon_view(c, now) for c in items]
        return [v for v in views if status is None or v["status"] == status], next_key

    def wallet(self, user_id: str, limit: int) -> list:
        """The shopper's newest `limit` coupons as stored (a checkout weighs them)."""
        items, _ = self.coupons.for_user(user_id, limit, None)
        return list(items)

    # -- the coupon in an order's transactions ------------------------------------------------

    def stage_hold(self, tx, user_id: str, coupon_id: str, order_id: str, lines: list[Line], now: str,
                   before=...) -> int:
        """Check the coupon applies to the order, stage UNUSED -> HELD (conditioned on the
        status and owner read), and answer the discount in fen. `before`: the coupon as the
        caller already read it (consistently), else it is read here."""
        if before is ...:
            before = self.coupons.get(coupon_id)
        off, after = coupon_rules.hold(before, user_id, order_id, lines, parse_iso(now))
        self.coupons.stage_change(tx, before, after,
                                  on_stale=lambda: errors.CouponNotApplicable("this coupon is already in use"))
        return off

    # -- an order paid from the balance in its placement transaction --
    def stage_hold_used(self, tx, user_id: str, coupon_id: str, order_id: str, lines: list[Line], now: str,
                        before=...) -> int:
        """As stage_hold, but UNUSED -> USED at once (one write: a transaction takes one
        part per item)."""
        if before is ...:
            before = self.coupons.get(coupon_id)
        off, held = coupon_rules.hold(before, user_id, order_id, lines, parse_iso(now))
        self.coupons.stage_change(tx, before, coupon_rules.consume(held, order_id, now),
                                  on_stale=lambda: errors.CouponNotApplicable("this coupon is already in use"))
        return off

    def stage_consume(self, tx, coupon_id: str, order_id: str, now: str) -> None:
        """HELD by this order -> USED (the order is paid)."""
        self.coupons.stage_consume(tx, coupon_id, order_id, now)

    def stage_retake(self, tx, coupon_id: str, order_id: str, now: str) -> None:
        """UNUSED -> USED by this order: it closed (giving the coupon back) and was paid after
        all. CouponNotApplicable, now or at commit, when the coupon went elsewhere meanwhile."""
        before = self.coupons.get(coupon_id)
        if before is None:
            raise errors.CouponNotApplicable("its coupon no longer exists")
        self.coupons.stage_change(tx, before, coupon_rules.retake(before, order_id, now),
                                  on_stale=lambda: errors.CouponNotApplicable("its coupon was used elsewhere"))

    def stage_give_back(self, tx, coupon_id: str, order_id: str, now: str) -> None:
        """HELD by this order -> UNUSED (the order closed). Exactly once: this runs inside
        the order's closing transaction, whose condition on the order's status holds once."""
        before = self.coupons.get(coupon_id)
        try:
            after = coupon_rules.give_back(before, order_id) if before is not None else None
        except errors.InvalidState:
            after = None
        if after is None:
            logger.warning("coupon not held by the closing order", extra={"order_id": order_id, "coupon_id": coupon_id})
            return
        self.coupons.stage_change(tx, before, after, on_stale=None)

    def stage_give_back_used(self, tx, coupon_id: str, order_id: str, now: str) -> None:
        """USED by this order -> UNUSED (the order was fully refunded), in the refund's transaction."""
        before = self.coupons.get(coupon_id)
        if before is None:
            return
        try:
            after = coupon_rules.give_back_used(before, order_id)
        except errors.InvalidState:
            return
        self.coupons.stage_change(tx, before, after, on_stale=None)

    # -- consumers and jobs -------------------------------------------------------------------

    def give_post_payment_coupons(self, event_id: str, payload: dict) -> None:
        """`order.paid` -> 支付有礼: each post-payment template the payment qualifies for,
        once per order (the coupon's id is derived from the order and the template)."""
        now = self.clock.now()
        payable = int(payload.get("payable", 0))
        for template in self.templates.post_payment():
            if not templates_rules.gives_after_payment(template, payable, now):
                continue
            coupon_id = coupon_rules.gift_coupon_id(payload["order_id"], template.template_id)
            if self.coupons.get(coupon_id) is not None:
                continue
            try:
                self._issue(template, payload["user_id"], coupon_id, now, source="post_payment")
            except (errors.SoldOut, errors.LimitExceeded):
                continue  # none left, or the shopper has enough: no gift this time

    def expiring_coupons(self, from_iso: str, until_iso: str):
        """(user_id, coupon_id, name, valid_until) of UNUSED coupons expiring in the window."""
        for c in self.coupons.expiring(from_iso, until_iso):
            if c.status == coupon_rules.UNUSED:
                yield c.user_id, c.coupon_id, c.name, c.valid_until
