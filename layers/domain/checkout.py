"""Pricing an order from what placement read, and what a checkout page shows before it.

`quote` is the one place an order's amounts are decided: `POST /orders` (and every
campaign's order) writes what it answers, and `POST /orders/preview` shows it without
writing anything. Keeping both on this one function is what makes "the preview is what
the order then charges" hold by construction rather than by two copies kept in step.

The order in which prices come off (each capped by what is left):

1. the member level's discount off the goods, rounded up (the shopper's favour);
2. the promotions (`layers/domain/promotion_pricing.py`), worked out on list prices,
   capped by what the level left;
3. the coupon, on the goods in its scope after their promotions
   (`layers/domain/coupons.py`), capped by what is left; refused where a promotion the
   order takes part in says `with_coupons: false`;
4. points, at most `points_max_ratio_bps` of the goods after all three, rounded down;
5. shipping, which nothing discounts: freight by template (`layers/domain/freight.py`),
   the shop's flat fee for products without one, waived at `free_shipping_threshold` of
   the goods after the promotions and the coupon; an address a template does not deliver
   to is refused. A gift line weighs nothing and costs no shipping.

Each line's `paid` (`promotion_pricing.paid_per_line`) shares every one of those discounts
out over the lines it came off, so the lines sum exactly to `payable - shipping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from layers.domain import coupons as coupon_rules
from layers.domain import freight as freight_rules
from layers.domain import members as member_rules
from layers.domain import pricing
from layers.domain import promotion_pricing as promo_rules
from layers.domain.user_coupon import UNUSED, UserCoupon

# Why a shopper's coupon cannot be used on this order, as the checkout page names it.
BELOW_THRESHOLD = "BELOW_THRESHOLD"
OUT_OF_SCOPE = "OUT_OF_SCOPE"
NOT_YET_VALID = "NOT_YET_VALID"
EXPIRED = "EXPIRED"
NOT_WITH_PROMOTION = "NOT_WITH_PROMOTION"
REASONS = (BELOW_THRESHOLD, OUT_OF_SCOPE, NOT_YET_VALID, EXPIRED, NOT_WITH_PROMOTION)


@dataclass(frozen=True)
class Quote:
    amounts: pricing.Amounts
    points_used: int  # the points the order spends (held by it until paid or closed)
    coupon_off: int  # the coupon's discount after the member level's cap
    freight: freight_rules.Freight  # how `amounts.shipping` is made up
    line_paid: tuple[int, ...] = ()  # each line's share of `payable - shipping`, in order
    promotions: promo_rules.Outcome = promo_rules.Outcome()


def member_cap(lines: list[pricing.Line], levels: list[dict], growth: int, promotion_off: int = 0) -> int:
    """What the member level's discount and the promotions leave of the goods: the most a
    coupon can take."""
    goods = pricing.goods_total(lines)
    level = member_rules.level_for(list(levels), growth)
    left = goods - member_rules.member_discount(goods, int((level or {}).get("discount_bps") or 0))
    return left - min(promotion_off, left)


def quote(lines: list[pricing.Line], *, coupon_off: int, shipping_fee: int, free_shipping_threshold: int,
          levels: list[dict], growth: int, points: int, point_value_fen: int, points_max_ratio_bps: int,
          points_available: int | None, freight_lines: list[freight_rules.FreightLine] | None = None,
          templates: dict | None = None, province: str | None = None,
          promotions: promo_rules.Outcome | None = None, coupon_rule: coupon_rules.Rule | None = None) -> Quote:
    """The order's amounts. `coupon_off`: what the named coupon gives on these lines (0 for
    none); `points`: what the shopper asked to spend; `points_available`: what they have,
    or None when points are not in play (the shop runs without members). `freight_lines`
    (the lines with their SKUs' templates and weights; by default none has a template),
    `templates` (the shop's) and `province` (the address's) price shipping. Raises
    Undeliverable for a province a line's template does not deliver to,
    InsufficientPoints when the points the order would spend are not there (placement's
    transaction would refuse them the same way), NotAcceptable below 1 fen payable.
    `promotions`: what `promotion_pricing.apply` answered for these lines (none by
    default); `coupon_rule`: the named coupon's, to share its discount over the lines it
    covers."""
    promotions = promotions or promo_rules.Outcome()
    goods = pricing.goods_total(lines)
    level = member_rules.level_for(list(levels), growth)
    member_off = member_rules.member_discount(goods, int((level or {}).get("discount_bps") or 0))
    promotion_off = min(promotions.discount, goods - member_off)
    discount = min(coupon_off, goods - member_off - promotion_off)
    if freight_lines is None:
        freight_lines = [freight_rules.FreightLine(sku_id=ln.sku_id, template_id=None, quantity=ln.quantity,
                                                   amount=ln.amount, weight_g=None) for ln in lines]
    freight = freight_rules.freight(freight_lines, templates or {}, province, flat_fee=shipping_fee,
                                    free_threshold=free_shipping_threshold,
                                    flat_goods=goods - promotion_off - discount)
    shipping = freight.total
    points_used, points_off = 0, 0
    if points_available is not None:
        points_used, points_off = member_rules.points_discount(points, point_value_fen, points_max_ratio_bps,
                                                               goods - discount - member_off - promotion_off)
        if points_used > points_available:
            raise member_rules.InsufficientPoints("not enough points")
    amounts = pricing.price(lines, discount, shipping, member_discount=member_off, points_discount=points_off,
                            promotion_discount=promotion_off)
    # over the lines the coupon covers (without its rule: no weights, so `share_capped` spreads
    # it by what each line has left)
    coupon_weights = [ln.net if coupon_rule is not None and coupon_rules.in_scope(coupon_rule, ln) else 0
                      for ln in lines]
    paid = promo_rules.paid_per_line(
        [ln.amount for ln in lines], member_off=member_off,
        promotion_offs=[promotions.line_discounts.get(ln.sku_id, 0) for ln in lines],
        coupon_off=discount, coupon_weights=coupon_weights, points_off=points_off)
    return Quote(amounts=amounts, points_used=points_used, coupon_off=discount, freight=freight,
                 line_paid=tuple(paid), promotions=promotions)


def unusable_reason(coupon: UserCoupon, lines: list[pricing.Line], now: datetime) -> str | None:
    """Why this UNUSED coupon of the shopper's cannot take part in these lines, or None when
    it can. Checked in the order `user_coupon.hold` refuses in: validity, then scope, then
    the threshold, so the reason shown is the one placing the order would meet first."""
    if now < datetime.fromisoformat(coupon.valid_from):
        return NOT_YET_VALID
    if now >= datetime.fromisoformat(coupon.valid_until):
        return EXPIRED
    rule = coupon.as_rule()
    base = coupon_rules.scoped_goods(rule, lines)
    if base == 0:
        return OUT_OF_SCOPE
    if base < rule.threshold:
        return BELOW_THRESHOLD
    return None


def coupon_offers(coupons: list[UserCoupon], lines: list[pricing.Line], now: datetime, cap: int,
                  promotions_allow: bool = True) -> dict:
    """The shopper's coupons for this order: `usable` with the discount each would give on
    it (alone, and capped at `cap`, what the member level leaves of the goods, as `quote`
    caps it), `unusable` with the reason, and `best_coupon_id`, the usable one saving most (ties: the
    one that expires first, then the id, so the answer is stable). Only UNUSED coupons are
    listed: a held or used coupon is not the shopper's to choose. `promotions_allow`
    False (a promotion the order takes part in says `with_coupons: false`): a coupon that
    could otherwise be used is `NOT_WITH_PROMOTION`."""
    usable, unusable = [], []
    for c in coupons:
        if c.status != UNUSED:
            continue
        reason = unusable_reason(c, lines, now)
        if reason is None and not promotions_allow:
            reason = NOT_WITH_PROMOTION
        if reason is None:
            usable.append({"id": c.coupon_id, "template_id": c.template_id, "name": c.name,
                           "discount": min(coupon_rules.discount(c.as_rule(), lines), cap), "valid_until": c.valid_until})
        else:
            unusable.append({"id": c.coupon_id, "template_id": c.template_id, "name": c.name, "reason": reason,
                             "valid_until": c.valid_until})
    best = min(usable, key=lambda u: (-u["discount"], u["valid_until"], u["id"]), default=None)
    return {"usable": usable, "unusable": unusable, "best_coupon_id": best["id"] if best else None}
