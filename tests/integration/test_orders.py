"""Order placement and life, against DynamoDB Local and the WeChat sandbox."""

from __future__ import annotations

import base64
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.helpers import ADDRESS, body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def sku_stock(sku_id: str) -> int:
    from layers.storage.catalog import get_skus

    return int(get_skus([sku_id])[sku_id].stock)


def new_shopper() -> str:
    from layers import clock
    from layers.storage.users import upsert_user

    return upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id


def stored_order(order_id: str):
    from functions import wiring

    return wiring.order_repository().get(order_id, consistent=True)


def orders():
    from functions import wiring

    return wiring.orders()


def place(user_id: str, sku_id: str, quantity: int = 1, key: str | None = None):
    from functions import schemas

    return orders().place_order(user_id, schemas.PlaceOrderInput.model_validate(
        order_payload(sku_id, quantity)), key)


def test_fifty_buyers_ten_units_sell_exactly_ten(client, admin_headers):
    from layers.domain.errors import SoldOut

    product = create_product(client, admin_headers, price=990, stock=10)
    sku_id = product["skus"][0]["id"]
    users = [new_shopper() for _ in range(50)]

    def attempt(user_id):
        from layers.storage.tx import TransactionConflicted

        while True:  # as a client would: "busy" means try again, "sold out" means stop
            try:
                return place(user_id, sku_id)["id"]
            except SoldOut:
                return None
            except TransactionConflicted:
                continue

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, users))

    sold = [r for r in results if r]
    assert len(sold) == 10
    assert len(set(sold)) == 10
    assert sku_stock(sku_id) == 0


def test_order_is_priced_by_the_server_and_carries_payment_arguments(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=1234, stock=5)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    payload = order_payload(sku_id, 2)
    payload["items"][0]["unit_price"] = 1  # a client price is not even accepted
    r = post(client, "/orders", payload, shopper)
    assert r.status_code == 400
    assert body(r)["error"]["code"] == "INVALID_REQUEST"

    r = post(client, "/orders", order_payload(sku_id, 2), shopper)
    assert r.status_code == 201, r.body
    order = body(r)
    assert order["status"] == "PENDING_PAYMENT"
    assert order["amounts"] == {"goods": 2468, "discount": 0, "shipping": 0, "payable": 2468}
    assert order["items"][0]["unit_price"] == 1234
    pay = order["payment"]
    assert set(pay) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert pay["signType"] == "RSA" and pay["package"].startswith("prepay_id=")

    # paySign verifies with the public half of the merchant key (as WeChat checks it).
    key = load_pem_private_key(os.environ["WECHATPAY_MERCHANT_PRIVATE_KEY"].encode(), None)
    message = f"{os.environ['WECHAT_APPID']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n"
    key.public_key().verify(base64.b64decode(pay["paySign"]), message.encode(),
                            padding.PKCS1v15(), hashes.SHA256())

    # The prepay request reached WeChat Pay signed, with our amount and expiry.
    prepay = sandbox.orders[order["id"]]
    assert prepay["amount"]["total"] == 2468
    assert prepay["notify_url"].endswith("/wechatpay/notify")
    assert prepay["time_expire"].endswith("+08:00")
    assert sku_stock(sku_id) == 3


def test_idempotency_key_replays_and_refuses_a_different_body(client, admin_headers):
    product = create_product(client, admin_headers, price=500, stock=5)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = post(client, "/orders", order_payload(sku_id, 1), {**shopper, **key})
    again = post(client, "/orders", order_payload(sku_id, 1), {**shopper, **key})
    assert first.status_code == 201 and again.status_code == 201
    assert body(first)["id"] == body(again)["id"]
    assert sku_stock(sku_id) == 4  # taken once

    other = post(client, "/orders", order_payload(sku_id, 2), {**shopper, **key})
    assert other.status_code == 422
    assert body(other)["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert sku_stock(sku_id) == 4

    # The same key from another shopper is another order.
    someone = login(client)
    theirs = post(client, "/orders", order_payload(sku_id, 1), {**someone, **key})
    assert theirs.status_code == 201 and body(theirs)["id"] != body(first)["id"]


def test_cancel_releases_stock_once_and_it_sells_again(client, admin_headers):
    product = create_product(client, admin_headers, price=800, stock=1)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(sku_id), shopper))
    assert sku_stock(sku_id) == 0
    sold_out = post(client, "/orders", order_payload(sku_id), login(client))
    assert sold_out.status_code == 409 and body(sold_out)["error"]["code"] == "SOLD_OUT"

    r = post(client, f"/orders/{order['id']}/cancel", {}, shopper)
    assert r.status_code == 200, r.body
    assert body(r)["status"] == "CLOSED"
    assert sku_stock(sku_id) == 1
    again = post(client, f"/orders/{order['id']}/cancel", {}, shopper)
    assert again.status_code == 409 and body(again)["error"]["code"] == "INVALID_STATE"
    assert sku_stock(sku_id) == 1

    r = post(client, "/orders", order_payload(sku_id), login(client))
    assert r.status_code == 201
    assert sku_stock(sku_id) == 0


def test_closing_concurrently_releases_once(client, admin_headers):

    product = create_product(client, admin_headers, price=800, stock=3)
    sku_id = product["skus"][0]["id"]
    order = place(new_shopper(), sku_id, 2)
    assert sku_stock(sku_id) == 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: orders().close_unpaid(order["id"], reason="EXPIRED"), range(8)))
    assert all(r.status == "CLOSED" for r in results)
    assert sku_stock(sku_id) == 3


def test_expired_orders_close_and_their_stock_sells_again(client, admin_headers, monkeypatch):
    from datetime import timedelta

    from layers import clock

    product = create_product(client, admin_headers, price=700, stock=1)
    sku_id = product["skus"][0]["id"]
    order = place(new_shopper(), sku_id)
    assert sku_stock(sku_id) == 0
    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    result = orders().close_expired()
    assert result["closed"] >= 1
    assert stored_order(order["id"]).status == "CLOSED"
    assert stored_order(order["id"]).close_reason == "EXPIRED"
    assert sku_stock(sku_id) == 1
    monkeypatch.undo()
    assert place(new_shopper(), sku_id)["status"] == "PENDING_PAYMENT"


def test_an_order_wechat_reports_paid_is_not_closed(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=600, stock=2)
    sku_id = product["skus"][0]["id"]
    order = place(new_shopper(), sku_id)
    # The shopper pays, but the notification never reaches us.
    sandbox.pay(order["id"], notify=False)
    result = orders().close_unpaid(order["id"], reason="EXPIRED")
    assert result.status == "PAID"
    assert stored_order(order["id"]).transaction_id
    assert sku_stock(sku_id) == 1  # still sold


def test_failed_prepay_leaves_no_stock_held(client, admin_headers, shop, monkeypatch):
    from functions import wiring
    from layers.config import reset_settings_cache
    from local.services import free_port

    product = create_product(client, admin_headers, price=900, stock=2)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    monkeypatch.setenv("WECHATPAY_API_BASE", f"http://127.0.0.1:{free_port()}")  # nothing listens
    reset_settings_cache()
    wiring.reset()
    try:
        r = post(client, "/orders", order_payload(sku_id), shopper)
    finally:
        monkeypatch.undo()
        reset_settings_cache()
        wiring.reset()
    assert r.status_code == 503
    assert body(r)["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert sku_stock(sku_id) == 2
    listed = body(client.http.get("/orders", headers=shopper))
    assert listed["items"] == []


def test_shoppers_see_only_their_own_orders(client, admin_headers):
    product = create_product(client, admin_headers, price=300, stock=5)
    sku_id = product["skus"][0]["id"]
    alice, bob = login(client), login(client)
    order = body(post(client, "/orders", order_payload(sku_id), alice))
    assert client.http.get(f"/orders/{order['id']}", headers=alice).status_code == 200
    theirs = client.http.get(f"/orders/{order['id']}", headers=bob)
    assert theirs.status_code == 404 and body(theirs)["error"]["code"] == "NOT_FOUND"
    assert post(client, f"/orders/{order['id']}/cancel", {}, bob).status_code == 404
    assert body(client.http.get("/orders", headers=bob))["items"] == []
    mine = body(client.http.get("/orders?status=PENDING_PAYMENT", headers=alice))
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    assert body(client.http.get("/orders?status=PAID", headers=alice))["items"] == []
    assert client.http.get("/orders?status=NOPE", headers=alice).status_code == 400
    assert client.http.get("/orders", headers={}).status_code == 401


def test_ship_and_receipt_and_automatic_receipt(client, admin_headers, shop, monkeypatch):
    from datetime import timedelta

    from layers import clock
    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=400, stock=5)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(sku_id), shopper))
    early = post(client, f"/admin/orders/{order['id']}/ship", {"logistics_type": "pickup"}, admin_headers)
    assert early.status_code == 409
    sandbox.pay(order["id"], notify=False)
    orders().close_unpaid(order["id"], reason="EXPIRED")  # finds it paid
    assert post(client, f"/orders/{order['id']}/receipt", {}, shopper).status_code == 409
    shipped = post(client, f"/admin/orders/{order['id']}/ship", {"logistics_type": "pickup"}, admin_headers)
    assert shipped.status_code == 200 and body(shipped)["status"] == "SHIPPED"
    done = post(client, f"/orders/{order['id']}/receipt", {}, shopper)
    assert done.status_code == 200 and body(done)["status"] == "COMPLETED"

    second = body(post(client, "/orders", order_payload(sku_id), shopper))
    sandbox.pay(second["id"], notify=False)
    orders().close_unpaid(second["id"], reason="EXPIRED")
    post(client, f"/admin/orders/{second['id']}/ship", {"logistics_type": "pickup"}, admin_headers)
    later = clock.now() + timedelta(days=30)
    monkeypatch.setattr(clock, "now", lambda: later)
    orders().auto_confirm_receipts()
    assert stored_order(second["id"]).status == "COMPLETED"


def test_bad_input_is_a_clear_400_and_changes_nothing(client, admin_headers):
    product = create_product(client, admin_headers, price=100, stock=3)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    cases = [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"items": [], "address": ADDRESS}),
        json.dumps({"items": [{"sku_id": sku_id, "quantity": 0}], "address": ADDRESS}),
        json.dumps({"items": [{"sku_id": sku_id, "quantity": 1.5}], "address": ADDRESS}),
        json.dumps({"items": [{"sku_id": sku_id, "quantity": 1}]}),
    ]
    for raw in cases:
        r = client.http.post("/orders", body=raw, headers={**shopper, "Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.body)
        assert body(r)["error"]["code"] == "INVALID_REQUEST"
    missing = post(client, "/orders", order_payload("s_nope"), shopper)
    assert missing.status_code == 404
    too_many = post(client, "/orders", order_payload(sku_id, 4), shopper)
    assert too_many.status_code == 409
    assert sku_stock(sku_id) == 3
    bad_key = post(client, "/orders", order_payload(sku_id), {**shopper, "Idempotency-Key": "x" * 65})
    assert bad_key.status_code == 400
    assert sku_stock(sku_id) == 3


def test_an_order_keeps_the_channel_and_scene_it_came_through(client, admin_headers, shop):
    from functions import wiring
    from layers.domain import analytics

    sku_id = create_product(client, admin_headers, price=100, stock=5)["skus"][0]["id"]
    shopper = login(client)
    for bad in ({"channel": "a b"}, {"channel": "x" * 33}, {"channel": ""}, {"scene": 12}, {"scene": "1001"},
                {"channel": 7}):
        r = post(client, "/orders", order_payload(sku_id, **bad), shopper)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", bad
    assert sku_stock(sku_id) == 5
    r = post(client, "/orders", order_payload(sku_id, channel="sms-1212", scene=1065), shopper)
    assert r.status_code == 201, r.body
    placed = body(r)
    assert (placed["channel"], placed["scene"]) == ("sms-1212", 1065)
    got = body(client.http.get(f"/orders/{placed['id']}", headers=shopper))
    assert (got["channel"], got["scene"]) == ("sms-1212", 1065)
    stored = wiring.order_repository().get(placed["id"], consistent=True)
    paid = stored.__class__(**{**stored.__dict__, "status": "PAID", "paid_at": stored.created_at,
                               "paid_amount": stored.amounts["payable"]})
    fact = analytics.sale_fact("e1", paid)
    assert fact.channel == "sms-1212"
    assert analytics.Fact.from_message(fact.to_message()).channel == "sms-1212"
    plain = body(post(client, "/orders", order_payload(sku_id), shopper))
    assert "channel" not in plain and "scene" not in plain
