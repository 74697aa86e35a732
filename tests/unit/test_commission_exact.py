"""Commission to the fen at its edges: tiers read from settings, the base of an order
whose discount swallows its goods, and what is kept after refunds (integers only, 0 once
everything went back). Each assertion kills a mutant of layers/domain/commission.py
(docs/mutation.md)."""

from __future__ import annotations

from layers.domain import commission as rules


def test_tiers_are_read_from_settings_absent_thresholds_being_zero():
    raw = [{"name": "铜牌", "rate_bps": "500"},
           {"name": "银牌", "rate_bps": 800, "min_sales_count": 10, "min_sales_amount": "100000"},
           {"name": "金牌", "rate_bps": 1200, "min_sales_count": None, "min_sales_amount": None}]
    assert rules.tiers_from(raw) == [rules.Tier("铜牌", 500, 0, 0), rules.Tier("银牌", 800, 10, 100_000),
                                     rules.Tier("金牌", 1200, 0, 0)]
    assert [t.as_dict() for t in rules.tiers_from(raw)[:2]] == [
        {"name": "铜牌", "rate_bps": 500, "min_sales_count": 0, "min_sales_amount": 0},
        {"name": "银牌", "rate_bps": 800, "min_sales_count": 10, "min_sales_amount": 100_000}]


def test_a_first_sale_reaches_a_tier_without_thresholds():
    tiers = rules.tiers_from([{"name": "入门", "rate_bps": 300}])
    assert rules.choose_tier(tiers, 0, 0) == rules.Tier("入门", 300)


def test_nothing_paid_for_the_goods_leaves_no_base_and_no_commission():
    lines = [{"sku_id": "s1", "quantity": 1, "unit_price": 500, "commission": None},
             {"sku_id": "s2", "quantity": 2, "unit_price": 250, "commission": {"mode": "fixed", "rate_bps": 10_000}}]
    for paid_goods in (0, -500):
        assert rules.order_commission(lines, paid_goods, 10_000) == [
            rules.LineCommission(sku_id="s1", base=0, rate_bps=10_000, amount=0),
            rules.LineCommission(sku_id="s2", base=0, rate_bps=10_000, amount=0)]
    # one fen paid: the tie goes to the earlier line
    assert [c.base for c in rules.order_commission(lines, 1, 1000)] == [1, 0]
    # more than the goods is never a base: the goods are the most
    assert [c.base for c in rules.order_commission(lines, 1500, 1000)] == [500, 500]


def test_nothing_is_kept_of_an_order_that_paid_nothing():
    assert rules.kept_after_refunds(accrued=100, paid=0, refunded=0) == 0
    assert rules.reversal(accrued=100, already_reversed=0, paid=0, refunded_total=0) == 100


def test_kept_after_refunds_is_floored_in_whole_fen():
    assert rules.kept_after_refunds(accrued=5, paid=2, refunded=1) == 2
    assert isinstance(rules.kept_after_refunds(accrued=5, paid=2, refunded=1), int)
    assert rules.kept_after_refunds(accrued=7, paid=1, refunded=0) == 7
    assert rules.kept_after_refunds(accrued=7, paid=1, refunded=1) == 0
    assert rules.kept_after_refunds(accrued=7, paid=3, refunded=5) == 0  # over-refunded: nothing kept
    assert rules.base_after_refunds(base=1000, paid=1200, refunded=1200) == 0
