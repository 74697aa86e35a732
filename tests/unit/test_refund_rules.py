"""A refund's pure rules: its number (one per order and Idempotency-Key), the order it
belongs to, every transition allowed and refused, and which notifications are its own.
Each assertion kills a mutant of layers/domain/refund.py (docs/mutation.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from layers.domain import errors
from layers.domain import refund as domain

ALL = list(domain.RefundStatus)


def _refund(status=domain.REQUESTED, **changes):
    return replace(domain.Refund(refund_id="o1Rabc", order_id="o1", user_id="u1", amount=500, reason="不想要了",
                                 status=status, created_at="t0", updated_at="t0"), **changes)


def _refused(call, message):
    with pytest.raises(errors.InvalidState) as refused:
        call()
    assert refused.value.message == message


def test_a_refund_number_is_the_order_and_a_suffix_fixed_by_the_idempotency_key():
    derived = domain.refund_id_for("o1", "u1", "k1")
    assert derived == domain.refund_id_for("o1", "u1", "k1") and len(derived) == len("o1R") + 10
    assert derived.startswith("o1R") and derived != domain.refund_id_for("o1", "u2", "k1")
    fresh = domain.refund_id_for("o1", "u1", None)
    assert fresh.startswith("o1R") and len(fresh) == len("o1R") + 10 and fresh != domain.refund_id_for("o1", "u1", None)
    assert domain.auto_refund_id("o1") == "o1Rauto"


def test_the_order_is_what_comes_before_the_first_R():
    assert domain.order_id_of("o1Rabc") == "o1"
    assert domain.order_id_of(domain.auto_refund_id("o1")) == "o1"
    assert domain.order_id_of("o1RaRb") == "o1"
    assert domain.order_id_of("o1 2Rx") == "o1 2"
    assert domain.order_id_of("o1rx") == "o1rx"  # a lower-case r is part of an order id
    assert domain.order_id_of("o123") == "o123"


def test_approve_only_a_requested_refund():
    assert domain.approve(_refund(), "t1") == _refund(domain.PROCESSING, updated_at="t1")
    _refused(lambda: domain.approve(_refund(domain.PROCESSING), "t1"), "a PROCESSING refund cannot be approved")


@pytest.mark.parametrize("end", [domain.SUCCESS, domain.CLOSED, domain.FAILED])
def test_an_open_refund_ends_with_wechats_final_status(end):
    for start in (domain.PROCESSING, domain.ABNORMAL, domain.REQUESTED):
        assert domain.finish(_refund(start), end, "t2") == _refund(end, updated_at="t2")


def test_only_a_requested_refund_is_rejected():
    assert domain.finish(_refund(), domain.REJECTED, "t2") == _refund(domain.REJECTED, updated_at="t2")
    _refused(lambda: domain.finish(_refund(domain.PROCESSING), domain.REJECTED, "t2"),
             "a PROCESSING refund cannot be rejected")


@pytest.mark.parametrize("status", [s for s in ALL if s not in domain.OPEN])
def test_an_ended_refund_does_not_end_again(status):
    _refused(lambda: domain.finish(_refund(status), domain.SUCCESS, "t2"), f"a {status} refund has already ended")


@pytest.mark.parametrize("status", [domain.PROCESSING, domain.ABNORMAL, domain.REQUESTED])
def test_statuses_that_do_not_end_a_refund_are_refused(status):
    with pytest.raises(ValueError, match=f"^{status} does not end a refund$"):
        domain.finish(_refund(domain.PROCESSING), status, "t2")


def test_abnormal_and_back():
    stuck = domain.abnormal(_refund(domain.PROCESSING), "t3")
    assert stuck == _refund(domain.ABNORMAL, updated_at="t3")
    assert domain.abnormal(stuck, "t4") == _refund(domain.ABNORMAL, updated_at="t4")
    _refused(lambda: domain.abnormal(_refund(), "t3"), "a REQUESTED refund cannot become abnormal")
    assert domain.abnormal_applied(stuck, "t5") == _refund(domain.PROCESSING, updated_at="t5")
    _refused(lambda: domain.abnormal_applied(_refund(domain.PROCESSING), "t5"),
             "only an ABNORMAL refund can be sent to a bank card; it is PROCESSING")


def test_a_refund_recorded_as_failed_may_still_succeed():
    for status in (domain.FAILED, domain.CLOSED):
        assert domain.succeeded_late(_refund(status), "t6") == _refund(domain.SUCCESS, updated_at="t6")
    _refused(lambda: domain.succeeded_late(_refund(domain.PROCESSING), "t6"),
             "a PROCESSING refund is not recorded as failed")


def test_wechats_refusal_is_kept_to_100_characters():
    assert domain.note_error(_refund(domain.PROCESSING), "E" * 150, "t7") == _refund(
        domain.PROCESSING, last_error="E" * 100, updated_at="t7")


def _resource(**changes):
    return {"out_trade_no": "o1", "amount": {"refund": 500}, "refund_status": "SUCCESS", **changes}


def test_a_notification_of_this_refund_has_no_problems():
    assert domain.notification_problems(_refund(domain.PROCESSING), "REFUND.SUCCESS", _resource()) == []
    assert domain.notification_problems(_refund(domain.PROCESSING), "REFUND.ABNORMAL",
                                        _resource(refund_status="ABNORMAL")) == []


def test_a_notification_of_another_refund_names_each_difference():
    problems = domain.notification_problems(_refund(domain.PROCESSING), "REFUND.CLOSED",
                                            _resource(out_trade_no="o2", amount={"refund": 499}))
    assert problems == ["out_trade_no", "amount 499 != 500", "event_type REFUND.CLOSED with refund_status SUCCESS"]
    assert domain.notification_problems(_refund(), "REFUND.UNKNOWN", {"out_trade_no": "o1", "amount": None}) == [
        "amount None != 500", "event_type REFUND.UNKNOWN with refund_status None"]
