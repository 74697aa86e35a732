"""Commission to the fen at its edges: tiers read from settings, the base of an order
whose discount swallows its goods, what is kept after refunds (integers only, 0 once
everything went back), the shop's cap on rates, and the recount of accrued commissions under
the coupon-only and the paid-goods rules. Each assertion kills a mutant of layers/domain/commission.py
(docs/mutation.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from layers.domain import commission as rules
from layers.domain import errors


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
        assert rules.order_commission(lines, {"payable": paid_goods}, 10_000) == [
            rules.LineCommission(sku_id="s1", base=0, rate_bps=10_000, amount=0),
            rules.LineCommission(sku_id="s2", base=0, rate_bps=10_000, amount=0)]
    # one fen paid: the tie goes to the earlier line
    assert [c.base for c in rules.order_commission(lines, {"payable": 1}, 1000)] == [1, 0]
    # more than the goods is never a base: the goods are the most
    assert [c.base for c in rules.order_commission(lines, {"payable": 1500}, 1000)] == [500, 500]


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


# -- the cap on rates an operator sets -------------------------------------------------------

def test_a_rate_at_the_shops_cap_is_allowed_and_one_above_is_refused():
    assert rules.check_rate_cap([], 3000) is None
    assert rules.check_rate_cap([0, 2999, 3000, 3000], 3000) is None
    with pytest.raises(errors.InvalidRequest) as over:
        rules.check_rate_cap([3001], 3000)
    assert over.value.message == ("rate_bps 3001 is above the shop's max_commission_bps (3000); "
                                  "an owner can raise the setting")


def test_the_refusal_names_the_highest_rate_over_the_cap():
    with pytest.raises(errors.InvalidRequest) as over:
        rules.check_rate_cap([500, 3002, 4500, 3000, 3001], 3000)
    assert over.value.message == ("rate_bps 4500 is above the shop's max_commission_bps (3000); "
                                  "an owner can raise the setting")


# -- the recount: the coupon-only rule against the paid-goods rule, at the stored rates -----------

# goods 6000 + 1000 = 7000 fen; the stored rates floor to whole fen (5400 * 1234 / 10000 = 666.36)
ITEMS = [{"sku_id": "s1", "unit_price": 3000, "quantity": 2}, {"sku_id": "s2", "unit_price": 1000, "quantity": 1}]
STORED = [{"sku_id": "s1", "base": 0, "rate_bps": 1234, "amount": 0},
          {"sku_id": "s2", "base": 0, "rate_bps": Decimal("777"), "amount": 0}]  # DynamoDB gives Decimals


def test_the_coupon_only_rule_shares_the_goods_less_the_coupon_and_floors_each_line():
    # 7000 - 700 = 6300: shares 5400 and 900; 666.36 -> 666, 69.93 -> 69
    assert rules.coupon_only_amount(STORED, ITEMS, 700) == 735
    assert type(rules.coupon_only_amount(STORED, ITEMS, 700)) is int
    # no coupon: the whole goods, 6000 * 1234 -> 740.4, 1000 * 777 -> 77.7
    assert rules.coupon_only_amount(STORED, ITEMS, 0) == 740 + 77


def test_a_coupon_that_swallows_the_goods_leaves_nothing_to_earn_even_at_100_percent():
    full = [{"rate_bps": 10_000}, {"rate_bps": 10_000}]
    assert rules.coupon_only_amount(full, ITEMS, 7000) == 0
    assert rules.coupon_only_amount(full, ITEMS, 6999) == 1  # one fen paid: one fen earned, by the first line


def test_the_paid_goods_rule_takes_every_discount_off_and_never_shipping():
    # coupon 700, member discount 350: payable 7000 - 700 - 350 + 500 shipping = 6450, paid goods 5950
    amounts = {"goods": 7000, "discount": 700, "member_discount": 350, "shipping": 500, "payable": 6450}
    # shares 5100 and 850: 629.34 -> 629, 66.045 -> 66
    assert rules.paid_goods_amount(STORED, ITEMS, amounts) == 695
    assert type(rules.paid_goods_amount(STORED, ITEMS, amounts)) is int
    # the old rule on the same order: only the coupon off, so it earned 40 fen more
    assert rules.coupon_only_amount(STORED, ITEMS, 700) == 735
    # coupon only: both rules agree
    assert rules.paid_goods_amount(STORED, ITEMS, {"discount": 700, "shipping": 500, "payable": 6800}) == 735


def test_a_line_stored_without_a_rate_earns_nothing_under_either_rule():
    items = [{"sku_id": "s1", "unit_price": 20_000, "quantity": 1}, {"sku_id": "s2", "unit_price": 30_000, "quantity": 1}]
    stored = [{"sku_id": "s1"}, {"sku_id": "s2", "rate_bps": None}]
    assert rules.coupon_only_amount(stored, items, 0) == 0
    assert rules.paid_goods_amount(stored, items, {"payable": 50_000}) == 0
    priced = [{"sku_id": "s1"}, {"sku_id": "s2", "rate_bps": 1000}]
    assert rules.coupon_only_amount(priced, items, 0) == 3000
    assert rules.paid_goods_amount(priced, items, {"payable": 50_000}) == 3000


def test_a_commission_accrued_before_lines_were_stored_counts_zero_under_both_rules():
    # an older commission has `lines == ()`: the recount must not fail on it
    assert rules.coupon_only_amount([], ITEMS, 700) == 0
    assert rules.paid_goods_amount([], ITEMS, {"payable": 7000}) == 0
