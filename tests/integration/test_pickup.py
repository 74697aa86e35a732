"""门店自提 through the app on DynamoDB Local and the WeChat sandbox: a pickup order placed
and paid through WeChat Pay's notification, its code shown only to its shopper, redeemed
once (two at once make one), its shipping information at the sandbox as 用户自提
(logistics_type 4), completion giving commissions and points as a receipt does, and the
reminder and the refund once its window ends uncollected."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, post, put
from tests.integration.test_distribution import new_distributor, new_template, share, uid
from tests.integration.test_guide_customers import _through_the_consumers
from tests.integration.test_payments import pay_through_notification
from tests.integration.test_stores import _operator, _somewhere, _store

pytestmark = pytest.mark.integration


def _pickup_order(client, shopper, sku_id, store_id, token=None) -> dict:
    payload = {"items": [{"sku_id": sku_id, "quantity": 1}], "delivery": {"kind": "pickup", "store_id": store_id}}
    if token:
        payload["share_token"] = token
    r = post(client, "/orders", payload, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.body
    return body(r)


def _console(client, name: str, password: str) -> dict:
    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in(name, password))
    return {"Cookie": f"console_session={cookie}", "Host": "127.0.0.1", "csrf": service.csrf_token(cookie)}


def _redeem_in_console(client, console, store_id, code):
    headers = {k: v for k, v in console.items() if k != "csrf"}
    return client.http.post(f"/console/stores/{store_id}/redemptions",
                            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
                            body=f"csrf={console['csrf']}&code={code}".encode())


def test_a_pickup_order_paid_shown_to_its_shopper_and_redeemed_once(client, admin_headers, shop):
    lat, lng = _somewhere()
    store = _store(client, admin_headers, "自提店", lat, lng)
    closed = _store(client, admin_headers, "不自提店", lat, lng + 0.01, pickup=False)
    other = _store(client, admin_headers, "别的店", lat, lng + 0.02)
    product = create_product(client, admin_headers, price=3000, stock=10)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)

    r = post(client, "/orders", {"items": [{"sku_id": sku_id, "quantity": 1}],
                                 "delivery": {"kind": "pickup", "store_id": closed["id"]}}, shopper)
    assert r.status_code == 422 and body(r)["error"]["code"] == "PICKUP_NOT_OFFERED"
    r = post(client, "/orders", {"items": [{"sku_id": sku_id, "quantity": 1}],
                                 "delivery": {"kind": "pickup", "store_id": "st_nowhere"}}, shopper)
    assert r.status_code == 404
    r = post(client, "/orders", {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": "a1",
                                 "delivery": {"kind": "pickup", "store_id": store["id"]}}, shopper)
    assert r.status_code == 400

    order = _pickup_order(client, shopper, sku_id, store["id"])
    assert order["address"] is None and order["amounts"]["shipping"] == 0
    pay_through_notification(client, shop["sandbox"], order["id"])
    mine = body(client.http.get(f"/orders/{order['id']}", headers=shopper))
    code = mine["pickup"]["code"]
    assert mine["status"] == "PAID" and len(code) == 12 and code.isdigit()
    assert mine["pickup"]["qrcode"].startswith("data:image/png;base64,")
    assert client.http.get(f"/orders/{order['id']}", headers=login(client)).status_code == 404
    from tests.integration.test_stores import _owner_session

    admin = client.http.get(f"/console/orders/{order['id']}", headers={"Cookie": f"console_session={_owner_session()}"})
    assert admin.status_code == 200 and "****" + code[-4:] in admin.body.decode() and code not in admin.body.decode()

    # a guide of another store may not redeem here; a shopper who is no staff neither
    guide = new_distributor(client, admin_headers)
    assert post(client, f"/admin/stores/{other['id']}/staff", {"user_id": uid(guide)}, admin_headers).status_code == 201
    assert post(client, f"/stores/{store['id']}/redemptions", {"code": code}, guide).status_code == 403
    assert post(client, f"/stores/{store['id']}/redemptions", {"code": code}, shopper).status_code == 403
    # a store's clerk of another store: neither that store's pages nor its redemptions
    clerk = _operator(client, admin_headers)
    assert post(client, f"/admin/stores/{other['id']}/staff", {"operator_id": clerk}, admin_headers).status_code == 201
    console = _console(client, clerk, "门店密码-123456")
    assert _redeem_in_console(client, console, store["id"], code).status_code == 404
    page = client.http.get(f"/console/stores/{store['id']}/pickup",
                           headers={k: v for k, v in console.items() if k != "csrf"})
    assert page.status_code == 404
    own = client.http.get(f"/console/stores/{other['id']}/pickup",
                          headers={k: v for k, v in console.items() if k != "csrf"})
    assert own.status_code == 200 and order["id"] not in own.body.decode()

    # ... nor may they redeem it at their own store: it is no order of theirs, and the
    # answer says nothing of it
    r = post(client, f"/stores/{other['id']}/redemptions", {"code": code}, guide)
    assert r.status_code == 404 and body(r)["error"]["code"] == "NOT_FOUND"
    assert _redeem_in_console(client, console, other["id"], code).status_code == 404
    assert body(client.http.get(f"/orders/{order['id']}", headers=shopper))["status"] == "PAID"

    # the order's own store's guide redeems it: once
    own = new_distributor(client, admin_headers)
    assert post(client, f"/admin/stores/{store['id']}/staff", {"user_id": uid(own)}, admin_headers).status_code == 201
    r = post(client, f"/stores/{store['id']}/redemptions", {"code": "0000 0000 0000"}, own)
    assert r.status_code == 404
    r = post(client, f"/stores/{store['id']}/redemptions", {"code": code}, own)
    assert r.status_code == 200, r.body
    done = body(r)
    assert done["status"] == "COMPLETED" and done["pickup"]["redeemed_store_id"] == store["id"]
    assert code not in r.body.decode()
    r = post(client, f"/stores/{store['id']}/redemptions", {"code": code}, own)
    assert r.status_code == 409 and body(r)["error"]["code"] == "ALREADY_REDEEMED"
    assert _redeem_in_console(client, console, other["id"], code).status_code == 404


def test_two_redemptions_at_once_make_one(client, admin_headers, shop):
    lat, lng = _somewhere()
    store = _store(client, admin_headers, "并发店", lat, lng)
    product = create_product(client, admin_headers, price=1200, stock=5)
    shopper = login(client)
    order = _pickup_order(client, shopper, product["skus"][0]["id"], store["id"])
    pay_through_notification(client, shop["sandbox"], order["id"])
    code = body(client.http.get(f"/orders/{order['id']}", headers=shopper))["pickup"]["code"]
    from functions import wiring

    service = wiring.pickup()
    results: list[str] = []
    barrier = threading.Barrier(6)

    def redeem(n: int) -> None:
        barrier.wait()
        try:
            service.redeem(store["id"], code, f"operator:clerk{n}")
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - the code of the refusal is what is counted
            results.append(getattr(exc, "code", repr(exc)))

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("ALREADY_REDEEMED") == 5, results
    stored = wiring.order_repository().get(order["id"], consistent=True)
    assert stored.status == "COMPLETED" and stored.version == 2  # paid, then completed once


def test_redemption_uploads_pickup_to_wechat_and_pays_commissions_and_points_as_a_receipt(
        client, admin_headers, shop):
    from functions import wiring

    lat, lng = _somewhere()
    store = _store(client, admin_headers, "佣金店", lat, lng)
    guide = new_distributor(client, admin_headers, new_template(client, admin_headers))
    assert post(client, f"/admin/stores/{store['id']}/staff", {"user_id": uid(guide)}, admin_headers).status_code == 201
    product = create_product(client, admin_headers, price=5000, stock=5)
    shopper = login(client)
    order = _pickup_order(client, shopper, product["skus"][0]["id"], store["id"], token=share(client, guide))
    pay_through_notification(client, shop["sandbox"], order["id"])
    _through_the_consumers(shop, {order["id"]})
    points_before = wiring.member_repository().get_book(uid(shopper), "points")
    code = body(client.http.get(f"/orders/{order['id']}", headers=shopper))["pickup"]["code"]
    assert post(client, f"/stores/{store['id']}/redemptions", {"code": code}, guide).status_code == 200
    _through_the_consumers(shop, {order["id"]})

    uploads = shop["sandbox"].mp.accepted_uploads(order["id"])
    assert [u["logistics_type"] for u in uploads] == [4]
    assert "tracking_no" not in uploads[0]["shipping_list"][0] and uploads[0]["shipping_list"][0]["item_desc"]
    points = wiring.member_repository().get_book(uid(shopper), "points")
    assert points_before.frozen > 0 and points.frozen == 0  # released on completion, as for a receipt
    assert points.available == points_before.available + points_before.frozen
    commission = wiring.distribution()._commission_of(order["id"])
    assert commission is not None and commission.completed_at is not None  # the freeze started, as for a receipt
    assert commission.settleable_at is not None


@pytest.fixture
def pickup_template(client, admin_headers):
    assert put(client, "/admin/settings", {"subscription_templates": {"pickup_expiring": "TPL_PICKUP"}},
               admin_headers).status_code == 200
    yield
    put(client, "/admin/settings", {"subscription_templates": {}}, admin_headers)


def test_uncollected_it_is_reminded_then_refunded_in_full(client, admin_headers, shop, pickup_template, monkeypatch):
    from functions import wiring
    from layers import clock
    from layers.domain.refund import auto_refund_id

    lat, lng = _somewhere()
    store = _store(client, admin_headers, "过期店", lat, lng)
    product = create_product(client, admin_headers, price=2000, stock=5)
    shopper = login(client)
    assert post(client, "/me/subscriptions", {"results": {"TPL_PICKUP": "accept"}}, shopper).status_code == 201
    order = _pickup_order(client, shopper, product["skus"][0]["id"], store["id"])
    pay_through_notification(client, shop["sandbox"], order["id"])
    code = body(client.http.get(f"/orders/{order['id']}", headers=shopper))["pickup"]["code"]
    window = wiring.shop_settings_repository().load_settings().pickup_window_s
    start = clock.now()

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=window - 3600))  # a day before: remind
    assert wiring.pickup().refund_expired()["pickup_refunded"] == 0
    wiring.reminders().send_reminders()
    wiring.reminders().send_reminders()  # once only
    sent = [m for m in shop["sandbox"].messages if m["template_id"] == "TPL_PICKUP"
            and m["data"].get("character_string1", {}).get("value") == order["id"]]
    assert len(sent) == 1

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=window + 60))  # past the window: refunded
    assert wiring.pickup().refund_expired()["pickup_refunded"] >= 1
    stored = wiring.order_repository().get(order["id"], consistent=True)
    assert stored.status in ("REFUNDING", "REFUNDED") and stored.refunding_amount + stored.refunded_amount == 2000
    assert auto_refund_id(order["id"]) in shop["sandbox"].refunds
    assert order["id"] not in {o.order_id for o in wiring.order_repository().due(
        "PICKUP_ORDERS", clock.iso(start + timedelta(days=400)), 1000)}
    guide = new_distributor(client, admin_headers)
    assert post(client, f"/admin/stores/{store['id']}/staff", {"user_id": uid(guide)}, admin_headers).status_code == 201
    assert post(client, f"/stores/{store['id']}/redemptions", {"code": code}, guide).status_code == 404


def test_a_pickup_order_reads_its_store_in_placements_one_batch(client, admin_headers, shop):
    from layers.storage import placement

    lat, lng = _somewhere()
    store = _store(client, admin_headers, "一读店", lat, lng)
    product = create_product(client, admin_headers, price=900, stock=5)
    shopper = login(client)
    batch_reads = []
    real_batch = placement.batch_get_raw
    placement.batch_get_raw = lambda keys, **how: batch_reads.append(keys) or real_batch(keys, **how)
    try:
        order = _pickup_order(client, shopper, product["skus"][0]["id"], store["id"])
    finally:
        placement.batch_get_raw = real_batch
    assert order["delivery"]["store_id"] == store["id"]
    assert len(batch_reads) == 1 and (f"STORE#{store['id']}", "STORE") in batch_reads[0]
