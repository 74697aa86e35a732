"""WeChat Pay's rules as the sandbox enforces them, driven over HTTP with a signed client.
Each test names the WeChat Pay document the rule comes from."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.sandbox.conftest import signer_of

NOTIFY = "http://127.0.0.1:9/notify"
BJ = "+08:00"


def new_no(prefix: str = "T") -> str:
    return prefix + secrets.token_hex(8)


def prepay_body(box, no, **over):
    body = {"appid": box.keys.appid, "mchid": box.keys.mchid, "description": "商品", "out_trade_no": no,
            "notify_url": NOTIFY, "amount": {"total": 1000, "currency": "CNY"}, "payer": {"openid": "o-shopper"},
            "time_expire": (datetime.now(UTC) + timedelta(hours=6)).astimezone().replace(microsecond=0).isoformat()}
    body.update(over)
    return body


def paid_order(pay, total=1000):
    no = new_no()
    assert pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, no, amount={"total": total})
                    ).status_code == 200
    pay.box.pay(no, notify=False)
    return no


def refund_body(trade_no, refund_no, refund=100, total=1000):
    return {"out_trade_no": trade_no, "out_refund_no": refund_no, "reason": "r", "notify_url": NOTIFY,
            "amount": {"refund": refund, "total": total, "currency": "CNY"}}


def transfer_body(box, no, amount=100, **over):
    body = {"appid": box.keys.appid, "out_bill_no": no, "transfer_scene_id": "1005", "openid": "o-guide",
            "transfer_amount": amount, "transfer_remark": "佣金", "notify_url": NOTIFY,
            "transfer_scene_report_infos": [{"info_type": "岗位类型", "info_content": "分销员"},
                                            {"info_type": "报酬说明", "info_content": "佣金"}]}
    body.update(over)
    return body


def code(response) -> str:
    return response.json()["code"]


# -- JSAPI下单 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("over", [
    {"out_trade_no": "abc12"},                      # fewer than 6 characters
    {"out_trade_no": "a" * 33},                     # more than 32
    {"out_trade_no": "order.with.dots"},            # outside [0-9A-Za-z_-|*]
    {"description": "x" * 128},                     # description > 127 bytes
    {"description": "商" * 43},                     # 43 Chinese characters: 129 bytes
    {"description": "蛋糕🎂"},                       # an emoji
    {"notify_url": NOTIFY + "?order=1"},            # notify_url with parameters
    {"notify_url": "ftp://host/notify"},
    {"time_expire": "2030-01-01T10:00:00Z"},        # no +TIMEZONE offset
    {"time_expire": "2030-01-01T10:00:00"},
    {"time_expire": "2030-01-01 10:00:00+08:00"},
    {"amount": {"total": 0}},                       # total >= 1 fen
    {"amount": {"total": 1.5}},
])
def test_prepay_refuses_what_wechat_refuses(pay, over):
    r = pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, new_no(), **over))
    assert r.status_code == 400 and code(r) == "PARAM_ERROR", r.text


def test_prepay_accepts_the_documented_alphabet_and_a_repeat_gets_a_fresh_prepay_id(pay):
    no = "Ab_-|*" + secrets.token_hex(4)
    body = prepay_body(pay.box, no)
    first = pay.call("POST", "/v3/pay/transactions/jsapi", body)
    again = pay.call("POST", "/v3/pay/transactions/jsapi", body)
    assert first.status_code == again.status_code == 200
    assert first.json()["prepay_id"] != again.json()["prepay_id"]
    assert pay.signer_of(first) == "public_key"


def test_prepay_repeat_with_other_parameters_is_out_trade_no_used(pay):
    no = new_no()
    assert pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, no)).status_code == 200
    for over in ({"amount": {"total": 999}}, {"description": "另一个"},
                 {"time_expire": (datetime.now(UTC) + timedelta(hours=9)).astimezone().replace(
                     microsecond=0).isoformat()}):
        r = pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, no, **over))
        assert r.status_code == 403 and code(r) == "OUT_TRADE_NO_USED"


def test_a_prepay_id_lives_two_hours(pay):
    box = pay.box
    no = new_no()
    # One body for both: asked again, the order's parameters must be the same (time_expire
    # to the second: a second body made a second later was refused, now and then).
    body = prepay_body(box, no)
    old = pay.call("POST", "/v3/pay/transactions/jsapi", body).json()["prepay_id"]
    box.advance(2 * 3600 + 1)
    assert not box.prepay_valid(old)
    with pytest.raises(Exception) as refused:
        box.pay(no, prepay_id=old, notify=False)
    assert getattr(refused.value, "code", "") == "PREPAY_EXPIRED"
    fresh = pay.call("POST", "/v3/pay/transactions/jsapi", body).json()["prepay_id"]
    assert box.prepay_valid(fresh)
    assert box.pay(no, prepay_id=fresh, notify=False)["trade_state"] == "SUCCESS"


def test_close_order_answers_204_and_a_closed_order_cannot_be_paid(pay):
    """关闭订单 (https://pay.weixin.qq.com/doc/v3/merchant/4012556398): POST
    /v3/pay/transactions/out-trade-no/{out_trade_no}/close with body mchid (必填), 204 No
    Content; a closed order is not paid any more, nor prepaid again (JSAPI下单 ORDER_CLOSED)."""
    box = pay.box
    no = new_no()
    body = prepay_body(box, no)
    assert pay.call("POST", "/v3/pay/transactions/jsapi", body).status_code == 200
    path = f"/v3/pay/transactions/out-trade-no/{no}/close"
    missing = pay.call("POST", path, {})
    assert missing.status_code == 400 and code(missing) == "PARAM_ERROR"
    closed = pay.call("POST", path, {"mchid": box.keys.mchid})
    assert closed.status_code == 204 and not closed.content
    assert box.transaction(no)["trade_state"] == "CLOSED"
    with pytest.raises(Exception) as refused:
        box.pay(no, notify=False)
    assert getattr(refused.value, "code", "") == "ORDER_CLOSED"
    again = pay.call("POST", "/v3/pay/transactions/jsapi", body)
    assert again.status_code == 400 and code(again) == "ORDER_CLOSED"
    paid = paid_order(pay)
    refused_close = pay.call("POST", f"/v3/pay/transactions/out-trade-no/{paid}/close", {"mchid": box.keys.mchid})
    assert refused_close.status_code == 400 and code(refused_close) == "ORDERPAID"


# -- 退款 ----------------------------------------------------------------------------------------

def test_refund_of_an_unpaid_order_is_resource_not_exists(pay):
    no = new_no()
    pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, no))
    r = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(no, new_no("R")))
    assert r.status_code == 404 and code(r) == "RESOURCE_NOT_EXISTS"


def test_refund_reason_is_counted_in_utf8_bytes(pay):
    # 申请退款 reason string(80): 26 Chinese characters (78 bytes) pass, 27 (81 bytes) do not.
    trade = paid_order(pay)
    r = pay.call("POST", "/v3/refund/domestic/refunds", {**refund_body(trade, new_no("R")), "reason": "退" * 27})
    assert r.status_code == 400 and code(r) == "PARAM_ERROR", r.text
    ok = pay.call("POST", "/v3/refund/domestic/refunds", {**refund_body(trade, new_no("R")), "reason": "退" * 26})
    assert ok.status_code == 200, ok.text


def test_prepay_description_of_127_bytes_passes(pay):
    r = pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(pay.box, new_no(), description="商" * 42 + "x"))
    assert r.status_code == 200, r.text


def test_refund_number_reused_with_other_parameters_is_invalid_request(pay):
    trade = paid_order(pay)
    rno = new_no("R")
    first = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100))
    same = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100))
    other = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 200))
    assert first.status_code == same.status_code == 200 and first.json()["refund_id"] == same.json()["refund_id"]
    assert first.json()["status"] == "PROCESSING"
    assert other.status_code == 400 and code(other) == "INVALID_REQUEST"
    too_much = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, new_no("R"), 901))
    assert too_much.status_code == 400 and code(too_much) == "INVALID_REQUEST"


def test_not_enough_429_500_and_the_spacing_rule_leave_one_refund(pay):
    box = pay.box
    trade = paid_order(pay)
    rno = new_no("R")
    box.set_balance(50)
    r = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100))
    assert r.status_code == 403 and code(r) == "NOT_ENOUGH" and rno not in box.refunds
    box.set_balance(None)
    box.frequency_limit_next("/v3/refund/")
    r = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100))
    assert r.status_code == 429 and code(r) == "FREQUENCY_LIMITED" and rno not in box.refunds
    box.system_error_next("/v3/refund/", processed=True)
    r = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100))
    assert r.status_code == 500 and code(r) == "SYSTEM_ERROR" and rno in box.refunds  # it was made
    assert pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno, 100)).status_code == 200
    box.refund_spacing()
    second = new_no("R")
    r = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, second, 100))
    assert r.status_code == 429 and code(r) == "FREQUENCY_LIMITED" and second not in box.refunds
    box.advance(61)
    assert pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, second, 100)).status_code == 200
    assert [r["amount"]["refund"] for r in box.refunds.values() if r["out_trade_no"] == trade] == [100, 100]


def test_abnormal_refund_goes_processing_then_success_with_notifications(pay):
    box = pay.box
    trade = paid_order(pay)
    rno = new_no("R")
    refund_id = pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, rno)).json()["refund_id"]
    box.finish_refund(rno, "ABNORMAL", wait=True)
    assert box.outbox[-1]["event_type"] == "REFUND.ABNORMAL"
    assert box.outbox[-1]["resource"]["refund_status"] == "ABNORMAL"
    path = f"/v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund"
    bad = pay.call("POST", path, {"out_refund_no": rno, "type": "USER_BANK_CARD", "bank_type": "ICBC_DEBIT",
                                  "bank_account": "6222", "real_name": "张三"})
    assert bad.status_code == 400  # not encrypted
    r = pay.call("POST", path, {"out_refund_no": rno, "type": "MERCHANT_BANK_CARD"})
    assert r.status_code == 200 and r.json()["status"] == "PROCESSING"
    resource = box.finish_refund(rno, "SUCCESS")
    assert box.outbox[-1]["event_type"] == "REFUND.SUCCESS"
    assert {"mchid", "out_trade_no", "transaction_id", "out_refund_no", "refund_id", "refund_status",
            "success_time", "user_received_account", "amount"} <= set(resource)
    again = pay.call("POST", path, {"out_refund_no": rno, "type": "MERCHANT_BANK_CARD"})
    assert again.status_code == 400


# -- 商家转账 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("over", [
    {"out_bill_no": "bill-with-dash"}, {"out_bill_no": "B" * 33}, {"notify_url": NOTIFY + "?x=1"},
    {"transfer_scene_report_infos": [{"info_type": "岗位类型", "info_content": "x"}]},
])
def test_transfer_field_rules(pay, over):
    r = pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", transfer_body(pay.box, new_no("B"), **over))
    assert r.status_code == 400 and code(r) == "PARAM_ERROR", r.text


def test_transfer_amount_limits_and_user_name(pay):
    box = pay.box
    r = pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", transfer_body(box, new_no("B"), 9))
    assert r.status_code == 400
    assert pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills",
                    transfer_body(box, new_no("B"), 10)).status_code == 200
    r = pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", transfer_body(box, new_no("B"), 200000))
    assert r.status_code == 400 and code(r) == "PARAM_ERROR"
    plain = transfer_body(box, new_no("B"), 200000, user_name="张三")
    assert pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", plain).status_code == 400
    encrypted = transfer_body(box, new_no("B"), 200000, user_name=pay.encrypt("张三"))
    assert pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", encrypted).status_code == 400  # no serial
    pay.serial_header = box.keys.public_key_id
    assert pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills", encrypted).status_code == 200
    assert pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills",
                    transfer_body(box, new_no("B"), 199999)).status_code == 200


def test_transfer_confirm_expire_cancel_and_reuse(pay):
    box = pay.box
    path = "/v3/fund-app/mch-transfer/transfer-bills"
    a, b, c = new_no("B"), new_no("B"), new_no("B")
    first = pay.call("POST", path, transfer_body(box, a))
    assert first.json()["state"] == "WAIT_USER_CONFIRM" and first.json()["package_info"]
    again = pay.call("POST", path, transfer_body(box, a))
    assert again.json()["transfer_bill_no"] == first.json()["transfer_bill_no"]
    other = pay.call("POST", path, transfer_body(box, a, 200))
    assert other.status_code == 400
    box.confirm_transfer(a)
    assert box.outbox[-1]["event_type"] == "MCHTRANSFER.BILL.FINISHED"
    assert box.outbox[-1]["resource"]["state"] == "SUCCESS"
    assert pay.call("GET", f"{path}/out-bill-no/{a}").json()["state"] == "SUCCESS"
    assert pay.call("POST", path, transfer_body(box, a)).json()["state"] == "SUCCESS"  # final: never again
    pay.call("POST", path, transfer_body(box, b))
    assert b in box.advance(24 * 3600, wait=True)
    # 24 h unconfirmed: WeChat closes the bill as FAIL (CANCELLED is the merchant's 撤销 only)
    assert box.transfers[b]["state"] == "FAIL" and box.outbox[-1]["resource"]["out_bill_no"] == b
    assert box.outbox[-1]["resource"]["state"] == "FAIL"
    pay.call("POST", path, transfer_body(box, c))
    cancel = pay.call("POST", f"{path}/out-bill-no/{c}/cancel")
    assert cancel.json()["state"] == "CANCELING"
    assert pay.call("GET", f"{path}/out-bill-no/{c}").json()["state"] == "CANCELLED"
    assert pay.call("POST", f"{path}/out-bill-no/{a}/cancel").status_code == 400


def test_transfer_not_enough_and_lost_answer(pay):
    box = pay.box
    path = "/v3/fund-app/mch-transfer/transfer-bills"
    no = new_no("B")
    box.set_balance(50)
    r = pay.call("POST", path, transfer_body(box, no, 100))
    assert r.status_code == 403 and code(r) == "NOT_ENOUGH" and no not in box.transfers
    box.set_balance(None)
    box.lose_answer_next(path)
    with pytest.raises(requests.RequestException):
        pay.call("POST", path, transfer_body(box, no, 100))
    assert no in box.transfers  # processed; the answer was lost
    box.lose_answer_next(path, stall_s=1.5)
    with pytest.raises(requests.Timeout):
        pay.call("POST", path, transfer_body(box, no, 100), timeout=0.5)
    box.bad_signature_next(path)
    r = pay.call("POST", path, transfer_body(box, no, 100))
    assert r.status_code == 200 and pay.signer_of(r) is None
    assert pay.signer_of(pay.call("POST", path, transfer_body(box, no, 100))) == "public_key"
    assert sum(1 for t in box.transfers if t == no) == 1


def test_confirmation_free_authorization(pay):
    box = pay.box
    auth_no, first, second = new_no("A"), new_no("B"), new_no("B")
    body = transfer_body(box, first, authorization_info={
        "user_display_name": "guide", "out_authorization_no": auth_no, "authorization_notify_url": NOTIFY})
    pre = "/v3/fund-app/mch-transfer/transfer-bills/pre-transfer-with-authorization"
    # Wechatpay-Serial 必填 on 发起转账并完成免确认收款授权, and it must name a key WeChat has
    for serial in (None, "not-a-serial"):
        pay.serial_header = serial
        r = pay.call("POST", pre, body)
        assert r.status_code == 400 and code(r) == "PARAM_ERROR" and first not in box.transfers, r.text
    pay.serial_header = box.keys.certificates[-1].serial  # certificate mode names its platform certificate
    r = pay.call("POST", pre, body)
    assert r.status_code == 200 and r.json()["package_info"] and r.json()["out_authorization_no"] == auth_no
    pay.serial_header = box.keys.public_key_id
    box.confirm_transfer(first)
    assert [o["event_type"] for o in box.outbox if o["resource"].get("out_authorization_no") == auth_no] == [
        "MCHTRANSFER.AUTHORIZATION.CONFIRMED"]
    view = pay.call("GET", f"/v3/fund-app/mch-transfer/user-confirm-authorization/out-authorization-no/{auth_no}")
    assert view.json()["state"] == "TAKING_EFFECT"
    r = pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills/transfer",
                 transfer_body(box, second, authorization_id=view.json()["authorization_id"]))
    assert r.status_code == 200 and r.json()["state"] == "SUCCESS" and "package_info" not in r.json()
    closed = pay.call("POST", f"/v3/fund-app/mch-transfer/user-confirm-authorization/out-authorization-no/"
                              f"{auth_no}/close")
    assert closed.json()["state"] == "CLOSED"
    assert box.outbox[-1]["event_type"] == "MCHTRANSFER.AUTHORIZATION.CLOSED"
    r = pay.call("POST", "/v3/fund-app/mch-transfer/transfer-bills/transfer",
                 transfer_body(box, new_no("B"), authorization_id=view.json()["authorization_id"]))
    assert r.status_code == 403


# -- 签名 -----------------------------------------------------------------------------------------

def test_migration_signs_answers_by_certificate_unless_the_public_key_is_named(pay):
    box = pay.box
    box.migration()
    assert pay.signer_of(pay.call("GET", "/v3/certificates")) == "certificate"
    pay.serial_header = box.keys.public_key_id
    assert pay.signer_of(pay.call("GET", "/v3/certificates")) == "public_key"
    box.mixed_callbacks()
    kinds = {signer_of(box, *box.build_notification("TRANSACTION.SUCCESS", {"a": i})) for i in range(4)}
    assert kinds == {"certificate", "public_key"}


def test_unsigned_requests_are_refused(pay):
    r = requests.get(pay.box.base_url + "/v3/certificates", timeout=5)
    assert r.status_code == 401 and code(r) == "SIGN_ERROR"


# -- 交易账单 --------------------------------------------------------------------------------------

def test_trade_bill(pay):
    box = pay.box
    empty = pay.call("GET", "/v3/bill/tradebill?bill_date=2001-01-01&bill_type=ALL")
    assert empty.status_code == 400 and code(empty) == "NO_STATEMENT_EXIST"
    box.comma_product_names()
    trade = paid_order(pay)
    coupon_trade = new_no()
    pay.call("POST", "/v3/pay/transactions/jsapi", prepay_body(box, coupon_trade))
    box.pay(coupon_trade, notify=False, coupon_fen=200)
    pay.call("POST", "/v3/refund/domestic/refunds", refund_body(trade, new_no("R"), 300))
    day = box.orders[trade]["success_time"][:10]
    # 申请交易账单 and its FAQ: made from 09:00 on the next day (Beijing), to be asked from 10:00.
    not_made = pay.call("GET", f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL")
    assert not_made.status_code == 400 and code(not_made) == "NO_STATEMENT_EXIST"
    next_day = datetime.fromisoformat(day + "T00:00:00" + BJ) + timedelta(days=1)
    try:
        box.advance((next_day + timedelta(hours=9, minutes=30)).timestamp() - box.now(), notify=False)
        creating = pay.call("GET", f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL")
        assert creating.status_code == 400 and code(creating) == "STATEMENT_CREATING"
        box.advance(31 * 60, notify=False)
        answer = pay.call("GET", f"/v3/bill/tradebill?bill_date={day}&bill_type=ALL").json()
        file = pay.call("GET", answer["download_url"].replace(box.base_url, ""))
    finally:
        box.reset_clock()
    assert file.headers["Content-Type"] == "text/plain"
    assert hashlib.sha1(file.content).hexdigest() == answer["hash_value"]
    text = file.content.decode("utf-8")
    lines = text.split("\r\n")
    header = lines[0].split(",")
    assert {"应结订单金额", "订单金额", "退款金额", "申请退款金额", "商品名称"} <= set(header)
    row = next(ln for ln in lines if f"`{coupon_trade}" in ln and "`SUCCESS" in ln)
    assert "`8.00" in row and "`10.00" in row and "`2.00" in row  # 应结 8.00, 订单 10.00, 代金券 2.00
    assert "`商品,赠品," in row  # a raw comma inside a field, unquoted
    assert any("`REFUND" in ln and "`3.00" in ln for ln in lines)
