"""The money paths against the strict sandbox (sandbox/pay.py), each WeChat Pay behaviour
switched on as a test needs it: answers that do not verify or never arrive, 429s,
NOT_ENOUGH, the one-minute refund spacing, transfers left unconfirmed, the move from
platform certificates to the public key, and prepay ids past their 2 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import body, post, put
from tests.integration.test_payments import (
    deliver,
    new_order,
    order_status,
    pay_through_notification,
)
from tests.integration.test_settlement import (
    _offset,
    bill_of,
    claim,
    confirm_transfer,
    my_payouts,
    settleable_commissions,
    settlement,
    stats_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def strict(shop):
    box = shop["sandbox"]
    box.reset_switches()
    yield box
    box.reset_switches()
    box.reset_clock()


@pytest.fixture
def day(monkeypatch):
    from layers import clock

    real = clock.now

    def go(days: float):
        target = real() + timedelta(days=days)
        monkeypatch.setattr(clock, "now", lambda: target)

    return go


def refunds_at_wechat(sandbox, order_id) -> list[str]:
    return [no for no, r in sandbox.refunds.items() if r["out_trade_no"] == order_id]


def refund_state(order_id, refund_id):
    from functions import wiring

    refund = wiring.refund_repository().get(order_id, refund_id)
    order = wiring.order_repository().get(order_id, consistent=True)
    return refund.status, order.refund_room, order.refunding_amount, order.refunded_amount


def paid(client, admin_headers, sandbox, price=3000):
    order, _, shopper = new_order(client, admin_headers, price=price, stock=5)
    pay_through_notification(client, sandbox, order["id"])
    return order, shopper


def sweep_refunds():
    from functions import wiring

    return wiring.refunds().sweep()


def finish_at_wechat(client, sandbox, refund_id):
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund_id, "SUCCESS"))
    with sandbox._lock:
        sandbox.refunds[refund_id]["status"] = "SUCCESS"
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)


@pytest.mark.parametrize("fault", ["bad_signature_next", "lose_answer_next"])
def test_a_refund_whose_answer_is_lost_or_unverifiable_is_never_dropped(client, admin_headers, strict, fault):
    order, shopper = paid(client, admin_headers, strict)
    getattr(strict, fault)("/v3/refund/domestic/refunds")
    r = post(client, f"/orders/{order['id']}/refunds", {"reason": "不想要了"}, shopper)
    assert r.status_code == 201, r.body
    refund = body(r)
    # WeChat made it; we could not believe (or did not get) the answer: still in flight.
    assert refund_state(order["id"], refund["id"]) == ("PROCESSING", 0, 3000, 0)
    assert refunds_at_wechat(strict, order["id"]) == [refund["id"]]
    sweep_refunds()  # asks WeChat with the same number: it has it, still processing
    assert refunds_at_wechat(strict, order["id"]) == [refund["id"]]
    finish_at_wechat(client, strict, refund["id"])
    assert refund_state(order["id"], refund["id"]) == ("SUCCESS", 0, 0, 3000)
    assert order_status(order["id"]) == "REFUNDED"


def test_refunds_through_not_enough_429_and_the_spacing_rule_keep_one_number_each(client, admin_headers, strict):
    order, shopper = paid(client, admin_headers, strict)
    strict.set_balance(0)  # the merchant's balance cannot cover it
    first = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 1000, "reason": "少发"}, shopper))
    assert refund_state(order["id"], first["id"])[0] == "PROCESSING"
    from functions import wiring

    assert wiring.refund_repository().get(order["id"], first["id"]).last_error == "NOT_ENOUGH"
    strict.set_balance(None)  # topped up
    # (only this refund's resend: the sweep also sends other tests' refunds on this path)
    strict.frequency_limit_next("/v3/refund/domestic/refunds", method="POST", body_contains=first["id"])
    sweep_refunds()  # WeChat has no such refund: sent again, same number, 429 this time
    assert refunds_at_wechat(strict, order["id"]) == []
    sweep_refunds()
    assert refunds_at_wechat(strict, order["id"]) == [first["id"]]
    strict.refund_spacing(True)
    second = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 500, "reason": "再退"}, shopper))
    assert refund_state(order["id"], second["id"])[0] == "PROCESSING"
    assert refunds_at_wechat(strict, order["id"]) == [first["id"]]  # refused: within a minute
    strict.advance(61)
    sweep_refunds()
    assert sorted(refunds_at_wechat(strict, order["id"])) == sorted([first["id"], second["id"]])
    for refund in (first, second):
        finish_at_wechat(client, strict, refund["id"])
    assert refund_state(order["id"], second["id"]) == ("SUCCESS", 1500, 0, 1500)
    sent = [r for r in strict.requests_log if r["method"] == "POST" and r["path"] == "/v3/refund/domestic/refunds"
            and r.get("out_refund_no") in (first["id"], second["id"])]
    assert {r["out_refund_no"] for r in sent} == {first["id"], second["id"]}


def test_an_abnormal_refund_waits_for_the_operator_and_is_sent_to_a_bank_card(client, admin_headers, strict):
    order, shopper = paid(client, admin_headers, strict)
    refund = body(post(client, f"/orders/{order['id']}/refunds", {"reason": "坏了"}, shopper))
    resource = strict.finish_refund(refund["id"], "ABNORMAL", notify=False)
    headers, raw = strict.build_notification("REFUND.ABNORMAL", resource)
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    assert refund_state(order["id"], refund["id"]) == ("ABNORMAL", 0, 3000, 0)
    listed = body(client.http.get("/admin/refunds?status=ABNORMAL", headers=admin_headers))["items"]
    assert refund["id"] in [r["id"] for r in listed]
    bad = post(client, f"/admin/refunds/{refund['id']}/abnormal-refund", {"type": "USER_BANK_CARD"}, admin_headers)
    assert bad.status_code == 400
    r = post(client, f"/admin/refunds/{refund['id']}/abnormal-refund", {
        "type": "USER_BANK_CARD", "bank_type": "ICBC_DEBIT", "bank_account": "6222000011112222",
        "real_name": "张三"}, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["status"] == "PROCESSING"
    finish_at_wechat(client, strict, refund["id"])
    assert refund_state(order["id"], refund["id"]) == ("SUCCESS", 0, 0, 3000)
    assert refunds_at_wechat(strict, order["id"]) == [refund["id"]]  # never a second refund


@pytest.mark.parametrize("fault", ["bad_signature_next", "lose_answer_next"])
def test_a_transfer_whose_answer_is_lost_or_unverifiable_is_never_paid_twice(client, admin_headers, strict, day,
                                                                          fault):
    expected = settleable_commissions(client, admin_headers, strict and {"sandbox": strict}, distributors=1,
                                      orders_each=1)
    [d] = expected
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    [view] = my_payouts(client, d)
    getattr(strict, fault)("/v3/fund-app/mch-transfer/transfer-bills")
    r = claim(client, d, view["id"])
    assert r.status_code == 503, r.body
    day(next(_offset))
    settlement().settle_commissions(inline=True)  # the next day: asked about, not paid again
    [again] = my_payouts(client, d)
    assert again["status"] == "WAIT_USER_CONFIRM" and again["confirm"]["package"]
    made = [no for no in strict.transfers if no.startswith(view["id"])]
    assert made == [bill_of(again)]
    confirm_transfer(client, strict, made[0])
    assert stats_of(d).settled == expected[d]
    assert sum(t["transfer_amount"] for no, t in strict.transfers.items()
               if no.startswith(view["id"]) and t["state"] == "SUCCESS") == expected[d]


def test_a_transfer_unconfirmed_for_24_hours_returns_to_ready_and_pays_once(client, admin_headers, strict, day):
    expected = settleable_commissions(client, admin_headers, {"sandbox": strict}, distributors=1, orders_each=1)
    [d] = expected
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    [view] = my_payouts(client, d)
    first = bill_of(body(claim(client, d, view["id"])))
    expired = strict.advance(24 * 3600 + 1, notify=False)  # WeChat cancels it ...
    assert first in expired
    headers, raw = strict.build_notification("MCHTRANSFER.BILL.FINISHED", strict.transfer_resource(first))
    assert deliver(client, headers, raw, "/wechatpay/transfer-notify").status_code in (200, 204)  # ... and says so
    [again] = my_payouts(client, d)
    assert again["status"] == "READY"
    second = body(claim(client, d, view["id"]))
    assert bill_of(second) != first
    confirm_transfer(client, strict, bill_of(second))
    assert stats_of(d).settled == expected[d]


def test_requests_name_the_public_key_so_answers_are_signed_with_it(client, admin_headers, strict):
    strict.migration(True)  # certificate-signed answers unless the request names the public key
    order, _, _ = new_order(client, admin_headers)
    assert order["payment"]["package"].startswith("prepay_id=")
    posted = [r for r in strict.requests_log if r["path"] == "/v3/pay/transactions/jsapi"]
    assert posted[-1]["serial"] == strict.keys.public_key_id


def test_a_mixed_certificate_and_public_key_callback_stream_verifies(client, admin_headers, strict):
    orders = [new_order(client, admin_headers)[0] for _ in range(4)]
    for i, order in enumerate(orders):
        strict.pay(order["id"], notify=False)
        headers, raw = strict.build_notification("TRANSACTION.SUCCESS", strict.transaction(order["id"]),
                                                 sign_with="certificate" if i % 2 else "public_key")
        assert deliver(client, headers, raw).status_code in (200, 204)
    assert [order_status(o["id"]) for o in orders] == ["PAID"] * 4


def test_a_three_hour_old_unpaid_order_gets_a_fresh_payment(client, admin_headers, strict, day):
    from tests.conftest import _reset_caches

    assert put(client, "/admin/settings", {"order_payment_timeout_s": 86400}, admin_headers).status_code == 200
    _reset_caches()  # settings are cached per container
    try:
        order, _, shopper = new_order(client, admin_headers)
    finally:
        put(client, "/admin/settings", {"order_payment_timeout_s": 900}, admin_headers)  # PUT merges
        _reset_caches()
    old = order["payment"]["package"].removeprefix("prepay_id=")
    assert strict.prepay_valid(old)
    strict.advance(3 * 3600)
    day(3 / 24)
    assert not strict.prepay_valid(old)
    r = client.http.get(f"/orders/{order['id']}", headers=shopper)
    assert r.status_code == 200, r.body
    fresh = body(r)["payment"]["package"].removeprefix("prepay_id=")
    assert fresh != old and strict.prepay_valid(fresh)
    strict.pay(order["id"], notify=False, prepay_id=fresh)  # the shopper pays with the fresh one
    headers, raw = strict.build_notification("TRANSACTION.SUCCESS", strict.transaction(order["id"]))
    assert deliver(client, headers, raw).status_code in (200, 204)
    assert order_status(order["id"]) == "PAID"


def test_a_granted_confirmation_free_authorization_pays_the_rest_without_a_claim(
        client, admin_headers, strict, day):
    from functions import wiring

    settings = {"transfer_authorization": True, "payout_max_fen": 300}  # 500 fen: two parts
    assert put(client, "/admin/settings", settings, admin_headers).status_code == 200
    try:
        expected = settleable_commissions(client, admin_headers, {"sandbox": strict}, distributors=1,
                                          orders_each=1)
        [d] = expected
        day(next(_offset))
        settlement().settle_commissions(inline=True)
        views = my_payouts(client, d)
        assert [v["status"] for v in views] == ["READY", "READY"]
        first = body(claim(client, d, views[0]["id"]))
        bill = bill_of(first)
        assert strict.transfers[bill]["authorization_info"]["out_authorization_no"]  # asked with it
        # the authorization page names this distributor's own account, not only the shop's label
        assert strict.transfers[bill]["authorization_info"]["user_display_name"].endswith("·" + d[-6:])
        assert first["confirm"]["package"]
        resource = strict.confirm_transfer(bill, notify=False)  # confirming grants the authorization
        headers, raw = strict.build_notification("MCHTRANSFER.BILL.FINISHED", resource)
        assert deliver(client, headers, raw, "/wechatpay/transfer-notify").status_code in (200, 204)
        settlement().follow_up_open_payouts()  # the authorization is granted: the rest goes now
        payout_id = views[1]["id"][:-2]
        assert wiring.payout_repository().get(payout_id).status == "SUCCESS"  # no second claim
        authorized = [r for r in strict.requests_log
                      if r["path"] == "/v3/fund-app/mch-transfer/transfer-bills/transfer"]
        assert len(authorized) == 1 and authorized[0]["serial"] == strict.keys.public_key_id
        assert stats_of(d).settled == expected[d]
    finally:
        put(client, "/admin/settings", {"transfer_authorization": False, "payout_max_fen": 20000}, admin_headers)
