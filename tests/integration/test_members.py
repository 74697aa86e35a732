"""Members against DynamoDB Local and the WeChat sandbox: stored value paid,
topped up and refunded exactly; points held, earned, released and removed once; every
book equal to its entries."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import bills_ready, body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def deliver(client, headers: dict, raw: str, path="/wechatpay/notify"):
    return client.http.post(path, body=raw, headers={"Content-Type": "application/json", **headers})


def wiring():
    from functions import wiring as module

    return module


def book(user_id: str, name: str = "balance"):
    return wiring().member_repository().get_book(user_id, name)


def ledger(user_id: str, name: str = "balance") -> dict:
    entries = wiring().member_repository().entries_for(user_id, name, "")
    parts = ("principal", "bonus") if name == "balance" else ("available", "frozen")
    return {p: sum(getattr(m, p) for m in entries) for p in parts}


def assert_books_equal_ledgers(user_id: str) -> None:
    b, p = book(user_id), book(user_id, "points")
    assert ledger(user_id) == {"principal": b.principal, "bonus": b.bonus}
    assert ledger(user_id, "points") == {"available": p.available, "frozen": p.frozen}
    assert min(b.principal, b.bonus, p.frozen) >= 0


def topped_up(client, admin_headers, sandbox, pay=10000, bonus=0, deliveries=1, shopper=None):
    plan = body(post(client, "/admin/top-up-plans", {"pay": pay, "bonus": bonus}, admin_headers))
    shopper = shopper or login(client)
    r = post(client, "/top-ups", {"plan_id": plan["id"]}, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.body
    top_up = body(r)
    assert top_up["status"] == "PENDING_PAYMENT" and top_up["payment"]["package"].startswith("prepay_id=")
    sandbox.pay(top_up["id"], notify=False)
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", sandbox.transaction(top_up["id"]))
    for _ in range(deliveries):
        assert deliver(client, headers, raw).status_code in (200, 204)
    return top_up, shopper


def place(user_id: str, sku_id: str, **extra) -> dict:
    from functions import schemas

    return wiring().orders().place_order(user_id, schemas.PlaceOrderInput.model_validate(
        order_payload(sku_id, **extra)), None)


def test_a_top_up_notification_delivered_ten_times_credits_once(client, admin_headers, shop):
    top_up, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=1000, deliveries=10)
    user = shopper["X-User-Id"]
    b = book(user)
    assert (b.principal, b.bonus) == (10000, 1000)
    assert_books_equal_ledgers(user)
    view = body(client.http.get("/me/membership", headers=shopper))
    assert view["balance"] == {"principal": 10000, "bonus": 1000}
    entries = body(client.http.get("/me/balance/entries", headers=shopper))["items"]
    assert [(e["kind"], e["amount"], e["top_up_id"]) for e in entries] == [("top_up", 11000, top_up["id"])]
    # its shipping information goes to WeChat as virtual goods (upload)
    upload = wiring().shipping_upload_repository().get(top_up["id"])
    assert upload.logistics_type == "virtual" and upload.openid
    assert wiring().shipping().upload(top_up["id"]) in ("UPLOADED", "NOT_REQUIRED")


def test_fifty_concurrent_balance_orders_one_paid(client, admin_headers, shop):
    from layers.domain.errors import DomainError

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000)
    user = shopper["X-User-Id"]
    sku_id = create_product(client, admin_headers, price=6000, stock=100)["skus"][0]["id"]

    def attempt(_):
        from layers.storage.tx import TransactionConflicted

        while True:
            try:
                return place(user, sku_id, pay_with="balance")
            except TransactionConflicted:
                continue
            except DomainError as exc:
                return exc.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    paid = [r for r in results if isinstance(r, dict)]
    assert len(paid) == 1 and paid[0]["status"] == "PAID" and paid[0]["pay_with"] == "balance"
    assert paid[0]["payment"] is None
    assert set(r for r in results if not isinstance(r, dict)) <= {"INSUFFICIENT_BALANCE", "RATE_LIMITED"}
    assert book(user).principal == 4000
    assert_books_equal_ledgers(user)
    from layers.storage.catalog import get_skus

    assert int(get_skus([sku_id])[sku_id].stock) == 99  # the refused ones hold nothing


def test_a_balance_order_over_http_is_paid_and_short_is_409(client, admin_headers, shop):
    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=5000)
    sku_id = create_product(client, admin_headers, price=3000, stock=5)["skus"][0]["id"]
    first = post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper)
    assert first.status_code == 201 and body(first)["status"] == "PAID" and body(first)["payment"] is None
    second = post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper)
    assert second.status_code == 409 and body(second)["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert book(shopper["X-User-Id"]).principal == 2000


def test_a_partial_refund_of_a_balance_order_returns_principal_and_bonus_in_proportion(client, admin_headers, shop):
    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=1000)
    user = shopper["X-User-Id"]
    sku_id = create_product(client, admin_headers, price=6000, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper))
    assert (book(user).principal, book(user).bonus) == (4546, 454)  # took 5454 + 546
    r = post(client, f"/orders/{order['id']}/refunds", {"amount": 3000, "reason": "少了一件"}, shopper)
    assert r.status_code == 201 and body(r)["status"] == "SUCCESS", r.body
    # 3000 of 6000: bonus floor(546 * 3000 / 6000) = 273, principal 2727
    assert (book(user).principal, book(user).bonus) == (4546 + 2727, 454 + 273)
    assert_books_equal_ledgers(user)
    assert shop["sandbox"].refunds == {} or all(r["out_trade_no"] != order["id"]
                                                for r in shop["sandbox"].refunds.values())


def test_a_top_up_refunded_after_partial_spending_refunds_exactly_the_unspent_principal(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    top_up, shopper = topped_up(client, admin_headers, sandbox, pay=10000, bonus=1000)
    user = shopper["X-User-Id"]
    sku_id = create_product(client, admin_headers, price=5500, stock=5)["skus"][0]["id"]
    post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper)  # 5000 principal + 500 bonus
    r = post(client, f"/admin/top-ups/{top_up['id']}/refund", {}, admin_headers)
    assert r.status_code == 201, r.body
    refund = body(r)
    assert refund["amount"] == 5000 and refund["bonus_forfeited"] == 500
    assert sandbox.refunds[refund["id"]]["amount"] == {"refund": 5000, "total": 10000}
    assert (book(user).principal, book(user).bonus) == (0, 0)  # debited before WeChat was asked
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund["id"], "SUCCESS"))
    with sandbox._lock:
        sandbox.refunds[refund["id"]]["status"] = "SUCCESS"
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    assert wiring().top_up_repository().get(top_up["id"]).status == "REFUNDED"
    again = post(client, f"/admin/top-ups/{top_up['id']}/refund", {}, admin_headers)
    assert body(again)["status"] == "SUCCESS"
    assert len([x for x in sandbox.refunds.values() if x["out_trade_no"] == top_up["id"]]) == 1
    assert_books_equal_ledgers(user)


def test_an_order_closed_with_points_held_returns_them_once(client, admin_headers, shop):
    from layers.domain.members import POINTS, Movement
    from layers.storage.tx import Tx

    shopper = login(client)
    user = shopper["X-User-Id"]
    tx = Tx()
    wiring().member_repository().stage_move(tx, Movement(user, POINTS, "test#grant", "grant", "2026-11-29T00:00:00Z",
                                                         available=1000), None, None)
    tx.commit()
    sku_id = create_product(client, admin_headers, price=2000, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, points=800), shopper))
    assert order["amounts"]["points_discount"] == 800 and order["amounts"]["payable"] == 1200
    assert book(user, POINTS).available == 200
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda reason: wiring().orders().close_unpaid(order["id"], reason=reason),
                      ["CANCELLED", "EXPIRED", "EXPIRED", "CANCELLED"]))
    assert book(user, POINTS).available == 1000
    assert_books_equal_ledgers(user)


def test_points_earned_frozen_released_at_completion_removed_on_refund(client, admin_headers, shop):
    from layers.domain.members import POINTS

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=20000)
    user = shopper["X-User-Id"]
    sku_id = create_product(client, admin_headers, price=10000, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper))
    members = wiring().members()
    paid = {"order_id": order["id"], "user_id": user, "payable": 10000}
    members.on_order_paid(f"order.paid:{order['id']}", paid)
    members.on_order_paid(f"order.paid:{order['id']}", paid)  # delivered twice: earned once
    p = book(user, POINTS)
    assert (p.available, p.frozen, p.growth) == (0, 100, 10000)
    wiring().orders().ship(order["id"])
    wiring().orders().confirm_receipt(user, order["id"])
    done = {"order_id": order["id"], "user_id": user}
    members.on_order_completed(f"order.completed:{order['id']}", done)
    members.on_order_completed(f"order.completed:{order['id']}", done)
    p = book(user, POINTS)
    assert (p.available, p.frozen) == (100, 0)
    r = post(client, f"/orders/{order['id']}/refunds", {"amount": 2500, "reason": "坏了"}, shopper)
    refund = body(r)
    wiring().refunds().approve(refund["id"])
    refunded = {"order_id": order["id"], "user_id": user, "refund_id": refund["id"], "amount": 2500,
                "refunded_total": 2500, "order_payable": 10000}
    members.on_order_refunded(f"order.refunded:{refund['id']}", refunded)
    members.on_order_refunded(f"order.refunded:{refund['id']}", refunded)
    p = book(user, POINTS)
    assert (p.available, p.frozen, p.growth) == (75, 0, 7500)
    assert book(user).principal == 20000 - 10000 + 2500
    assert_books_equal_ledgers(user)


def test_a_top_up_paid_at_wechat_without_its_notification_is_repaired_by_reconciliation(client, admin_headers, shop):
    from layers import clock
    from layers.domain.reconcile import BEIJING

    sandbox = shop["sandbox"]
    plan = body(post(client, "/admin/top-up-plans", {"pay": 3000, "bonus": 300}, admin_headers))
    shopper = login(client)
    top_up = body(post(client, "/top-ups", {"plan_id": plan["id"]}, shopper))
    sandbox.pay(top_up["id"], notify=False)  # paid; the notification never came
    today = clock.now().astimezone(BEIJING).date()
    with bills_ready(sandbox, today):
        summary = wiring().reconciliation().reconcile(today)
        assert top_up["id"] in summary["repaired"]
        b = book(shopper["X-User-Id"])
        assert (b.principal, b.bonus) == (3000, 300)
        again = wiring().reconciliation().reconcile(today)  # now in our ledger: no difference about it
    assert top_up["id"] not in again["repaired"]
    report = body(client.http.get(f"/admin/reconciliations/{today.isoformat()}", headers=admin_headers))
    assert not [d for d in report["differences"] if d["ref"] == top_up["id"]]


def test_a_flash_sale_order_paid_from_the_balance(client, admin_headers, shop):
    from datetime import timedelta

    from layers import clock
    from tests.helpers import ADDRESS

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=1000)
    product = create_product(client, admin_headers, price=19900, stock=5)
    now = clock.now()
    sale = body(post(client, "/admin/flash-sales", {
        "sku_id": product["skus"][0]["id"], "price": 990, "stock": 3, "starts_at": clock.iso(now - timedelta(seconds=5)),
        "ends_at": clock.iso(now + timedelta(hours=1)), "per_user_limit": 2}, admin_headers))
    r = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS, "pay_with": "balance"},
             shopper)
    assert r.status_code == 201, r.body
    order = body(r)
    assert order["status"] == "PAID" and order["pay_with"] == "balance" and order["flash_sale_id"] == sale["id"]
    short = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS,
                                                               "pay_with": "balance"}, shopper)
    assert short.status_code == 409 and body(short)["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert book(shopper["X-User-Id"]).principal == 10
    assert body(client.http.get(f"/flash-sales/{sale['id']}"))["remaining"] == 2


def test_a_top_up_refund_wechat_answers_abnormal_waits_for_an_operator_and_never_blocks_the_sweep(
        client, admin_headers, shop):
    """ABNORMAL (the payer's card is gone) is an anomaly with an alarm: the debit stays, the
    sweep no longer reports it finished (nor asks again), and an operator sends it to a bank
    card through WeChat's abnormal-refund API, as an order refund."""
    sandbox = shop["sandbox"]
    top_up, shopper = topped_up(client, admin_headers, sandbox, pay=3000)
    user = shopper["X-User-Id"]
    refund = body(post(client, f"/admin/top-ups/{top_up['id']}/refund", {}, admin_headers))
    resource = sandbox.finish_refund(refund["id"], "ABNORMAL", notify=False)
    headers, raw = sandbox.build_notification("REFUND.ABNORMAL", resource)
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    stored = wiring().top_up_repository().get(top_up["id"])
    assert stored.status == "REFUND_ABNORMAL"
    from layers.storage.anomalies import for_order

    assert "REFUND_ABNORMAL" in [a.kind for a in for_order(top_up["id"])]
    for _ in range(2):
        swept = wiring().top_ups().sweep()
        assert swept["finished"] == 0
    assert top_up["id"] not in [t.top_up_id for t in wiring().top_up_repository().refunding(limit=1000)]
    assert book(user).principal == 0  # the debit stays: nothing is paid twice
    r = post(client, f"/admin/top-ups/{top_up['id']}/abnormal-refund", {"type": "MERCHANT_BANK_CARD"}, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["status"] == "PROCESSING"
    assert sandbox.refunds[refund["id"]]["status"] == "PROCESSING"
    sandbox.finish_refund(refund["id"], "SUCCESS", notify=False)
    wiring().top_ups().sweep()
    assert wiring().top_up_repository().get(top_up["id"]).status == "REFUNDED"
    assert_books_equal_ledgers(user)
