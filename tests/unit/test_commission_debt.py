"""Commission debt: the pure rules (layers/domain/commission_debt.py), the payout's
deduction (layers/domain/payout.py), and a property over any sequence of commissions,
settlements and refunds through the services on in-memory repositories."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.domain import commission as rules
from layers.domain import commission_debt as debts
from layers.domain import errors
from layers.domain import payout as domain
from layers.domain.commission_entry import Stats

BATCH = domain.Batch(batch_id="B20261129", day="2026-11-29", mode="auto", created_at="t0")


def _claiming(amount: int, mode: str = "auto"):
    return domain.start_claim(replace(BATCH, mode=mode), "u1", ("c1",), amount, "t0")


# -- the rules ---------------------------------------------------------------------------------

def test_entries_are_named_by_their_refund_or_payout_and_are_positive():
    owed = debts.debt("u1", "o1", "R1", 250, "t")
    assert (owed.entry_id, owed.kind, owed.signed, owed.order_id, owed.refund_id) == ("debt:R1", "DEBT", 250, "o1", "R1")
    taken = debts.deduction("u1", "P1", 200, "t")
    assert (taken.entry_id, taken.kind, taken.signed, taken.payout_id) == ("deduction:P1", "DEDUCTION", -200, "P1")
    assert debts.balance([owed, taken]) == 50
    for bad in (0, -1):
        with pytest.raises(ValueError):
            debts.debt("u1", "o1", "R1", bad, "t")
        with pytest.raises(ValueError):
            debts.deduction("u1", "P1", bad, "t")


@pytest.mark.parametrize(("gross", "owed", "deducted"), [
    (1500, 500, 500), (500, 1500, 500), (500, 500, 500), (500, 0, 0), (0, 500, 0), (-200, 500, 0)])
def test_the_debt_is_deducted_first_and_never_more_than_the_payout(gross, owed, deducted):
    assert debts.to_deduct(gross, owed) == deducted


@pytest.mark.parametrize(("gross", "owed", "smallest", "made"), [
    (1500, 500, 10, True),   # 1000 left to pay
    (500, 1500, 10, True),   # 0 left: the debt takes it whole, nothing sent
    (500, 495, 10, False),   # 5 fen left: WeChat takes at least 10, it waits
    (500, 490, 10, True),    # exactly 10 left
    (500, 495, 1, True),     # manual mode pays any fen
    (0, 0, 10, False), (5, 0, 10, False), (-100, 0, 1, False)])
def test_a_settlement_is_made_when_nothing_or_enough_is_left_to_pay(gross, owed, smallest, made):
    assert debts.payable(gross, owed, smallest) is made


def test_a_debt_that_grew_after_the_check_leaves_the_smallest_transfer_to_pay():
    assert debts.deduct_for_transfer(1500, 500, 10) == 500
    assert debts.deduct_for_transfer(500, 2000, 10) == 500
    assert debts.deduct_for_transfer(500, 495, 10) == 490  # 10 fen paid, 5 still owed
    assert debts.deduct_for_transfer(500, 495, 1) == 495


# -- the payout ---------------------------------------------------------------------------------

def test_a_claimed_payout_pays_what_is_left_after_the_debt():
    paying = domain.claimed(_claiming(30_000), "t1", 20_000, deducted=5_000)
    assert (paying.status, paying.amount, paying.deducted, paying.gross) == ("PAYING", 25_000, 5_000, 30_000)
    assert [p.amount for p in paying.parts] == [12_500, 12_500] and not paying.nothing_to_send
    manual = domain.claimed(_claiming(800, "manual"), "t1", deducted=300)
    assert (manual.status, manual.amount, manual.deducted) == ("AWAITING_MANUAL", 500, 300)


def test_a_payout_the_debt_takes_whole_has_no_transfer_and_ends_deducted():
    for mode in ("auto", "manual"):
        zero = domain.claimed(_claiming(500, mode), "t1", 20_000, deducted=500)
        assert (zero.status, zero.amount, zero.deducted, zero.parts) == ("PAYING", 0, 500, ())
        assert zero.nothing_to_send and not zero.all_parts_paid
        done = domain.paid(zero, domain.DEDUCTED, None, "t2")
        assert (done.status, done.final, done.version) == ("DEDUCTED", True, zero.version + 1)
        with pytest.raises(errors.InvalidState):
            domain.paid(zero, domain.SUCCESS, None, "t2")
    paying = domain.claimed(_claiming(800), "t1", 20_000, deducted=300)
    with pytest.raises(errors.InvalidState):
        domain.paid(paying, domain.DEDUCTED, None, "t2")


@pytest.mark.parametrize("deducted", [-1, 801])
def test_a_payout_is_never_deducted_below_zero(deducted):
    with pytest.raises(ValueError):
        domain.claimed(_claiming(800), "t1", 20_000, deducted=deducted)


# -- the property ---------------------------------------------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("order"), st.integers(1, 4)),
    st.tuples(st.just("complete")),
    st.tuples(st.just("settle"), st.booleans()),
    st.tuples(st.just("finish")),
    st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 100)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=30))
def test_paid_out_less_the_debt_is_what_was_earned_less_the_refunded_share(steps):
    """Any sequence of commissions, settlements (transfers received or still in flight) and
    refunds (before or after payout, of any part): no payout is below 0; the outstanding
    debt always equals its entries and is never below 0; and once every transfer is
    received, paid out + still held - debt outstanding = earned - the refunded share
    (equivalently: paid out + debt deducted-or-owed is never less than what was earned
    after refunds, and the reversals before and after payout make up the refunded share)."""
    from tests.unit.test_settlement_service import Settle

    s = Settle()
    d = s.distributor()
    orders, completed, refunded = [], set(), {}
    n = 0

    def finish_all():
        for p in s.payouts_of(d):
            for view in s.settlement.payout_views(p):
                if view["status"] == "READY":
                    s.settlement.claim(d, view["id"])
        for bill, t in list(s.transfers.transfers.items()):
            if t["state"] != "SUCCESS":
                s.settlement.on_transfer_result(s.transfers.finish(bill))

    for step in steps:
        n += 1
        if step[0] == "order":
            orders.append(s.paid_order(s.shopper(), d, quantity=step[1]))
        elif step[0] == "complete" or step[0] == "settle":
            for o in orders:
                if o.order_id not in completed:
                    s.svc.on_order_completed("e", {"order_id": o.order_id, "completed_at": s.now()})
                    completed.add(o.order_id)
        if step[0] == "settle":
            s.clock.advance(8 * 24 * 3600)
            before = {p.payout_id for p in s.payouts_of(d)}
            s.run()
            made = [p for p in s.payouts_of(d) if p.payout_id not in before]
            if any(p.amount > 0 for p in made):  # the debt first: a payout pays only once it is all deducted
                assert (s.commissions.stats(d) or Stats()).debt == 0
            if step[1]:
                finish_all()
        elif step[0] == "finish":
            finish_all()
        elif step[0] == "refund" and orders:
            o = orders[step[1] % len(orders)]
            room = o.paid - refunded.get(o.order_id, 0)
            amount = max(1, room * step[2] // 100)
            if room > 0:
                refunded[o.order_id] = refunded.get(o.order_id, 0) + amount
                s.refund(o, f"R{n}", amount, refunded[o.order_id])
        for p in s.payouts_of(d):
            assert p.amount >= 0 and 0 <= p.deducted <= p.gross
            assert all(q.amount >= domain.MIN_TRANSFER_FEN for q in p.parts)
        stats = s.commissions.stats(d) or Stats()
        entries = s.commissions.debt_entries(d)
        assert stats.debt == debts.balance(entries) >= 0
        assert stats.deducted == sum(e.amount for e in entries if e.kind == debts.DEDUCTION)

    finish_all()
    stats = s.commissions.stats(d) or Stats()
    commissions = [s.commissions.get(d, o.order_id) for o in orders]
    earned = sum(c.accrued for c in commissions)
    share = sum(c.accrued - rules.kept_after_refunds(c.accrued, c.paid, refunded.get(c.order_id, 0))
                for c in commissions)
    paid_out = s.transfers.paid_total()
    held = stats.pending + stats.settleable
    assert paid_out + held - stats.debt == earned - share
    assert sum(c.reversed for c in commissions) + stats.debt + stats.deducted == share == stats.reversed
    assert paid_out == stats.settled - stats.deducted
    for p in s.payouts_of(d):
        assert p.final  # every transfer received: nothing in flight
        assert sum(q.amount for q in p.parts) == p.amount
