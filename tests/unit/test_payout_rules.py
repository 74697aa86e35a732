"""Payout parts: WeChat's transfer bounds (10 fen to the merchant's limit) and the
numbers each attempt is sent under."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain import payout as domain


def test_a_large_commission_pays_in_parts_of_at_most_the_limit():
    assert domain.split(100_000, 20_000) == [20_000] * 5
    assert domain.split(20_005, 20_000) == [10_003, 10_002]
    assert domain.split(10, 20_000) == [10]
    with pytest.raises(ValueError):
        domain.split(9, 20_000)


@given(data=st.data(), max_fen=st.integers(20, 199_999))
def test_parts_sum_to_the_amount_within_wechats_bounds(data, max_fen):
    amount = data.draw(st.integers(10, max_fen * 300))  # up to 300 transfers
    parts = domain.split(amount, max_fen)
    assert sum(parts) == amount
    assert all(domain.MIN_TRANSFER_FEN <= p <= max_fen for p in parts)
    assert len(parts) == -(-amount // max_fen)  # as few transfers as the limit allows
    assert max(parts) < domain.NAME_REQUIRED_FEN  # no transfer ever needs the payee's name


@given(index=st.integers(0, 36 * 36 - 1), attempt=st.integers(0, domain.MAX_ATTEMPTS - 1))
def test_out_bill_numbers_are_wechat_shaped_and_name_their_part_and_attempt(index, attempt):
    payout_id = domain.payout_id_for("B20261129", "u_123")
    part = domain.Part(index=index, amount=10, attempt=attempt)
    bill = domain.out_bill_no(payout_id, part)
    assert len(bill) <= 32 and bill.isalnum() and bill.isascii()
    assert domain.parse_out_bill_no(bill) == (payout_id, index, attempt)
    assert domain.parse_part_id(domain.part_id(payout_id, index)) == (payout_id, index)


def _paying(amount=50_000, max_fen=20_000):
    batch = domain.Batch(batch_id="B20261129", day="2026-11-29", mode="auto", created_at="t0")
    claiming = domain.start_claim(batch, "u1", ("o1",), amount, "t0")
    return domain.claimed(claiming, "t1", max_fen)


def test_a_cancelled_attempt_is_ready_again_under_the_next_number():
    p = _paying()
    assert [q.amount for q in p.parts] == [16_667, 16_667, 16_666] and p.status == "PAYING"
    sent = domain.claim_part(p, 2, "t2")
    with pytest.raises(errors.InvalidState):
        domain.claim_part(sent, 2, "t2")  # already in flight
    waiting = domain.part_waiting(sent, 2, {"state": "WAIT_USER_CONFIRM", "package_info": "pkg"}, "t3")
    back = domain.part_returned(waiting, 2, "CANCELLED", "t4")
    part = back.part(2)
    assert (part.status, part.attempt, part.package_info) == ("READY", 1, None)
    assert domain.out_bill_no(p.payout_id, part) != domain.out_bill_no(p.payout_id, sent.part(2))
    never_made = domain.part_returned(domain.claim_part(back, 2, "t5"), 2, "PARAM_ERROR", "t6",
                                      final_at_wechat=False)
    assert never_made.part(2).attempt == 1  # WeChat never had that number: it is used again


def test_the_payout_is_paid_only_when_every_part_is():
    p = _paying(30_000)
    one = domain.part_paid(domain.claim_part(p, 0, "t"), 0, {}, "t")
    assert not one.all_parts_paid and one.status == "PAYING"
    both = domain.part_paid(domain.claim_part(one, 1, "t"), 1, {}, "t")
    assert both.all_parts_paid
    assert domain.paid(both, domain.SUCCESS, None, "t").status == "SUCCESS"


def test_manual_payouts_have_no_parts():
    batch = domain.Batch(batch_id="B20261129", day="2026-11-29", mode="manual", created_at="t0")
    p = domain.claimed(domain.start_claim(batch, "u1", ("o1",), 5, "t0"), "t1", 20_000)
    assert (p.status, p.parts) == ("AWAITING_MANUAL", ())


def test_the_authorization_display_name_tells_each_distributors_account_apart():
    from layers.domain.transfer_authorization import display_name

    a, b = display_name("分销佣金", "u_aaaaaa111111"), display_name("分销佣金", "u_bbbbbb222222")
    assert a == "分销佣金·111111" and a != b
    assert len(display_name("长" * 40, "u_aaaaaa111111")) == 32
