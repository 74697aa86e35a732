from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import coupons as rules
from layers.domain import errors
from layers.domain.pricing import Line


def line(price, qty=1, product="p1", category="护肤"):
    return Line(sku_id=f"s-{product}-{price}", product_id=product, title="t", category=category,
                quantity=qty, unit_price=price)


def test_fixed_takes_its_value_off_once_the_threshold_is_reached():
    rule = rules.Rule("fixed", 3000, threshold=19900)
    assert rules.discount(rule, [line(19900)]) == 3000
    with pytest.raises(errors.CouponNotApplicable):
        rules.discount(rule, [line(19899)])


def test_percent_rounds_up_in_the_shoppers_favour_and_respects_max_discount():
    assert rules.discount(rules.Rule("percent", 30), [line(333)]) == 100  # 99.9 -> 100
    assert rules.discount(rules.Rule("percent", 10), [line(1000)]) == 100
    assert rules.discount(rules.Rule("percent", 50, max_discount=2000), [line(10000)]) == 2000


def test_no_threshold_coupon_never_exceeds_the_goods():
    assert rules.discount(rules.Rule("fixed", 5000), [line(1200)]) == 1200


def test_scope_limits_what_counts_and_what_is_discounted():
    rule = rules.Rule("percent", 50, threshold=1000, categories=frozenset({"彩妆"}))
    order = [line(2000, category="彩妆", product="a"), line(8000, category="护肤", product="b")]
    assert rules.discount(rule, order) == 1000
    by_product = rules.Rule("fixed", 500, product_ids=frozenset({"b"}))
    assert rules.discount(by_product, order) == 500
    with pytest.raises(errors.CouponNotApplicable):
        rules.discount(rules.Rule("fixed", 100, product_ids=frozenset({"z"})), order)


def test_windows_and_validity():
    t0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
    with pytest.raises(errors.NotStarted):
        rules.check_claim_window(t0 - timedelta(seconds=1), t0, t0 + timedelta(hours=1))
    with pytest.raises(errors.Ended):
        rules.check_claim_window(t0 + timedelta(hours=1), t0, t0 + timedelta(hours=1))
    rules.check_claim_window(t0, t0, t0 + timedelta(hours=1))
    # a warm-up coupon: claimed now, usable from the live stream's start
    start, end = rules.validity(t0, t0 + timedelta(hours=2), t0 + timedelta(days=1), None)
    with pytest.raises(errors.CouponNotApplicable):
        rules.check_usable(t0 + timedelta(hours=1), start, end)
    rules.check_usable(t0 + timedelta(hours=2), start, end)
    assert rules.validity(t0, None, None, 7) == (t0, t0 + timedelta(days=7))


def test_total_is_split_exactly_over_shards():
    assert rules.split_total(10, 4) == [3, 3, 2, 2]
    assert sum(rules.split_total(1_000_003, 7)) == 1_000_003
    assert rules.shards_for(10, None) == 1
    assert rules.shards_for(100_000, 20_000) == 40


amounts = st.integers(min_value=1, max_value=10**7)


@given(st.lists(st.tuples(amounts, st.integers(1, 20), st.sampled_from(["a", "b", "c"])), min_size=1, max_size=8),
       st.sampled_from(["fixed", "percent"]), st.integers(1, 10**7), st.integers(0, 10**6),
       st.one_of(st.none(), st.integers(1, 10**6)), st.booleans())
def test_a_discount_is_never_negative_nor_more_than_the_goods(items, kind, value, threshold, cap, scoped):
    value = value if kind == "fixed" else (value % 99) + 1
    rule = rules.Rule(kind, value, threshold=threshold, max_discount=cap if kind == "percent" else None,
                      product_ids=frozenset({"a"}) if scoped else frozenset())
    lines = [line(price, qty, product=p) for price, qty, p in items]
    goods = sum(x.amount for x in lines)
    try:
        off = rules.discount(rule, lines)
    except errors.CouponNotApplicable:
        return
    assert 0 <= off <= rules.scoped_goods(rule, lines) <= goods
    if kind == "percent" and cap is None:
        base = rules.scoped_goods(rule, lines)
        assert off * 100 >= base * value  # rounded in the shopper's favour
