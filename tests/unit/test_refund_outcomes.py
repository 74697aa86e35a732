"""Refunds against what WeChat Pay really answers: an outcome that is not known is not a
failure; only WeChat's final word (or a query that finds nothing) fails a refund, and
every retry carries the same out_refund_no."""

from __future__ import annotations

import pytest

from functions.schemas import AbnormalRefundInput
from layers.domain.payment_gateway import FrequencyLimited, WeChatPayUnavailable
from tests.unit.test_order_service import Shop


@pytest.fixture
def shop():
    s = Shop()
    s.add_sku()
    return s


def _paid_order(shop) -> dict:
    return shop.paid(shop.place()["id"])


def _state(shop, order_id, refund_id):
    order = shop.orders_repo.get(order_id)
    refund = shop.refunds_repo.get(order_id, refund_id)
    return refund.status, order.refund_room, order.refunding_amount, order.refunded_amount


def test_an_answer_that_does_not_verify_is_not_a_failure(shop):
    order = _paid_order(shop)
    shop.pay.lose_answer("refund")  # WeChat made the refund; its answer cannot be believed
    refund = shop.refund(order["id"], amount=1000)
    assert _state(shop, order["id"], refund["id"]) == ("PROCESSING", 2000, 1000, 0)
    shop.refunds.sweep()  # asks WeChat with the same number: it exists, still processing
    assert [r["out_refund_no"] for r in shop.pay.refunds_of(order["id"])] == [refund["id"]]
    shop.pay.refunds[refund["id"]]["status"] = "SUCCESS"
    shop.refunds.sweep()
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 2000, 0, 1000)
    assert len(shop.pay.refunds_of(order["id"])) == 1


@pytest.mark.parametrize("error", [
    FrequencyLimited(429, "FREQUENCY_LIMITED", "频率限制"),
    WeChatPayUnavailable(0, "NETWORK", "timeout"),
    "NOT_ENOUGH", "SYSTEM_ERROR",
])
def test_retry_later_answers_keep_the_refund_and_its_number(shop, error):
    order = _paid_order(shop)
    shop.pay.fault("refund", error, times=2)
    refund = shop.refund(order["id"])
    assert _state(shop, order["id"], refund["id"]) == ("PROCESSING", 0, 3000, 0)
    shop.refunds.sweep()  # WeChat has no such refund yet: sent again, refused again
    assert shop.pay.refunds_of(order["id"]) == []
    code = getattr(error, "code", error)
    assert shop.refunds_repo.get(order["id"], refund["id"]).last_error == code
    shop.refunds.sweep()  # accepted this time, under the same out_refund_no
    sent = [c for c in shop.pay.calls if c[0] == "refund"]
    assert {c[1] for c in sent} == {refund["id"]} and len(sent) == 3
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 0, 0, 3000)


def test_a_final_refusal_fails_only_when_wechat_has_no_such_refund(shop):
    order = _paid_order(shop)
    shop.pay.fault("refund", "USER_ACCOUNT_ABNORMAL")
    refund = shop.refund(order["id"], amount=1000)
    status, room, in_flight, refunded = _state(shop, order["id"], refund["id"])
    assert (status, room, in_flight, refunded) == ("FAILED", 3000, 0, 0)
    assert ("query_refund", refund["id"]) in shop.pay.calls


def test_a_final_looking_refusal_of_a_refund_wechat_already_made_follows_wechat(shop):
    order = _paid_order(shop)
    shop.pay.fault("refund", "INVALID_REQUEST", after=True)  # made, but a retry-ish refusal came back
    refund = shop.refund(order["id"], amount=1000)
    assert _state(shop, order["id"], refund["id"])[0] == "PROCESSING"
    shop.pay.refunds[refund["id"]]["status"] = "SUCCESS"
    shop.refunds.sweep()
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 2000, 0, 1000)


def test_abnormal_keeps_the_room_until_an_operator_sends_it_to_a_bank_card(shop):
    order = _paid_order(shop)
    refund = shop.refund(order["id"], amount=1000)
    shop.pay.refunds[refund["id"]]["status"] = "ABNORMAL"
    shop.refunds.on_refund_result(refund["id"], "ABNORMAL")
    assert _state(shop, order["id"], refund["id"]) == ("ABNORMAL", 2000, 1000, 0)
    assert [a.kind for a in shop.anomalies.recent()] == ["REFUND_ABNORMAL"]
    shop.refunds.sweep()  # not PROCESSING: no new refund, no resend
    assert len([c for c in shop.pay.calls if c[0] == "refund"]) == 1
    view = shop.refunds.apply_abnormal(refund["id"], AbnormalRefundInput(type="MERCHANT_BANK_CARD"))
    assert view["status"] == "PROCESSING"
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 2000, 0, 1000)
    assert len(shop.pay.refunds_of(order["id"])) == 1


def _notification(refund, order_id, status="SUCCESS", amount=None, out_trade_no=None):
    return {"out_refund_no": refund["id"], "out_trade_no": out_trade_no or order_id, "refund_status": status,
            "amount": {"refund": refund["amount"] if amount is None else amount, "total": 3000}}


@pytest.mark.parametrize("event_type,changes", [
    ("REFUND.SUCCESS", {"amount": 999}),
    ("REFUND.SUCCESS", {"out_trade_no": "someone-else"}),
    ("REFUND.CLOSED", {}),  # the event says closed, the resource says success
])
def test_a_notification_that_does_not_match_its_refund_changes_nothing(shop, event_type, changes):
    order = _paid_order(shop)
    refund = shop.refund(order["id"], amount=1000)
    resource = _notification(refund, order["id"], **changes)
    shop.refunds.on_refund_result(refund["id"], "SUCCESS", resource=resource, event_type=event_type)
    assert _state(shop, order["id"], refund["id"]) == ("PROCESSING", 2000, 1000, 0)
    assert [a.kind for a in shop.anomalies.recent()] == ["REFUND_MISMATCH"]


def test_success_after_a_recorded_failure_is_reconciled_and_alarmed(shop):
    order = _paid_order(shop)
    refund = shop.refund(order["id"], amount=1000)
    shop.refunds.on_refund_result(refund["id"], "CLOSED")
    assert _state(shop, order["id"], refund["id"]) == ("CLOSED", 3000, 0, 0)
    resource = _notification(refund, order["id"])
    shop.refunds.on_refund_result(refund["id"], "SUCCESS", resource=resource, event_type="REFUND.SUCCESS")
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 2000, 0, 1000)
    assert "REFUND_SUCCEEDED_AFTER_FAILURE" in [a.kind for a in shop.anomalies.recent()]
    assert shop.ledger_total("REFUND") == 1000
    shop.refunds.on_refund_result(refund["id"], "SUCCESS", resource=resource, event_type="REFUND.SUCCESS")
    assert _state(shop, order["id"], refund["id"]) == ("SUCCESS", 2000, 0, 1000)  # once


# -- the console refunds a paid order on the merchant's word ----------------------------

def test_a_merchant_refund_is_the_shoppers_refund_approved_at_once_and_a_resubmission_is_the_same(shop):
    from functions.schemas import RefundInput
    from layers.domain import errors

    order = _paid_order(shop)
    shop.orders.ship(order["id"])  # shipped: a shopper's request would wait for approval
    refund = shop.refunds.refund_by_merchant(order["id"], RefundInput(amount=1000, reason="少发一件"), "form-1")
    assert refund["status"] == "PROCESSING" and refund["amount"] == 1000
    assert _state(shop, order["id"], refund["id"]) == ("PROCESSING", 2000, 1000, 0)
    again = shop.refunds.refund_by_merchant(order["id"], RefundInput(amount=1000, reason="少发一件"), "form-1")
    assert again["id"] == refund["id"]  # the same form posted twice is one refund
    assert len([c for c in shop.pay.calls if c[0] == "refund"]) == 1
    with pytest.raises(errors.IdempotencyKeyReused):
        shop.refunds.refund_by_merchant(order["id"], RefundInput(amount=500, reason="少发一件"), "form-1")
    with pytest.raises(errors.NotAcceptable):  # more than is left to refund: nothing changes
        shop.refunds.refund_by_merchant(order["id"], RefundInput(amount=2001, reason="全退"), "form-2")
    assert _state(shop, order["id"], refund["id"]) == ("PROCESSING", 2000, 1000, 0)
    rest = shop.refunds.refund_by_merchant(order["id"], RefundInput(reason="全退"), "form-3")
    assert rest["amount"] == 2000
    with pytest.raises(errors.NotFound):
        shop.refunds.refund_by_merchant("nope", RefundInput(reason="x"), "form-4")
