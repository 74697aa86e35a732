"""After-sales of one order racing on DynamoDB Local: threads held at a barrier after
their read of the order, so each decides from a snapshot the others make stale. Two
after-sales refunded at once never refund more than was paid; two asked at once for the
same line leave one open."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ADDRESS, body, create_product, login, post
from tests.integration.test_refund_race import HeldAfterRead

pytestmark = pytest.mark.integration


def shipped_order_of_two_lines(client, admin_headers, sandbox):
    """A shipped order of two SKUs at 1000 fen each, paid 2000."""
    a = create_product(client, admin_headers, price=1000, stock=5)["skus"][0]["id"]
    b = create_product(client, admin_headers, price=1000, stock=5)["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", {"items": [{"sku_id": a, "quantity": 1}, {"sku_id": b, "quantity": 1}],
                                          "address": ADDRESS}, shopper))
    sandbox.pay(order["id"], notify=False)
    from functions import wiring

    wiring.orders().mark_paid(order["id"], sandbox.transaction(order["id"]))
    r = post(client, f"/admin/orders/{order['id']}/ship", {"logistics_type": "pickup"}, admin_headers)
    assert r.status_code == 200, r.body
    return order, a, b, shopper


def ask(client, shopper, order_id, sku_id, amount):
    r = post(client, f"/orders/{order_id}/after-sales", {
        "kind": "refund_only", "items": [{"sku_id": sku_id, "quantity": 1}], "reason_code": "NOT_RECEIVED",
        "amount": amount}, shopper)
    assert r.status_code == 201, r.body
    return body(r)


def service_reading_through(held):
    from functions import wiring
    from layers.services.after_sales import AfterSaleService
    from layers.services.refunds import RefundService

    refunds = RefundService(**{**vars(wiring.refunds()), "orders": held})
    return AfterSaleService(**{**vars(wiring.after_sales()), "refunds": refunds})


def test_two_after_sales_approved_at_once_never_refund_more_than_was_paid(client, admin_headers, shop):
    from functions import schemas, wiring
    from layers.domain import errors

    order, a, b, shopper = shipped_order_of_two_lines(client, admin_headers, shop["sandbox"])
    first = ask(client, shopper, order["id"], a, 800)
    second = ask(client, shopper, order["id"], b, 800)
    # the merchant refunds 1000 meanwhile: 1000 left, room for one of the two
    wiring.refunds().refund_by_merchant(order["id"], schemas.RefundInput(amount=1000, reason="协商退款"), "m1")
    racing = service_reading_through(HeldAfterRead(wiring.order_repository(), order["id"], parties=2))

    def approve(after_sale):
        try:
            return racing.approve(after_sale["id"])["status"]
        except errors.AmountTooLarge:
            return "REFUSED"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(approve, [first, second]))
    assert outcomes == ["REFUNDING", "REFUSED"]

    current = wiring.order_repository().get(order["id"], consistent=True)
    assert current.refunded_amount + current.refunding_amount == 1800 <= current.paid
    assert current.refund_room == 200
    held = {k: v["amount"] for k, v in (current.line_refunds or {}).items() if v["units"]}
    assert len(held) == 1 and all(v <= 1000 for v in held.values())
    statuses = sorted(str(wiring.after_sale_repository().get(order["id"], x["id"]).status) for x in (first, second))
    assert statuses == ["REFUNDING", "REQUESTED"]
    refunds = wiring.refund_repository().for_order(order["id"])
    assert sorted(r.amount for r in refunds) == [800, 1000]


def test_the_same_line_asked_at_once_is_one_open_after_sale(client, admin_headers, shop):
    from functions import wiring
    from layers.domain import errors

    order, a, _, shopper = shipped_order_of_two_lines(client, admin_headers, shop["sandbox"])
    user_id = shopper["X-User-Id"]
    barrier = threading.Barrier(4, timeout=10)
    from functions.schemas import AfterSaleInput

    body_ = AfterSaleInput.model_validate({"kind": "return_refund", "items": [{"sku_id": a, "quantity": 1}],
                                          "reason_code": "DAMAGED"})

    def asking(_):
        barrier.wait()
        try:
            return wiring.after_sales().request(user_id, order["id"], body_, None)["status"]
        except errors.AfterSaleOpen:
            return "BUSY"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(asking, range(4)))
    assert outcomes == ["BUSY", "BUSY", "BUSY", "REQUESTED"]
    assert [x.status for x in wiring.after_sale_repository().for_order(order["id"])] == ["REQUESTED"]
    assert wiring.after_sale_repository().open_count(user_id) == 1
