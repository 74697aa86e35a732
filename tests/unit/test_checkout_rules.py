"""The checkout's pure rules: `quote` (the one pricing of an order) and the coupon offers a
preview lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import checkout, errors
from layers.domain.members import InsufficientPoints
from layers.domain.pricing import Amounts, Line
from layers.domain.user_coupon import HELD, UNUSED, UserCoupon

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def line(sku="s1", product="p1", category="茶", quantity=1, unit_price=1000) -> Line:
    return Line(sku_id=sku, product_id=product, title="t", category=category, quantity=quantity,
                unit_price=unit_price)


def coupon(cid="c1", kind="fixed", value=500, threshold=0, max_discount=None, scope=None, status=UNUSED,
           valid_from="2026-12-01T00:00:00+00:00", valid_until="2026-12-31T00:00:00+00:00") -> UserCoupon:
    return UserCoupon(coupon_id=cid, template_id=f"t-{cid}", user_id="u1", name=f"券{cid}",
                      rule={"kind": kind, "value": value, "threshold": threshold, "max_discount": max_discount,
                            "scope": scope or {}},
                      status=status, valid_from=valid_from, valid_until=valid_until,
                      claimed_at="2026-12-01T00:00:00+00:00")


def quote(lines, coupon_off=0, shipping_fee=0, free_threshold=0, levels=(), growth=0, points=0, value=1,
          ratio=5000, available=None):
    return checkout.quote(lines, coupon_off=coupon_off, shipping_fee=shipping_fee,
                          free_shipping_threshold=free_threshold, levels=list(levels), growth=growth, points=points,
                          point_value_fen=value, points_max_ratio_bps=ratio, points_available=available)


# -- quote ------------------------------------------------------------------------------------

def test_a_plain_order_is_goods_plus_the_flat_fee():
    q = quote([line(quantity=2)], shipping_fee=800)
    assert (q.amounts, q.points_used, q.coupon_off) == (Amounts(goods=2000, discount=0, shipping=800, payable=2800),
                                                        0, 0)
    assert q.freight.as_dict() == {"total": 800, "parts": [{"template_id": None, "name": None, "pieces": 2,
                                                            "weight_g": 0, "amount": 2000, "fee": 800,
                                                            "rule": "flat"}]}


def test_the_flat_fee_is_waived_from_the_threshold_of_the_goods_after_the_coupon():
    # 10000 of goods, 500 off: 9500 is below a 10000 threshold, so shipping is charged
    assert quote([line(unit_price=10000)], coupon_off=500, shipping_fee=800, free_threshold=10000).amounts.shipping == 800
    assert quote([line(unit_price=10000)], coupon_off=0, shipping_fee=800, free_threshold=10000).amounts.shipping == 0
    assert quote([line(unit_price=9999)], shipping_fee=800, free_threshold=10000).amounts.shipping == 800


def test_the_member_level_comes_off_rounded_up_and_caps_the_coupon():
    levels = [{"name": "银", "min_growth": 100, "discount_bps": 500}, {"name": "金", "min_growth": 1000,
                                                                      "discount_bps": 3333}]
    # growth 999 reaches 银 (5%): 5% of 1001 is 50.05 -> 51 off
    q = quote([line(unit_price=1001)], levels=levels, growth=999)
    assert q.amounts == Amounts(goods=1001, discount=0, shipping=0, payable=950, member_discount=51)
    # 金 (33.33%): 333.3 -> 334 off, leaving 666 of 1000; a coupon of 900 is capped to 666
    q = quote([line(unit_price=1000)], coupon_off=900, shipping_fee=800, levels=levels, growth=1000)
    assert (q.amounts, q.points_used, q.coupon_off) == (
        Amounts(goods=1000, discount=666, shipping=800, payable=800, member_discount=334), 0, 666)


def test_points_are_capped_by_the_ratio_of_what_is_left_and_rounded_down():
    # 2000 goods, 300 coupon: 1700 left, 50% = 850 fen, at 3 fen a point: 283 points, 849 fen
    q = quote([line(unit_price=2000)], coupon_off=300, points=10_000, value=3, ratio=5000, available=10_000)
    assert (q.points_used, q.amounts.points_discount, q.amounts.payable) == (283, 849, 2000 - 300 - 849)
    # asking for fewer than the cap spends what was asked
    q = quote([line(unit_price=2000)], points=100, value=3, available=100)
    assert (q.points_used, q.amounts.points_discount) == (100, 300)


def test_shipping_is_the_freight_of_the_lines_templates_for_the_province_beside_the_flat_part():
    from layers.domain.freight import Charge, FreightLine, FreightTemplate, RegionCharge

    tpl = FreightTemplate(template_id="f1", name="江浙沪", charge_by="piece", default=Charge(1, 1000, 1, 500),
                          regions=(RegionCharge(("上海市", "浙江省"), Charge(1, 600, 2, 200)),),
                          undeliverable=("西藏自治区",))
    lines = [line(sku="a", quantity=3, unit_price=1000), line(sku="b", quantity=1, unit_price=500)]
    flines = [FreightLine("a", "f1", 3, 3000, None), FreightLine("b", None, 1, 500, None)]

    def at(province):
        return checkout.quote(lines, coupon_off=0, shipping_fee=800, free_shipping_threshold=0, levels=[], growth=0,
                              points=0, point_value_fen=1, points_max_ratio_bps=0, points_available=None,
                              freight_lines=flines, templates={"f1": tpl}, province=province)

    # 上海 (as the picker or a person writes it): 600 for the first piece, 200 for the 2 more, + the flat 800
    assert at("上海").amounts.shipping == at("上海市").amounts.shipping == 600 + 200 + 800
    assert [p.fee for p in at("上海市").freight.parts] == [800, 800]
    assert at("广东省").amounts.shipping == 1000 + 2 * 500 + 800 and at("广东省").amounts.payable == 3500 + 2800
    with pytest.raises(errors.Undeliverable):
        at("西藏自治区")


def test_points_the_shopper_does_not_have_are_refused_as_placement_refuses_them():
    with pytest.raises(InsufficientPoints):
        quote([line(unit_price=2000)], points=100, available=99)
    assert quote([line(unit_price=2000)], points=100, available=100).points_used == 100


def test_without_members_points_are_not_in_play():
    q = quote([line(unit_price=2000)], points=100, available=None)
    assert (q.points_used, q.amounts.points_discount) == (0, 0)


def test_an_order_paying_nothing_is_refused():
    with pytest.raises(errors.NotAcceptable):
        quote([line(unit_price=500)], coupon_off=500)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 50_000)), min_size=1, max_size=5),
       st.integers(0, 100_000), st.integers(0, 2000), st.integers(0, 10_000), st.integers(0, 9999),
       st.integers(0, 100_000), st.integers(1, 50))
def test_amounts_always_add_up(items, coupon_off, fee, threshold, bps, points, value):
    lines = [line(sku=f"s{i}", quantity=q, unit_price=p) for i, (q, p) in enumerate(items)]
    goods = sum(q * p for q, p in items)
    coupon_off = min(coupon_off, goods)
    try:
        q = quote(lines, coupon_off=coupon_off, shipping_fee=fee, free_threshold=threshold,
                  levels=[{"name": "v", "min_growth": 0, "discount_bps": bps}], points=points, value=value,
                  available=points)
    except errors.NotAcceptable:
        return
    a = q.amounts
    assert a.payable == a.goods - a.discount - a.member_discount - a.points_discount + a.shipping >= 1
    assert 0 <= a.discount <= coupon_off and min(a.member_discount, a.points_discount, a.shipping) >= 0
    assert a.discount + a.member_discount <= a.goods and q.points_used * value == a.points_discount


# -- the coupons a preview lists --------------------------------------------------------------------

def test_each_reason_in_the_order_placement_meets_it():
    lines = [line(product="p1", category="茶", unit_price=3000)]
    assert checkout.unusable_reason(coupon(valid_from="2026-12-06T00:00:00+00:00"), lines, NOW) == "NOT_YET_VALID"
    assert checkout.unusable_reason(coupon(valid_until="2026-12-05T08:00:00+00:00"), lines, NOW) == "EXPIRED"
    assert checkout.unusable_reason(coupon(valid_until="2026-12-05T08:00:01+00:00"), lines, NOW) is None
    assert checkout.unusable_reason(coupon(valid_from="2026-12-05T08:00:00+00:00"), lines, NOW) is None
    assert checkout.unusable_reason(coupon(scope={"product_ids": ["p2"]}), lines, NOW) == "OUT_OF_SCOPE"
    assert checkout.unusable_reason(coupon(scope={"categories": ["茶"]}, threshold=3000), lines, NOW) is None
    assert checkout.unusable_reason(coupon(threshold=3001), lines, NOW) == "BELOW_THRESHOLD"
    # not yet valid AND out of scope: validity is named first, as holding it refuses first
    assert checkout.unusable_reason(coupon(valid_from="2026-12-06T00:00:00+00:00", scope={"product_ids": ["p2"]}),
                                    lines, NOW) == "NOT_YET_VALID"


def test_offers_list_unused_coupons_with_their_discount_or_reason_and_name_the_best():
    lines = [line(product="p1", unit_price=2000, quantity=2)]  # 4000 of goods
    wallet = [coupon("a", value=500), coupon("b", kind="percent", value=30, max_discount=1000),
              coupon("c", value=900, threshold=5000), coupon("d", value=700, status=HELD),
              coupon("e", kind="percent", value=20, valid_until="2026-12-20T00:00:00+00:00")]
    offers = checkout.coupon_offers(wallet, lines, NOW, cap=4000)
    assert [(u["id"], u["discount"]) for u in offers["usable"]] == [("a", 500), ("b", 1000), ("e", 800)]
    assert [(u["id"], u["reason"]) for u in offers["unusable"]] == [("c", "BELOW_THRESHOLD")]
    assert offers["best_coupon_id"] == "b"


def test_equal_savings_prefer_the_coupon_that_expires_first():
    lines = [line(unit_price=4000)]
    wallet = [coupon("late", value=500, valid_until="2026-12-30T00:00:00+00:00"),
              coupon("soon", value=500, valid_until="2026-12-10T00:00:00+00:00")]
    assert checkout.coupon_offers(wallet, lines, NOW, cap=4000)["best_coupon_id"] == "soon"


def test_an_offer_is_capped_by_what_the_member_level_leaves():
    offers = checkout.coupon_offers([coupon("a", value=3000)], [line(unit_price=4000)], NOW, cap=2800)
    assert offers["usable"][0]["discount"] == 2800


def test_no_usable_coupon_names_no_best():
    offers = checkout.coupon_offers([coupon(threshold=99_999)], [line()], NOW, cap=1000)
    assert offers["best_coupon_id"] is None and offers["usable"] == []


def test_member_cap_is_the_goods_less_the_level_discount():
    levels = [{"name": "金", "min_growth": 10, "discount_bps": 1000}]
    assert checkout.member_cap([line(unit_price=999)], levels, 10) == 999 - 100
    assert checkout.member_cap([line(unit_price=999)], levels, 9) == 999
