"""Refunds of order lines over HTTP, on DynamoDB Local: `items` or `amount` (both is 400 in
the contract's error format), what the units paid, 422 beyond what a line has left, and
the order answering each line's refunded quantity."""

from __future__ import annotations

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def test_refunding_units_of_a_line_over_http(client, admin_headers, shop):
    from functions import wiring

    product = create_product(client, admin_headers, price=1250, stock=3)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(sku_id, 3), shopper))
    shop["sandbox"].pay(order["id"], notify=False)
    wiring.orders().mark_paid(order["id"], shop["sandbox"].transaction(order["id"]))
    path = f"/orders/{order['id']}/refunds"

    both = post(client, path, {"amount": 100, "items": [{"sku_id": sku_id, "quantity": 1}], "reason": "都填"},
                shopper)
    assert both.status_code == 400 and body(both)["error"]["code"] == "INVALID_REQUEST"
    assert "exclusive" in body(both)["error"]["message"]

    too_many = post(client, path, {"items": [{"sku_id": sku_id, "quantity": 4}], "reason": "太多"}, shopper)
    assert too_many.status_code == 422 and body(too_many)["error"]["code"] == "NOT_ACCEPTABLE"
    assert body(too_many)["error"]["message"] == f"SKU {sku_id}: 4 units asked, only 3 left to refund"

    created = post(client, path, {"items": [{"sku_id": sku_id, "quantity": 2}], "reason": "退两件"},
                   {**shopper, "Idempotency-Key": "two-units"})
    assert created.status_code == 201, created.body
    refund = body(created)
    assert refund["amount"] == 2500 and refund["items"] == [{"sku_id": sku_id, "quantity": 2, "amount": 2500}]
    again = post(client, path, {"items": [{"sku_id": sku_id, "quantity": 2}], "reason": "退两件"},
                 {**shopper, "Idempotency-Key": "two-units"})
    assert body(again)["id"] == refund["id"]

    seen = body(client.http.get(f"/orders/{order['id']}", headers=shopper))
    assert seen["items"][0]["refunded_quantity"] == 2
    left = post(client, path, {"items": [{"sku_id": sku_id, "quantity": 2}], "reason": "再退两件"}, shopper)
    assert left.status_code == 422
    assert body(left)["error"]["message"] == f"SKU {sku_id}: 2 units asked, only 1 left to refund"
    assert wiring.order_repository().get(order["id"], consistent=True).line_refunds == {
        "0": {"units": 2, "amount": 2500}}
