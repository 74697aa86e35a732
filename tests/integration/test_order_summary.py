"""GET /me/orders/summary against DynamoDB Local and the WeChat sandbox: an order driven
through every transition over HTTP with the summary checked after each, the campaigns'
and the balance's placements, many writes of one shopper at once ending equal to a
recount, and the backfill job counting orders stored before the counts."""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import ADDRESS, body, create_product, login, order_payload, post
from tests.integration.test_payments import deliver, paid_resource

pytestmark = pytest.mark.integration

ZERO = {"PENDING_PAYMENT": 0, "PAID": 0, "SHIPPED": 0, "after_sales": 0}


def summary(client, shopper) -> dict:
    r = client.http.get("/me/orders/summary", headers=shopper)
    assert r.status_code == 200, r.body
    return body(r)


def expect(client, shopper, **counts) -> None:
    assert summary(client, shopper) == {**ZERO, **counts}


def place(client, shopper, sku_id, **extra) -> dict:
    r = post(client, "/orders", order_payload(sku_id, **extra), shopper)
    assert r.status_code == 201, r.body
    return body(r)


def pay(client, sandbox, order_id) -> None:
    """WeChat's verified notification of the shopper's payment."""
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order_id))
    assert deliver(client, headers, raw).status_code in (200, 204)


def refund_notified(client, sandbox, refund_id, status="SUCCESS") -> None:
    headers, raw = sandbox.build_notification(f"REFUND.{status}", sandbox.refund_resource(refund_id, status))
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)


def ship(client, admin_headers, order_id) -> None:
    r = post(client, f"/admin/orders/{order_id}/ship", {"logistics_type": "pickup"}, admin_headers)
    assert r.status_code == 200 and body(r)["status"] == "SHIPPED", r.body


def status_of(order_id) -> str:
    from functions import wiring

    return wiring.order_repository().get(order_id, consistent=True).status


def later(monkeypatch, days: float) -> None:
    from layers import clock

    moved = clock.now() + timedelta(days=days)
    monkeypatch.setattr(clock, "now", lambda: moved)


def test_the_summary_follows_an_order_through_every_transition(client, admin_headers, shop, monkeypatch):
    from functions import wiring

    sandbox = shop["sandbox"]
    sku_id = create_product(client, admin_headers, price=1000, stock=20)["skus"][0]["id"]
    shopper, someone = login(client), login(client)
    expect(client, shopper)
    assert client.http.get("/me/orders/summary").status_code == 401

    # placed, paid (the notification), shipped, a refund asked and rejected, received
    order = place(client, shopper, sku_id)
    expect(client, shopper, PENDING_PAYMENT=1)
    pay(client, sandbox, order["id"])
    expect(client, shopper, PAID=1)
    ship(client, admin_headers, order["id"])
    expect(client, shopper, SHIPPED=1)
    refund = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 300, "reason": "破损"}, shopper))
    assert refund["status"] == "REQUESTED" and status_of(order["id"]) == "REFUNDING"
    expect(client, shopper, after_sales=1)
    rejected = post(client, f"/admin/refunds/{refund['id']}/reject", {}, admin_headers)
    assert rejected.status_code == 200, rejected.body
    expect(client, shopper, SHIPPED=1)  # back where it was before the refund
    assert post(client, f"/orders/{order['id']}/receipt", {}, shopper).status_code == 200
    expect(client, shopper)

    # cancelled by the shopper; closed on expiry by the sweep
    cancelled = place(client, shopper, sku_id)
    assert post(client, f"/orders/{cancelled['id']}/cancel", {}, shopper).status_code == 200
    expect(client, shopper)
    expiring = place(client, shopper, sku_id)
    with monkeypatch.context() as m:
        later(m, 1)
        wiring.orders().close_expired()
    assert status_of(expiring["id"]) == "CLOSED"
    expect(client, shopper)
    theirs = place(client, someone, sku_id)  # another shopper's, from here on

    # paid, refunded in full before shipping (automatic): in after-sales, then refunded
    refunded = place(client, shopper, sku_id)
    pay(client, sandbox, refunded["id"])
    refund = body(post(client, f"/orders/{refunded['id']}/refunds", {"reason": "不想要了"}, shopper))
    assert refund["status"] == "PROCESSING"
    expect(client, shopper, after_sales=1)
    refund_notified(client, sandbox, refund["id"])
    assert status_of(refunded["id"]) == "REFUNDED"
    expect(client, shopper)

    # a partial refund, approved by an operator, that WeChat closes: back to SHIPPED;
    # then received automatically
    auto = place(client, shopper, sku_id)
    pay(client, sandbox, auto["id"])
    ship(client, admin_headers, auto["id"])
    refund = body(post(client, f"/orders/{auto['id']}/refunds", {"amount": 100, "reason": "少了"}, shopper))
    assert post(client, f"/admin/refunds/{refund['id']}/approve", {}, admin_headers).status_code == 200
    expect(client, shopper, after_sales=1)
    refund_notified(client, sandbox, refund["id"], "CLOSED")
    expect(client, shopper, SHIPPED=1)
    with monkeypatch.context() as m:
        later(m, 30)
        wiring.orders().auto_confirm_receipts()
    assert status_of(auto["id"]) == "COMPLETED"
    expect(client, shopper)

    # paid in the instant it closed: reinstated
    late = place(client, shopper, sku_id)
    wiring.orders().close_unpaid(late["id"], reason="EXPIRED", ask_wechat=False)
    expect(client, shopper)
    pay(client, sandbox, late["id"])
    assert status_of(late["id"]) == "PAID"
    expect(client, shopper, PAID=1)

    # paid after it closed and its unit sold meanwhile: refunded at once, then refunded
    last_unit = create_product(client, admin_headers, price=800, stock=1)["skus"][0]["id"]
    gone = place(client, shopper, last_unit)
    wiring.orders().close_unpaid(gone["id"], reason="EXPIRED", ask_wechat=False)
    place(client, login(client), last_unit)
    pay(client, sandbox, gone["id"])
    assert status_of(gone["id"]) == "REFUNDING"
    expect(client, shopper, PAID=1, after_sales=1)
    [refund] = wiring.refund_repository().for_order(gone["id"])
    refund_notified(client, sandbox, refund.refund_id)
    assert status_of(gone["id"]) == "REFUNDED"
    expect(client, shopper, PAID=1)

    # WeChat Pay cannot be reached: the order is deleted at once, and counted nowhere
    from layers.config import reset_settings_cache
    from local.services import free_port

    with monkeypatch.context() as m:
        m.setenv("WECHATPAY_API_BASE", f"http://127.0.0.1:{free_port()}")  # nothing listens
        reset_settings_cache()
        wiring.reset()
        assert post(client, "/orders", order_payload(sku_id), shopper).status_code == 503
    reset_settings_cache()
    wiring.reset()
    expect(client, shopper, PAID=1)

    # another shopper's orders were never in these counts, nor these in theirs
    assert status_of(theirs["id"]) == "PENDING_PAYMENT"
    expect(client, someone, PENDING_PAYMENT=1)


def test_every_way_of_placing_an_order_counts_it(client, admin_headers, shop):
    from tests.integration.test_campaigns import succeeded_instance
    from tests.integration.test_flash_sales import new_sale
    from tests.integration.test_group_buys import new_activity
    from tests.integration.test_members import topped_up

    sandbox = shop["sandbox"]
    _, instance, shopper = succeeded_instance(client, admin_headers, stock=2)
    topped_up(client, admin_headers, sandbox, pay=50_000, shopper=shopper)
    expect(client, shopper)

    r = post(client, f"/bargain-instances/{instance['id']}/orders", {"address": ADDRESS}, shopper)
    assert r.status_code == 201, r.body
    expect(client, shopper, PENDING_PAYMENT=1)
    sale = new_sale(client, admin_headers, stock=5, shards=1)
    r = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS}, shopper)
    assert r.status_code == 201, r.body
    flash = body(r)
    expect(client, shopper, PENDING_PAYMENT=2)
    activity = new_activity(client, admin_headers)
    r = post(client, f"/group-buys/{activity['id']}/groups", {"address": ADDRESS}, shopper)
    assert r.status_code == 201, r.body
    expect(client, shopper, PENDING_PAYMENT=3)
    sku_id = create_product(client, admin_headers, price=2000, stock=5)["skus"][0]["id"]
    balance = place(client, shopper, sku_id, pay_with="balance")
    assert balance["status"] == "PAID" and balance["payment"] is None
    expect(client, shopper, PENDING_PAYMENT=3, PAID=1)
    pay(client, sandbox, flash["id"])
    expect(client, shopper, PENDING_PAYMENT=2, PAID=2)
    # a balance order's refund goes back to the balance at once: REFUNDED
    r = post(client, f"/orders/{balance['id']}/refunds", {"reason": "不想要了"}, shopper)
    assert r.status_code == 201 and body(r)["status"] == "SUCCESS", r.body
    expect(client, shopper, PENDING_PAYMENT=2, PAID=1)


def recount(order_ids) -> dict:
    from functions import wiring
    from layers.domain.order_counts import COUNTED, summary

    statuses = [wiring.order_repository().get(i, consistent=True).status for i in order_ids]
    return summary({s: statuses.count(s) for s in COUNTED})


def test_many_writes_of_one_shopper_at_once_end_equal_to_a_recount(client, admin_headers, shop):
    """One shopper's orders placed, closed, paid and shipped from many threads at once:
    every write moves the same counter item, each conflict is retried, and at the end
    the counts (and the unpaid cap's own count) equal a recount of the orders."""
    from functions import wiring
    from layers.domain import errors
    from layers.domain.order import PENDING
    from layers.services.orders import OrderService
    from layers.storage.orders import DynamoOrderRepository, OrderCountsItem, counts_key

    sandbox = shop["sandbox"]
    base = wiring.orders()
    # without the per-minute write limit, and with room for this many unpaid orders
    service = OrderService(**{**{name: getattr(base, name) for name in inspect.signature(OrderService).parameters},
                              "orders": DynamoOrderRepository(unpaid_cap=1000), "rate_limiter": None})
    sku_id = create_product(client, admin_headers, price=500, stock=200)["skus"][0]["id"]
    shopper = login(client)
    user_id = shopper["X-User-Id"]

    def busy(call):
        for _ in range(30):
            try:
                return call()
            except errors.RateLimited:  # a transaction conflict that outlasted its retries
                continue
        raise AssertionError("still busy")

    def new_order(_):
        from functions import schemas

        return busy(lambda: service.place_order(user_id, schemas.PlaceOrderInput.model_validate(
            order_payload(sku_id)), None))["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(new_order, range(24)))
    assert summary(client, shopper) == recount(ids) == {**ZERO, "PENDING_PAYMENT": 24}
    for order_id in ids[1::3] + ids[2::3]:
        sandbox.pay(order_id, notify=False)  # paid at WeChat; recorded below, all at once

    def move(n_and_id):
        n, order_id = n_and_id
        if n % 3 == 0:
            busy(lambda: service.close_unpaid(order_id, reason="CANCELLED", ask_wechat=False))
        else:
            busy(lambda: service.mark_paid(order_id, sandbox.transaction(order_id)))
            if n % 3 == 2:
                busy(lambda: service.ship(order_id))
        return order_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        more = pool.map(new_order, range(6))
        list(pool.map(move, enumerate(ids)))
        ids += list(more)
    assert summary(client, shopper) == recount(ids) == {**ZERO, "PENDING_PAYMENT": 6, "PAID": 8, "SHIPPED": 8}
    pending = sum(1 for i in ids if wiring.order_repository().get(i, consistent=True).status == PENDING)
    assert int(OrderCountsItem.get(*counts_key(user_id), consistent_read=True).n) == pending


def test_the_backfill_job_counts_the_orders_stored_before_the_counts(client, admin_headers, shop):
    from functions import wiring
    from layers.storage.orders import OrderCountsItem, OrderItem, counts_key, order_key

    sandbox = shop["sandbox"]
    sku_id = create_product(client, admin_headers, price=700, stock=20)["skus"][0]["id"]
    shopper, someone = login(client), login(client)
    ids = [place(client, shopper, sku_id)["id"] for _ in range(6)]
    for order_id in ids[1:]:
        pay(client, sandbox, order_id)
    for order_id in ids[3:]:
        ship(client, admin_headers, order_id)
    assert post(client, f"/orders/{ids[4]}/receipt", {}, shopper).status_code == 200
    assert post(client, f"/orders/{ids[5]}/refunds", {"amount": 100, "reason": "破损"}, shopper).status_code == 201
    theirs = place(client, someone, sku_id)["id"]
    pay(client, sandbox, theirs)
    expected = {**ZERO, "PENDING_PAYMENT": 1, "PAID": 2, "SHIPPED": 1, "after_sales": 1}
    expect(client, shopper, **{k: v for k, v in expected.items() if v})

    # as they were before the counts existed: no `counted`, no counters
    for order_id in [*ids, theirs]:
        OrderItem(*order_key(order_id)).update(actions=[OrderItem.counted.remove()])
    for user in (shopper, someone):
        OrderCountsItem(*counts_key(user["X-User-Id"])).delete()
    expect(client, shopper)
    expect(client, someone)

    r = post(client, "/admin/jobs/backfill-order-counts/run", None, admin_headers)
    assert r.status_code == 200, r.body
    result = body(r)["result"]
    assert result["done"] is True and result["counted"] >= 6, result  # these six (not the COMPLETED one)
    assert summary(client, shopper) == expected
    expect(client, someone, PAID=1)
    again = body(post(client, "/admin/jobs/backfill-order-counts/run", None, admin_headers))["result"]
    assert again["done"] is True and again["counted"] == 0  # a new pass: nothing left to count
    assert summary(client, shopper) == expected

    # the counted orders move on as every order does
    ship(client, admin_headers, ids[1])
    assert post(client, f"/orders/{ids[3]}/receipt", {}, shopper).status_code == 200
    expect(client, shopper, PENDING_PAYMENT=1, PAID=1, SHIPPED=1, after_sales=1)
    assert wiring.order_repository().get(ids[4], consistent=True).counted is False  # COMPLETED: nothing to count
