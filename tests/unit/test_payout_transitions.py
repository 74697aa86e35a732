"""Payouts transition by transition, compared whole: every step bumps the version once and
stamps the time, merging claims adds amounts and ids, parts keep what WeChat said, and
numbers parse back only when they are ours. Each assertion kills a mutant of
layers/domain/payout.py (docs/mutation.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from layers.domain import errors
from layers.domain import payout as domain

BATCH = domain.Batch(batch_id="B20261129", day="2026-11-29", mode="auto", created_at="t0")


def _claiming(amount=30_000, mode="auto"):
    return domain.start_claim(replace(BATCH, mode=mode), "u1", ("c1",), amount, "t0")


def _paying(amount=30_000, max_fen=20_000):
    return domain.claimed(_claiming(amount), "t1", max_fen)


def test_a_batch_is_named_by_the_beijing_day():
    late_utc = datetime(2026, 11, 28, 16, 30, tzinfo=UTC)  # 00:30 on the 29th in Beijing
    assert domain.batch_id_for(late_utc) == "B20261129"
    assert domain.batch_day(late_utc) == "2026-11-29"
    assert domain.open_batch(late_utc, "manual", "2026-11-28T16:30:00Z") == domain.Batch(
        batch_id="B20261129", day="2026-11-29", mode="manual", created_at="2026-11-28T16:30:00Z")


def test_a_payout_id_is_wechat_shaped_and_stable():
    pid = domain.payout_id_for("B20261129", "u1")
    assert pid == "P20261129" + pid[9:] and len(pid) == 29 and pid.isalnum()
    assert pid == domain.payout_id_for("B20261129", "u1") != domain.payout_id_for("B20261129", "u2")


def test_a_claim_starts_with_its_commissions():
    assert _claiming() == domain.Payout(
        payout_id=domain.payout_id_for("B20261129", "u1"), batch_id="B20261129", distributor_id="u1",
        mode="auto", status="CLAIMING", amount=30_000, created_at="t0", updated_at="t0",
        commission_ids=("c1",))


def test_merging_claims_adds_the_amounts_and_the_ids():
    merged = domain.add_claimed(_claiming(300), ("c2", "c3"), 200, "t5")
    assert merged == replace(_claiming(300), amount=500, commission_ids=("c1", "c2", "c3"), updated_at="t5",
                             version=1)
    assert merged.commission_count == 3
    with pytest.raises(errors.InvalidState) as closed:
        domain.add_claimed(_paying(), ("c9",), 1, "t")
    assert closed.value.message == "a PAYING payout takes no more commissions"


def test_claimed_payouts_are_paid_in_parts_or_wait_for_an_operator():
    assert _paying() == replace(_claiming(), status="PAYING", updated_at="t1", version=1, parts=(
        domain.Part(index=0, amount=15_000, updated_at="t1"), domain.Part(index=1, amount=15_000, updated_at="t1")))
    manual = domain.claimed(_claiming(mode="manual"), "t1")
    assert manual == replace(_claiming(mode="manual"), status="AWAITING_MANUAL", updated_at="t1", version=1)
    with pytest.raises(errors.InvalidState) as again:
        domain.claimed(_paying(), "t2", 20_000)
    assert again.value.message == "a PAYING payout is not being claimed"


def test_split_refuses_what_wechat_cannot_transfer():
    with pytest.raises(ValueError, match=r"^9 fen is below WeChat's smallest transfer$"):
        domain.split(9, 20_000)
    with pytest.raises(ValueError, match=r"^the per-transfer limit must be at least 20 fen$"):
        domain.split(100, 19)
    assert domain.split(40, 20) == [20, 20]


def test_a_part_is_found_by_its_index():
    p = _paying()
    assert p.part(1) is p.parts[1] and p.part(0) is p.parts[0]
    with pytest.raises(errors.NotFound) as missing:
        p.part(2)
    assert missing.value.message == "no such payout"


def test_claiming_a_part_sends_it_and_touches_no_other():
    sent = domain.claim_part(_paying(), 1, "t2")
    assert sent == replace(_paying(), version=2, updated_at="t2",
                           parts=(_paying().parts[0], replace(_paying().parts[1], status="TRANSFERRING",
                                                               updated_at="t2")))
    with pytest.raises(errors.InvalidState) as in_flight:
        domain.claim_part(sent, 1, "t3")
    assert in_flight.value.message == "a TRANSFERRING payout cannot be claimed"
    with pytest.raises(errors.InvalidState) as not_paying:
        domain.claim_part(_claiming(), 0, "t3")
    assert not_paying.value.message == "a CLAIMING payout cannot be claimed"


def test_the_last_attempt_may_be_claimed_and_no_more():
    p = _paying()
    last = replace(p, parts=(replace(p.parts[0], attempt=domain.MAX_ATTEMPTS - 1), p.parts[1]))
    assert domain.claim_part(last, 0, "t").part(0).status == "TRANSFERRING"
    spent = replace(p, parts=(replace(p.parts[0], attempt=domain.MAX_ATTEMPTS), p.parts[1]))
    with pytest.raises(errors.InvalidState) as refused:
        domain.claim_part(spent, 0, "t")
    assert refused.value.message == "this payout needs the merchant: too many transfers were not received"


def test_waiting_keeps_what_wechat_said_and_what_it_said_before():
    sent = domain.claim_part(_paying(), 0, "t2")
    waiting = domain.part_waiting(sent, 0, {"state": "WAIT_USER_CONFIRM", "package_info": "pkg",
                                            "transfer_bill_no": "1330"}, "t3")
    assert waiting.part(0) == replace(sent.part(0), status="WAIT_USER_CONFIRM", updated_at="t3",
                                      wechat_state="WAIT_USER_CONFIRM", package_info="pkg", transfer_bill_no="1330")
    assert (waiting.version, waiting.updated_at) == (3, "t3")
    again = domain.part_waiting(waiting, 0, {}, "t4")
    assert again.part(0) == replace(waiting.part(0), wechat_state="UNKNOWN", updated_at="t4")
    with pytest.raises(errors.InvalidState) as ready:
        domain.part_waiting(_paying(), 0, {}, "t")
    assert ready.value.message == "a READY payout is not waiting for WeChat"


def test_a_paid_part_keeps_the_bill_number():
    sent = domain.claim_part(_paying(), 0, "t2")
    paid = domain.part_paid(sent, 0, {"transfer_bill_no": "1330"}, "t3")
    assert paid.part(0) == replace(sent.part(0), status="SUCCESS", updated_at="t3", wechat_state="SUCCESS",
                                   transfer_bill_no="1330")
    assert (paid.version, paid.updated_at) == (3, "t3")
    waiting = domain.part_waiting(sent, 0, {"transfer_bill_no": "1330"}, "t3")
    assert domain.part_paid(waiting, 0, {}, "t4").part(0).transfer_bill_no == "1330"
    with pytest.raises(errors.InvalidState) as twice:
        domain.part_paid(paid, 0, {}, "t5")
    assert twice.value.message == "this part is already paid"


def test_a_returned_part_is_ready_again_with_the_reason_cut_to_200():
    waiting = domain.part_waiting(domain.claim_part(_paying(), 0, "t2"), 0,
                                  {"state": "WAIT_USER_CONFIRM", "package_info": "pkg", "transfer_bill_no": "13"}, "t3")
    back = domain.part_returned(waiting, 0, "x" * 250, "t4")
    assert back.part(0) == replace(waiting.part(0), status="READY", updated_at="t4", package_info=None,
                                   wechat_state=None, attempt=1, fail_reason="x" * 200)
    assert (back.version, back.updated_at) == (4, "t4")
    with pytest.raises(errors.InvalidState) as ready:
        domain.part_returned(back, 0, "FAIL", "t5")
    assert ready.value.message == "a READY payout is not in flight"


def test_outcomes_of_wechat_states():
    assert domain.outcome({"state": "SUCCESS"}) == "SUCCEEDED"
    assert domain.outcome({"state": "FAIL"}) == domain.outcome({"state": "CANCELLED"}) == "FAILED"
    for state in ("ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "CANCELING", None, "success"):
        assert domain.outcome({"state": state}) == "WAITING"
    assert domain.outcome({}) == "WAITING"


def test_paid_is_final_once():
    p = _paying()
    done = domain.paid(p, domain.SUCCESS, {"transfer_bill_no": "1330"}, "t9")
    assert done == replace(p, status="SUCCESS", transfer_bill_no="1330", version=2, updated_at="t9")
    assert done.final
    kept = replace(p, transfer_bill_no="1200")
    assert domain.paid(kept, domain.SUCCESS, None, "t9").transfer_bill_no == "1200"
    assert domain.paid(kept, domain.PAID_MANUALLY, {}, "t9").status == "PAID_MANUALLY"
    with pytest.raises(errors.InvalidState) as again:
        domain.paid(done, domain.SUCCESS, None, "t10")
    assert again.value.message == "a SUCCESS payout is final"
    with pytest.raises(ValueError, match=r"^FAIL is not a paid status$"):
        domain.paid(p, domain.FAIL, None, "t10")


def test_only_an_awaiting_manual_payout_is_marked_paid_and_a_repeat_is_fine():
    manual = domain.claimed(_claiming(mode="manual"), "t1")
    assert domain.mark_paid_allowed(manual) is True
    assert domain.mark_paid_allowed(replace(manual, status="PAID_MANUALLY")) is False
    with pytest.raises(errors.InvalidState) as auto:
        domain.mark_paid_allowed(_paying())
    assert auto.value.message == "only an AWAITING_MANUAL payout can be marked paid; it is PAYING"


def test_a_part_as_stored_leaves_out_what_is_unknown():
    assert domain.Part(index=2, amount=10).to_dict() == {"index": 2, "amount": 10, "status": "READY", "attempt": 0}


@pytest.mark.parametrize("value", ["", "ab", "P12", "P1 ab", "P1abZ", "P1aZb", "P10a0-"])
def test_numbers_that_are_not_ours_do_not_parse(value):
    assert domain.parse_out_bill_no(value) is None


def test_the_shortest_part_id_parses():
    assert domain.parse_part_id("P1ab") == ("P1", 10 * 36 + 11)
    assert domain.parse_part_id("P1aZ") is None and domain.parse_part_id("P1Za") is None
