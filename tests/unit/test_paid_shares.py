"""The paid goods of an order shared out to its lines: exact, proportional, ties to the
earlier line."""

from hypothesis import given
from hypothesis import strategies as st

from layers.domain import paid_shares


def test_paid_goods_is_payable_less_shipping_every_discount_off():
    amounts = {"goods": 10_000, "discount": 500, "member_discount": 950, "points_discount": 300,
               "shipping": 800, "payable": 10_000 - 500 - 950 - 300 + 800}
    assert paid_shares.paid_goods(amounts) == 8_250


def test_shares_are_proportional_and_ties_go_to_the_earlier_line():
    assert paid_shares.share([100, 100, 100], 100) == [34, 33, 33]
    assert paid_shares.share([100, 100], 101) == [51, 50]
    assert paid_shares.share([300, 100], 200) == [150, 50]
    assert paid_shares.share([1999, 1001], 2700) == [1799, 901]
    assert paid_shares.share([0, 0], 10) == [0, 0]


@given(st.lists(st.integers(0, 1_000_000), min_size=1, max_size=8), st.data())
def test_shares_sum_exactly_and_each_stays_within_its_line(goods, data):
    amount = data.draw(st.integers(0, sum(goods)))
    shares = paid_shares.share(goods, amount)
    assert sum(shares) == (amount if sum(goods) else 0)
    total = sum(goods)
    for g, s in zip(goods, shares, strict=True):
        assert 0 <= s <= g
        if total:
            assert abs(s * total - amount * g) < total  # within one fen of the exact share
