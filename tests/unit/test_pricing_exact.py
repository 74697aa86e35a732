"""Pricing to the fen at its edges: every discount counted once, the 1 fen floor, the
free-shipping threshold, and prorate's remainder going to the largest remainders first.
(Written so that flipping any one operator of layers/domain/pricing.py fails a test:
docs/mutation.md.)"""

from __future__ import annotations

import pytest

from layers.domain import errors, pricing


def line(price, qty, sku="s1"):
    return pricing.Line(sku_id=sku, product_id="p", title="t", category=None, quantity=qty, unit_price=price)


def test_every_discount_is_taken_off_once_and_kept_on_the_amounts():
    amounts = pricing.price([line(1000, 3)], discount=300, shipping=500, member_discount=200,
                            points_discount=100)
    assert amounts == pricing.Amounts(goods=3000, discount=300, shipping=500, payable=2900,
                                      member_discount=200, points_discount=100)
    assert amounts.as_dict() == {"goods": 3000, "discount": 300, "shipping": 500, "payable": 2900,
                                 "member_discount": 200, "points_discount": 100}


def test_no_discount_at_all_is_a_valid_order():
    amounts = pricing.price([line(1000, 1)], discount=0, shipping=0)
    assert amounts == pricing.Amounts(goods=1000, discount=0, shipping=0, payable=1000)
    assert amounts.as_dict() == {"goods": 1000, "discount": 0, "shipping": 0, "payable": 1000}


@pytest.mark.parametrize("discount,member,points", [(901, 50, 50), (0, 1001, 0), (0, 0, 1001), (500, 300, 201),
                                                    (-1, 0, 0), (0, -1, 0), (0, 0, -1)])
def test_discounts_together_stay_between_0_and_the_goods(discount, member, points):
    with pytest.raises(ValueError, match=r"^a discount is between 0 and the goods amount$"):
        pricing.price([line(1000, 1)], discount=discount, shipping=100, member_discount=member,
                      points_discount=points)


def test_discounts_that_reach_the_goods_exactly_leave_the_shipping():
    assert pricing.price([line(1000, 1)], 500, 300, member_discount=300, points_discount=200).payable == 300


def test_one_fen_is_the_smallest_payment():
    assert pricing.price([line(1000, 1)], discount=999, shipping=0).payable == 1
    with pytest.raises(errors.NotAcceptable) as refused:
        pricing.price([line(1000, 1)], discount=500, shipping=0, member_discount=300, points_discount=200)
    assert refused.value.message == "the order's payable amount must be at least 1 fen"


def test_shipping_is_the_flat_fee_below_the_threshold():
    assert pricing.shipping_for(goods=50, fee=1, free_threshold=0) == 1
    assert pricing.shipping_for(goods=50, fee=1, free_threshold=51) == 1
    assert pricing.shipping_for(goods=51, fee=1, free_threshold=51) == 0


def test_prorate_over_a_total_of_one_fen():
    assert pricing.prorate(1, [1, 0], 7) == [7, 0]
    assert pricing.prorate(0, [0, 0], 7) == [0, 0]


def test_prorate_gives_the_leftover_fen_to_the_largest_remainders():
    # 10 over 1:1:5 -> exact 1.43, 1.43, 7.14: floors 1, 1, 7 and the 1 fen left goes to a
    # line whose exact share lost most (0.43), never to the third (0.14).
    assert pricing.prorate(7, [1, 1, 5], 10) == [2, 1, 7]
    assert pricing.prorate(7, [5, 1, 1], 10) == [7, 2, 1]
    assert pricing.prorate(4, [1, 3], 2) == [1, 1]  # a tie goes to the earlier line
