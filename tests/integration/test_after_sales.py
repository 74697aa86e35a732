"""After-sales over HTTP against DynamoDB Local and the WeChat Pay sandbox: refund only,
return and refund (restocked), exchange, cancel, the window closed, the two timers run
as jobs, bad input, another shopper's after-sale, and the goodwill coupon."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, post, put
from tests.integration.test_order_summary import later, pay, place, refund_notified, ship, summary

pytestmark = pytest.mark.integration

RETURN_ADDRESS = {"name": "退货仓", "phone": "021-55550000", "detail": "上海市浦东新区张江路 1 号"}


@pytest.fixture
def settings(client, admin_headers):
    r = put(client, "/admin/settings", {"return_address": RETURN_ADDRESS, "after_sales_auto_approve_s": 172800},
            admin_headers)
    assert r.status_code == 200, r.body
    return body(r)


def delivered(client, admin_headers, shop, shopper, quantity=2, price=1000, receive=True):
    sku_id = create_product(client, admin_headers, price=price, stock=20)["skus"][0]["id"]
    order = place(client, shopper, sku_id, quantity=quantity) if quantity != 1 else place(client, shopper, sku_id)
    pay(client, shop["sandbox"], order["id"])
    ship(client, admin_headers, order["id"])
    if receive:
        r = post(client, f"/orders/{order['id']}/receipt", {}, shopper)
        assert r.status_code == 200, r.body
    return order, sku_id


def ask(client, shopper, order_id, sku_id, kind="return_refund", quantity=1, reason="DAMAGED", key=None, **extra):
    headers = {**shopper, **({"Idempotency-Key": key} if key else {})}
    return post(client, f"/orders/{order_id}/after-sales", {
        "kind": kind, "items": [{"sku_id": sku_id, "quantity": quantity}], "reason_code": reason, **extra}, headers)


def admin(client, admin_headers, after_sale_id, action, payload=None):
    r = post(client, f"/admin/after-sales/{after_sale_id}/{action}", payload or {}, admin_headers)
    assert r.status_code == 200, r.body
    return body(r)


def stock_of(sku_id) -> int:
    from functions import wiring

    return wiring.catalog_repository().get_skus([sku_id])[sku_id].stock


def test_reasons_are_listed_with_their_kinds(client):
    r = client.http.get("/after-sales/reasons")
    assert r.status_code == 200
    reasons = {i["code"]: i for i in body(r)["items"]}
    assert reasons["DAMAGED"]["text"] == "商品破损" and "exchange" in reasons["DAMAGED"]["kinds"]
    assert reasons["NO_LONGER_WANTED"]["kinds"] == ["return_refund"]


def test_refund_only(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    r = ask(client, shopper, order["id"], sku_id, kind="refund_only", reason="NOT_RECEIVED", amount=800,
            description="没收到", key="k-" + uuid.uuid4().hex)
    assert r.status_code == 201, r.body
    a = body(r)
    assert (a["status"], a["amount"], a["kind"]) == ("REQUESTED", 800, "refund_only")
    assert summary(client, shopper)["after_sales"] == 1
    approved = admin(client, admin_headers, a["id"], "approve", {"note": "同意退款"})
    assert approved["status"] == "REFUNDING"
    assert summary(client, shopper)["after_sales"] == 1  # its order's REFUNDING: counted once
    refund_notified(client, shop["sandbox"], approved["refund_id"])
    done = body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))
    assert done["status"] == "REFUNDED"
    assert summary(client, shopper)["after_sales"] == 0
    shown = body(client.http.get(f"/orders/{order['id']}", headers=shopper))
    assert shown["status"] == "COMPLETED"
    assert [h["status"] for h in done["history"]] == ["REQUESTED", "REFUNDING", "REFUNDED"]
    listed = body(client.http.get("/me/after-sales", headers=shopper))
    assert [i["id"] for i in listed["items"]] == [a["id"]]


def test_return_and_refund_with_restock(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    a = body(ask(client, shopper, order["id"], sku_id, quantity=2))
    assert a["amount"] == 2000
    waiting = admin(client, admin_headers, a["id"], "approve")
    assert waiting["status"] == "AWAITING_RETURN" and waiting["return_address"] == RETURN_ADDRESS
    r = post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF1234"}, shopper)
    assert r.status_code == 200 and body(r)["status"] == "RETURNING", r.body
    detail = body(client.http.get(f"/admin/after-sales/{a['id']}", headers=admin_headers))
    assert detail["order"]["id"] == order["id"] and detail["lines"][0]["units"] == 2
    assert detail["return_shipping"] == {"express_company": "SF", "tracking_no": "SF1234"}
    before = stock_of(sku_id)
    received = admin(client, admin_headers, a["id"], "receive", {"restock": True})
    assert received["status"] == "REFUNDING" and received["restocked"]
    assert stock_of(sku_id) == before + 2
    refund_notified(client, shop["sandbox"], received["refund_id"])
    assert body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))["status"] == "REFUNDED"
    assert body(client.http.get(f"/orders/{order['id']}", headers=shopper))["status"] == "REFUNDED"
    # received again: the same answer, no second restock
    assert admin(client, admin_headers, a["id"], "receive", {"restock": True})["status"] == "REFUNDED"
    assert stock_of(sku_id) == before + 2


def test_exchange(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    a = body(ask(client, shopper, order["id"], sku_id, kind="exchange", reason="WRONG_SIZE"))
    assert a["amount"] == 0
    admin(client, admin_headers, a["id"], "approve")
    post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF9"}, shopper)
    received = admin(client, admin_headers, a["id"], "receive", {"restock": False})
    assert received["status"] == "RETURNING" and received["received_at"]
    done = admin(client, admin_headers, a["id"], "ship",
                 {"logistics_type": "express", "express_company": "SF", "tracking_no": "SF10"})
    assert done["status"] == "EXCHANGED" and done["replacement_shipping"]["tracking_no"] == "SF10"
    assert body(client.http.get(f"/orders/{order['id']}", headers=shopper))["status"] == "COMPLETED"


def test_cancel_frees_the_line_and_one_open_after_sale_per_line(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    a = body(ask(client, shopper, order["id"], sku_id))
    again = ask(client, shopper, order["id"], sku_id)
    assert again.status_code == 409 and body(again)["error"]["code"] == "AFTER_SALE_OPEN"
    r = post(client, f"/after-sales/{a['id']}/cancel", {}, shopper)
    assert r.status_code == 200 and body(r)["status"] == "CANCELLED"
    assert post(client, f"/after-sales/{a['id']}/cancel", {}, shopper).status_code == 200
    assert ask(client, shopper, order["id"], sku_id).status_code == 201


def test_the_window_closed_and_other_refusals(client, admin_headers, shop, settings, monkeypatch):
    shopper, someone = login(client), login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    too_much = ask(client, shopper, order["id"], sku_id, amount=1001)
    assert too_much.status_code == 422 and body(too_much)["error"]["code"] == "AMOUNT_TOO_LARGE"
    bad = ask(client, shopper, order["id"], sku_id, kind="swap")
    assert bad.status_code == 400 and body(bad)["error"]["code"] == "INVALID_REQUEST"
    assert ask(client, shopper, order["id"], sku_id, amount="12").status_code == 400
    assert ask(client, someone, order["id"], sku_id).status_code == 404
    a = body(ask(client, shopper, order["id"], sku_id))
    assert client.http.get(f"/after-sales/{a['id']}", headers=someone).status_code == 404
    assert post(client, f"/after-sales/{a['id']}/cancel", {}, someone).status_code == 404
    assert client.http.get(f"/after-sales/{a['id']}").status_code == 401
    assert post(client, f"/admin/after-sales/{a['id']}/approve", {}, shopper).status_code in (401, 403)
    assert post(client, f"/admin/after-sales/{a['id']}/receive", {"restock": "yes"}, admin_headers).status_code == 400
    assert body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))["status"] == "REQUESTED"
    later(monkeypatch, 8)
    closed = ask(client, shopper, order["id"], sku_id, kind="refund_only", reason="DAMAGED")
    assert closed.status_code == 422 and body(closed)["error"]["code"] == "AFTER_SALES_CLOSED"
    other_line = delivered(client, admin_headers, shop, shopper)
    late = ask(client, shopper, other_line[0]["id"], other_line[1])
    assert late.status_code == 201  # just received: within its window
    later(monkeypatch, 16)
    closed = ask(client, shopper, other_line[0]["id"], other_line[1], kind="refund_only", reason="NOT_RECEIVED",
                 quantity=1)
    assert closed.status_code == 422 and body(closed)["error"]["code"] == "AFTER_SALES_CLOSED"


def test_the_idempotency_key(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    key = "k-" + uuid.uuid4().hex
    first = ask(client, shopper, order["id"], sku_id, key=key)
    again = ask(client, shopper, order["id"], sku_id, key=key)
    assert first.status_code == 201 and again.status_code == 201 and body(again)["id"] == body(first)["id"]
    reused = ask(client, shopper, order["id"], sku_id, key=key, quantity=2)
    assert reused.status_code == 422 and body(reused)["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_auto_approval_and_the_return_window_as_jobs(client, admin_headers, shop, settings, monkeypatch):
    from layers import clock

    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper, quantity=2)
    a = body(ask(client, shopper, order["id"], sku_id))
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(days=2, seconds=1))
    r = post(client, "/admin/jobs/approve-after-sales/run", {}, admin_headers)
    assert r.status_code == 200 and body(r)["result"]["after_sales_approved"] >= 1, r.body
    waiting = body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))
    assert waiting["status"] == "AWAITING_RETURN" and waiting["history"][-1]["by"] == "system"
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(days=9, seconds=2))
    r = post(client, "/admin/jobs/close-unreturned-after-sales/run", {}, admin_headers)
    assert r.status_code == 200 and body(r)["result"]["after_sales_closed"] >= 1, r.body
    assert body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))["status"] == "CLOSED"
    r = post(client, "/admin/jobs/close-unreturned-after-sales/run", {}, admin_headers)
    assert body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))["status"] == "CLOSED"
    listed = body(client.http.get("/admin/after-sales?status=CLOSED&kind=return_refund&limit=100",
                                  headers=admin_headers))
    assert a["id"] in [i["id"] for i in listed["items"]] or listed["next_cursor"]


def test_reject_with_a_reason(client, admin_headers, shop, settings):
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper, receive=False)
    a = body(ask(client, shopper, order["id"], sku_id))
    assert admin(client, admin_headers, a["id"], "reject", {"reason": "照片看不出破损"})["status"] == "REJECTED"
    shown = body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))
    assert shown["reject_reason"] == "照片看不出破损"
    r = post(client, f"/admin/after-sales/{a['id']}/approve", {}, admin_headers)
    assert r.status_code == 409


def test_a_goodwill_coupon_is_given_once_per_request_key(client, admin_headers):
    shopper = login(client)
    user_id = shopper["X-User-Id"]
    from tests.integration.test_coupons import template

    template_id = template(client, admin_headers, name="售后补偿券", value=500, threshold=0, total=1)["id"]
    key = {"Idempotency-Key": "g-" + uuid.uuid4().hex}
    given = post(client, f"/admin/users/{user_id}/coupons", {"template_id": template_id, "reason": "破损补偿"},
                 {**admin_headers, **key})
    assert given.status_code == 201, given.body
    again = post(client, f"/admin/users/{user_id}/coupons", {"template_id": template_id, "reason": "破损补偿"},
                 {**admin_headers, **key})
    assert again.status_code == 201 and body(again)["id"] == body(given)["id"]
    other = post(client, f"/admin/users/{user_id}/coupons", {"template_id": template_id, "reason": "再补一张"},
                 {**admin_headers, "Idempotency-Key": "g-" + uuid.uuid4().hex})
    assert other.status_code == 409  # the template's total and per-shopper limit hold
    mine = body(client.http.get("/me/coupons", headers=shopper))["items"]
    assert [c["id"] for c in mine] == [body(given)["id"]]
    assert post(client, f"/admin/users/{user_id}/coupons", {"template_id": template_id, "reason": "x"},
                admin_headers).status_code == 400  # no key
    assert post(client, "/admin/users/nobody/coupons", {"template_id": template_id, "reason": "x"},
                {**admin_headers, **key}).status_code == 404


def test_the_settings_refuse_a_bad_return_address_and_the_audit_keeps_none(client, admin_headers, settings):
    from functions import wiring

    for bad in ({"return_address": {"name": "仓", "phone": "x", "detail": "1 号"}},
                {"return_address": {"name": "仓"}}, {"after_sales_window_s": 91 * 86400},
                {"after_sales_auto_approve_s": -1}):
        r = put(client, "/admin/settings", bad, admin_headers)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", (bad, r.body)
    assert wiring.shop_settings().get()["return_address"] == RETURN_ADDRESS
    moved = {"name": "新退货仓", "phone": "021-55550001", "detail": "张江路 2 号"}
    assert put(client, "/admin/settings", {"return_address": moved}, admin_headers).status_code == 200
    lines = [e for e in wiring.operators().audit_log() if e["action"] == "settings.update"]
    assert "退货地址: 已修改" in [e["detail"] for e in lines]
    assert not any("021-55550001" in (e["detail"] or "") for e in lines)


def test_a_balance_paid_orders_after_sale_goes_back_to_the_balance(client, admin_headers, shop, settings):
    from tests.helpers import order_payload
    from tests.integration.test_members import assert_books_equal_ledgers, book, topped_up

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=1000)
    user = shopper["X-User-Id"]
    sku_id = create_product(client, admin_headers, price=3000, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, 2, pay_with="balance"), shopper))
    ship(client, admin_headers, order["id"])
    before = book(user)
    a = body(ask(client, shopper, order["id"], sku_id, kind="refund_only", reason="NOT_RECEIVED", amount=2000))
    done = admin(client, admin_headers, a["id"], "approve")
    assert done["status"] == "REFUNDED"  # no WeChat: the balance takes it at once
    after = book(user)
    assert (after.principal - before.principal) + (after.bonus - before.bonus) == 2000
    assert_books_equal_ledgers(user)
    assert all(r["out_trade_no"] != order["id"] for r in shop["sandbox"].refunds.values())


def test_a_refund_wechat_closes_sends_the_after_sale_back_to_be_answered_again(client, admin_headers, shop, settings):
    from functions import wiring

    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    a = body(ask(client, shopper, order["id"], sku_id, kind="refund_only", reason="NOT_RECEIVED"))
    first = admin(client, admin_headers, a["id"], "approve")
    assert first["status"] == "REFUNDING"
    shop["sandbox"].refunds[first["refund_id"]]["status"] = "CLOSED"
    refund_notified(client, shop["sandbox"], first["refund_id"], "CLOSED")
    back = body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))
    assert back["status"] == "REQUESTED" and back["history"][-1]["note"] == "退款失败，可重新处理"
    assert summary(client, shopper)["after_sales"] == 1
    current = wiring.order_repository().get(order["id"], consistent=True)
    assert (current.refunding_amount, current.refund_room, current.status) == (0, current.paid, "COMPLETED")
    again = admin(client, admin_headers, a["id"], "approve")
    assert again["status"] == "REFUNDING" and again["refund_id"] != first["refund_id"]
    refund_notified(client, shop["sandbox"], again["refund_id"])
    assert body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))["status"] == "REFUNDED"
    assert summary(client, shopper)["after_sales"] == 0
