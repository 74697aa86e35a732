"""The members' pure rules: splits and proportions in whole fen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain import members as rules


@settings(deadline=None)
@given(st.integers(0, 10**7), st.integers(0, 10**7), st.data())
def test_a_payment_splits_within_what_is_held_and_refunds_return_exactly_its_parts(principal, bonus, data):
    if principal + bonus == 0:
        return
    amount = data.draw(st.integers(1, principal + bonus))
    p, b = rules.split_payment(rules.Book("u", principal=principal, bonus=bonus), amount)
    assert p + b == amount and 0 <= p <= principal and 0 <= b <= bonus
    refunded, back_p, back_b = 0, 0, 0
    while refunded < amount:
        part = data.draw(st.integers(1, amount - refunded))
        rp, rb = rules.refund_parts(p, b, refunded, part)
        assert rp + rb == part and rp >= 0 and rb >= 0
        refunded, back_p, back_b = refunded + part, back_p + rp, back_b + rb
    assert (back_p, back_b) == (p, b)


def test_short_balance_is_refused():
    with pytest.raises(rules.InsufficientBalance):
        rules.split_payment(rules.Book("u", principal=100, bonus=10), 111)


def test_points_rules():
    assert rules.points_earned(12345, 1) == 123
    assert rules.points_discount(10**6, 1, 5000, 6001) == (3000, 3000)
    assert rules.points_discount(10**6, 3, 5000, 6001) == (1000, 3000)
    assert rules.points_removed(100, 10000, 0, 2500) + rules.points_removed(100, 10000, 2500, 7500) == 100
    assert rules.member_discount(6000, 333) == 200 and rules.member_discount(6000, 0) == 0
    assert rules.level_for([{"name": "a", "min_growth": 0}, {"name": "b", "min_growth": 10}], 10)["name"] == "b"


def test_a_top_up_refund_is_the_unspent_principal_and_the_bonus_in_proportion():
    t = rules.TopUp("t1", "u", "o", "p", 10000, 1000, rules.TopUpStatus.PAID, "2026-11-29T00:00:00Z")
    after = rules.top_up_refund(t, rules.Book("u", principal=5000, bonus=900))
    assert (after.refund_amount, after.refund_bonus, after.status) == (5000, 500, "REFUNDING")
    with pytest.raises(errors.NotAcceptable):
        rules.top_up_refund(t, rules.Book("u", principal=0, bonus=900))
