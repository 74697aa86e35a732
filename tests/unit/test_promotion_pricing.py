"""Promotions in pricing: the kinds, the best tier, one promotion per line, the nudges, and
each line's `paid`; with properties over random carts, promotions, coupons, member levels
and points: no line below 0, the lines sum to what was paid for the goods, a promotion
never makes the shopper pay more, and refunding every line gives back exactly the payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.domain import checkout, coupons, errors
from layers.domain import promotion_pricing as rules
from layers.domain.pricing import Line
from layers.domain.promotion import Promotion, Tier, promotion_from

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
START = (NOW - timedelta(days=1)).isoformat()
END = (NOW + timedelta(days=1)).isoformat()


def line(sku="s1", price=10000, quantity=1, product="p1", cats=()) -> Line:
    return Line(sku_id=sku, product_id=product, title=sku, category=None, quantity=quantity, unit_price=price,
                category_ids=tuple(cats))


def promo(kind, *tiers, pid="pm1", products=(), cats=(), gift=None, new_only=False, with_coupons=True,
          created="2026-12-01T00:00:00+00:00", starts=START, ends=END, status="ACTIVE") -> Promotion:
    return Promotion(promotion_id=pid, name=pid, kind=kind, tiers=tuple(tiers), starts_at=starts, ends_at=ends,
                     gift_sku_id=gift, product_ids=frozenset(products), category_ids=frozenset(cats),
                     new_customers_only=new_only, with_coupons=with_coupons, status=status, created_at=created)


def apply(lines, promotions, new_customer=True, gifts=None):
    return rules.apply(lines, promotions, NOW, new_customer=new_customer, gifts=gifts)


# -- the kinds ---------------------------------------------------------------------------

def test_amount_off_takes_the_best_tier_reached_and_shares_it_over_its_lines():
    out = apply([line("a", 20000), line("b", 15000, product="p2")],
                [promo("amount_off", Tier(value=3000, threshold=20000), Tier(value=5000, threshold=30000))])
    assert out.discount == 5000
    assert out.line_discounts == {"a": 2857, "b": 2143}  # 20000:15000 of 5000, exact
    assert [a.tier.threshold for a in out.applied] == [30000]


def test_below_every_threshold_nothing_comes_off_and_the_nudge_says_how_much_more():
    out = apply([line("a", 27000)], [promo("amount_off", Tier(value=5000, threshold=30000))])
    assert out.discount == 0 and out.applied == ()
    [nudge] = out.nudges
    assert nudge.missing_amount == 3000
    assert nudge.as_dict()["message"] == "再买30元减50元"


def test_an_applied_promotion_nudges_towards_its_next_tier():
    out = apply([line("a", 21000)], [promo("amount_off", Tier(value=2000, threshold=20000),
                                           Tier(value=5000, threshold=30000))])
    assert out.discount == 2000
    assert [(n.missing_amount, n.tier.value) for n in out.nudges] == [(9000, 5000)]


def test_percent_off_by_pieces_pays_the_percentage_rounded_down():
    out = apply([line("a", 333, quantity=2)], [promo("percent_off", Tier(value=80, min_quantity=2))])
    # 666 at 80% is 532.8: the shopper pays 532, so 134 comes off
    assert out.discount == 134


def test_nth_item_discounts_every_nth_unit_of_each_sku():
    out = apply([line("a", 1000, quantity=5), line("b", 999, quantity=1, product="p2")],
                [promo("nth_item", Tier(value=50, min_quantity=2))])
    assert out.line_discounts == {"a": 1000}  # units 2 and 4 at half price
    assert out.applied[0].sku_ids == ("a",)  # b got nothing: it stays free for another promotion


def test_one_unit_short_of_the_nth_item_is_nudged():
    out = apply([line("a", 1000, quantity=1)], [promo("nth_item", Tier(value=50, min_quantity=2))])
    assert [n.as_dict()["message"] for n in out.nudges] == ["再买1件享第2件半价"]


def test_bundle_takes_the_dearest_units_while_a_bundle_saves():
    out = apply([line("a", 5000, quantity=2), line("b", 3000, product="p2"), line("c", 1000, quantity=3,
                                                                                   product="p3")],
                [promo("bundle", Tier(value=9900, min_quantity=3))])
    # units by price: 5000 5000 3000 | 1000 1000 1000: the first bundle saves 3100, the second
    # would cost 3000 for 9900, so there is none
    assert out.discount == 3100
    assert set(out.applied[0].sku_ids) == {"a", "b"}
    assert sum(out.line_discounts.values()) == 3100


def test_a_gift_is_given_while_it_has_stock_and_named_when_it_has_not():
    gift = rules.Gift(sku_id="g", product_id="pg", title="茶杯", unit_price=2000, available=1)
    p = promo("gift", Tier(value=1, threshold=10000), gift="g")
    out = apply([line("a", 10000)], [p], gifts={"g": gift})
    [given_] = out.gifts()
    assert (given_.gift.sku_id, given_.gift_quantity, out.discount) == ("g", 1, 0)
    empty = apply([line("a", 10000)], [p], gifts={"g": rules.Gift("g", "pg", "茶杯", 2000, 0)})
    assert empty.gifts() == [] and [x.promotion_id for x in empty.gifts_unavailable] == ["pm1"]


# -- who takes part ----------------------------------------------------------------------

def test_scope_by_product_by_category_or_its_parent():
    p = promo("amount_off", Tier(value=100, threshold=1000), products={"p9"}, cats={"c-tea"})
    assert rules.in_scope(p, line(product="p9"))
    assert rules.in_scope(p, line(cats=("c-green", "c-tea")))  # a child of the named category
    assert not rules.in_scope(p, line(cats=("c-coffee",)))


def test_a_promotion_outside_its_window_stopped_or_for_new_customers_weighs_nothing():
    tier = Tier(value=1000, threshold=5000)
    assert apply([line()], [promo("amount_off", tier, starts=(NOW + timedelta(hours=1)).isoformat())]).discount == 0
    assert apply([line()], [promo("amount_off", tier, ends=NOW.isoformat())]).discount == 0
    assert apply([line()], [promo("amount_off", tier, status="STOPPED")]).discount == 0
    assert apply([line()], [promo("amount_off", tier, new_only=True)], new_customer=False).discount == 0
    assert apply([line()], [promo("amount_off", tier, new_only=True)], new_customer=True).discount == 1000


def test_each_line_takes_the_promotion_saving_most_and_the_rest_go_on():
    lines = [line("a", 20000), line("b", 10000, product="p2")]
    whole = promo("amount_off", Tier(value=2000, threshold=30000), pid="whole")
    only_a = promo("percent_off", Tier(value=80, threshold=10000), pid="a-only", products={"p1"})
    out = apply(lines, [whole, only_a])
    # 20% off a (4000) beats 2000 off both; b alone is then below the whole-shop threshold
    assert [a.promotion.promotion_id for a in out.applied] == ["a-only"]
    assert out.discount == 4000


def test_a_promotion_without_coupons_blocks_them():
    from layers.domain.user_coupon import UserCoupon

    out = apply([line()], [promo("amount_off", Tier(value=1000, threshold=5000), with_coupons=False)])
    assert not out.coupons_allowed
    coupon = UserCoupon(coupon_id="c1", template_id="t1", user_id="u1", name="满50减5",
                        rule={"kind": "fixed", "value": 500, "threshold": 5000}, status="UNUSED",
                        valid_from=START, valid_until=END, claimed_at=START)
    usable = checkout.coupon_offers([coupon], [line()], NOW, cap=10000)
    assert [c["id"] for c in usable["usable"]] == ["c1"] and usable["best_coupon_id"] == "c1"
    blocked = checkout.coupon_offers([coupon], [line()], NOW, cap=10000, promotions_allow=out.coupons_allowed)
    assert blocked["usable"] == [] and blocked["best_coupon_id"] is None
    assert [(c["id"], c["reason"]) for c in blocked["unusable"]] == [("c1", "NOT_WITH_PROMOTION")]


# -- each line's paid ----------------------------------------------------------------------

def test_out_of_scope_lines_keep_their_price_in_paid():
    lines = [line("a", 30000), line("b", 10000, product="p2")]
    out = apply(lines, [promo("amount_off", Tier(value=5000, threshold=30000), products={"p1"})])
    priced = checkout.quote([_net(ln, out) for ln in lines], coupon_off=0, shipping_fee=0,
                            free_shipping_threshold=0, levels=[], growth=0, points=0, point_value_fen=1,
                            points_max_ratio_bps=0, points_available=None, promotions=out)
    assert priced.line_paid == (25000, 10000)
    assert priced.amounts.promotion_discount == 5000 and priced.amounts.payable == 35000


def test_share_capped_moves_what_a_line_cannot_take_to_the_others():
    assert rules.share_capped([1, 1], [10, 100], 50) == [10, 40]
    with pytest.raises(ValueError):
        rules.share_capped([1], [5], 6)


def _net(ln: Line, out: rules.Outcome) -> Line:
    from dataclasses import replace
    return replace(ln, promotion_off=out.line_discounts.get(ln.sku_id, 0))


# -- properties -----------------------------------------------------------------------------

PRODUCTS = ["p1", "p2", "p3", "p4"]


@st.composite
def carts(draw):
    n = draw(st.integers(1, 5))
    return [line(f"s{i}", draw(st.integers(1, 50000)), draw(st.integers(1, 6)), product=draw(st.sampled_from(PRODUCTS)),
                 cats=(draw(st.sampled_from(["c1", "c2"])),)) for i in range(n)]


@st.composite
def promotions(draw):
    out = []
    for n in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["amount_off", "percent_off", "gift", "nth_item", "bundle"]))
        if kind == "amount_off":
            threshold = draw(st.integers(2, 100000))
            tier = {"threshold": threshold, "value": draw(st.integers(1, threshold - 1))}
        elif kind in ("percent_off", "gift"):
            cond = (("threshold", draw(st.integers(1, 100000))) if draw(st.booleans())
                    else ("min_quantity", draw(st.integers(1, 8))))
            tier = {cond[0]: cond[1], "value": draw(st.integers(1, 99 if kind == "percent_off" else 3))}
        elif kind == "nth_item":
            tier = {"min_quantity": draw(st.integers(2, 4)), "value": draw(st.integers(0, 99))}
        else:
            tier = {"min_quantity": draw(st.integers(2, 5)), "value": draw(st.integers(1, 60000))}
        scope = draw(st.sampled_from([{}, {"product_ids": ["p1", "p2"]}, {"category_ids": ["c1"]}]))
        body = {"name": f"促销{n}", "kind": kind, "tiers": [tier], "scope": scope, "starts_at": START,
                "ends_at": END, "with_coupons": draw(st.booleans()),
                "new_customers_only": draw(st.booleans())}
        if kind == "gift":
            body["gift_sku_id"] = "gift"
        out.append(promotion_from(body, f"pm{n}", NOW.isoformat()))
    return out


def _quote(lines, out, coupon_rule, levels, growth, points, available):
    priced_lines = [_net(ln, out) for ln in lines]
    coupon_off = 0
    if coupon_rule is not None and out.coupons_allowed:
        try:
            coupon_off = coupons.discount(coupon_rule, priced_lines)
        except errors.CouponNotApplicable:
            coupon_rule = None
    return checkout.quote(priced_lines, coupon_off=coupon_off, shipping_fee=800, free_shipping_threshold=0,
                          levels=levels, growth=growth, points=points, point_value_fen=1,
                          points_max_ratio_bps=5000, points_available=available, promotions=out,
                          coupon_rule=coupon_rule if coupon_off else None)


coupon_rules = st.one_of(st.none(), st.builds(
    coupons.Rule, kind=st.sampled_from(["fixed", "percent"]), value=st.integers(1, 90),
    threshold=st.integers(0, 50000), product_ids=st.sampled_from([frozenset(), frozenset({"p1", "p3"})])))
levels = st.sampled_from([[], [{"level": 1, "name": "金卡", "min_growth": 0, "discount_bps": 9500}]])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=carts(), promotions=promotions(), coupon_rule=coupon_rules, levels=levels,
       points=st.integers(0, 100000), new_customer=st.booleans(), gift_stock=st.integers(0, 3))
def test_properties_of_every_priced_order(lines, promotions, coupon_rule, levels, points, new_customer, gift_stock):
    gifts = {"gift": rules.Gift("gift", "pg", "赠品", 1500, gift_stock)}
    out = rules.apply(lines, promotions, NOW, new_customer=new_customer, gifts=gifts)
    try:
        with_promotions = _quote(lines, out, coupon_rule, levels, 0, points, 10**9)
    except errors.NotAcceptable:  # below WeChat's 1 fen: refused, never priced below 0
        return
    paid = with_promotions.line_paid
    amounts = with_promotions.amounts
    # no line pays below 0, and none pays more than its goods
    assert all(0 <= p <= ln.amount for p, ln in zip(paid, lines, strict=True))
    # the lines sum exactly to what was paid for the goods
    assert sum(paid) == amounts.payable - amounts.shipping
    # each line's promotion discount is at most its goods; a line is in at most one promotion
    assert all(out.line_discounts.get(ln.sku_id, 0) <= ln.amount for ln in lines)
    taken = [sku for a in out.applied for sku in a.sku_ids]
    assert len(taken) == len(set(taken))
    # a promotion never makes the shopper pay more than the same order without any
    # (same coupon where it can be used, same levels, same points asked for)
    without = _quote(lines, rules.Outcome(), coupon_rule if out.coupons_allowed else None, levels, 0, points, 10**9)
    assert amounts.payable - amounts.shipping <= without.amounts.payable - without.amounts.shipping
    # refunding every line, unit by unit, gives back exactly what was paid for the goods
    refunded = 0
    for p, ln in zip(paid, lines, strict=True):
        done = 0
        for k in range(1, ln.quantity + 1):
            refunded += p * k // ln.quantity - p * done // ln.quantity
            done = k
    assert refunded == sum(paid)


@settings(max_examples=200, deadline=None)
@given(lines=carts(), promotions=promotions())
def test_without_points_a_promotion_never_costs_the_shopper_anything(lines, promotions):
    out = rules.apply(lines, promotions, NOW, new_customer=True,
                      gifts={"gift": rules.Gift("gift", "pg", "赠品", 1500, 5)})
    try:
        with_p = _quote(lines, out, None, [], 0, 0, None)
    except errors.NotAcceptable:
        return
    without = _quote(lines, rules.Outcome(), None, [], 0, 0, None)
    assert with_p.amounts.payable <= without.amounts.payable
    assert with_p.amounts.promotion_discount == out.discount
