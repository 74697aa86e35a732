"""Each input that used to answer 500 answers a 4xx in the envelope and changes
nothing; tokens can be revoked; logins are rate-limited."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers import ADDRESS, body, create_product, login, order_payload, post, put

pytestmark = pytest.mark.integration


def _error(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.body[:300])
    return json.loads(r.body)["error"]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_body_is_400_on_any_route(client, admin_headers, depth):
    shopper = login(client)
    for path, headers in (("/auth/login", {}), ("/orders", shopper), ("/admin/products", admin_headers)):
        raw = '{"code": ' + _nested(depth) + "}"
        r = client.http.post(path, body=raw, headers={"Content-Type": "application/json", **headers})
        assert _error(r, 400)["code"] == "INVALID_REQUEST"


def test_a_bearer_token_with_non_ascii_characters_is_401(client):
    for value in ("Bearer tøken", "Bearer 令牌", "Bearer abc\u00e9.def", "Bearer " + "a" * 600):
        r = client.http.get("/orders", headers={"Authorization": value})
        assert _error(r, 401)["code"] == "UNAUTHORIZED"


def test_a_cursor_is_bound_to_its_list_and_its_caller(client, admin_headers):
    for _ in range(3):
        create_product(client, admin_headers)
    page = body(client.http.get("/products?limit=1"))
    cursor = page["next_cursor"]
    assert cursor
    assert client.http.get(f"/products?limit=1&cursor={cursor}").status_code == 200
    shopper = login(client)
    other = login(client)
    for path, headers in (("/orders", shopper), ("/me/coupons", shopper), ("/admin/coupons", admin_headers),
                          ("/coupons", {}), ("/admin/flash-sales", admin_headers)):
        r = client.http.get(f"{path}?cursor={cursor}", headers=headers)
        assert r.status_code in (400, 404), (path, r.status_code, r.body)
        if r.status_code == 400:
            assert json.loads(r.body)["error"]["code"] == "INVALID_REQUEST"
    # A shopper's own cursor does not serve another shopper.
    sku = create_product(client, admin_headers, stock=50)["skus"][0]["id"]
    for _ in range(2):
        assert post(client, "/orders", order_payload(sku), shopper).status_code == 201
    mine = body(client.http.get("/orders?limit=1", headers=shopper))["next_cursor"]
    assert mine
    assert client.http.get(f"/orders?limit=1&cursor={mine}", headers=shopper).status_code == 200
    assert _error(client.http.get(f"/orders?limit=1&cursor={mine}", headers=other), 400)["code"] == "INVALID_REQUEST"
    garbage = "A" * 5000
    assert _error(client.http.get(f"/products?cursor={garbage}"), 400)["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("path,method,who", [
    ("/products/{id}", "get", None), ("/orders/{id}", "get", "shopper"), ("/orders/{id}/cancel", "post", "shopper"),
    ("/flash-sales/{id}", "get", None), ("/coupons/{id}/claim", "post", "shopper"),
    ("/admin/orders/{id}/ship", "post", "admin"), ("/shares/{id}/visits", "post", "shopper"),
    ("/cart/items/{id}", "delete", "shopper"), ("/admin/reconciliations/{id}", "get", "admin"),
])
def test_path_ids_of_1000_characters_are_400(client, admin_headers, path, method, who):
    headers = {"shopper": login(client) if who == "shopper" else {}, "admin": admin_headers, None: {}}[who]
    for ident in ("x" * 1000, "a%00b", "%E4%BD%A0"):
        r = getattr(client.http, method)(path.replace("{id}", ident), headers=headers)
        assert _error(r, 400)["code"] == "INVALID_REQUEST", (path, ident)


def test_an_address_with_unknown_fields_is_refused_and_nothing_is_stored(client, admin_headers):
    shopper = login(client)
    sku = create_product(client, admin_headers, stock=5)["skus"][0]["id"]
    payload = order_payload(sku)
    payload["address"] = {**ADDRESS, "junk": "x" * 5000}
    assert _error(post(client, "/orders", payload, shopper), 400)["code"] == "INVALID_REQUEST"
    assert body(client.http.get("/orders", headers=shopper))["items"] == []


def test_a_non_utf8_body_on_the_payment_notification_is_a_wechat_fail(client):
    for path in ("/wechatpay/notify", "/wechatpay/refund-notify"):
        r = client.http.post(path, body=b"\xff\xfe\x00{not utf-8", headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500
        assert json.loads(r.body)["code"] == "FAIL"


@pytest.mark.parametrize("bad", ["2", True, 1.0, 2.5, None, [2]])
def test_quantities_and_money_take_integers_only(client, admin_headers, bad):
    shopper = login(client)
    sku = create_product(client, admin_headers, stock=5)["skus"][0]["id"]
    r = post(client, "/orders", order_payload(sku, quantity=bad), shopper)
    assert _error(r, 400)["code"] == "INVALID_REQUEST"
    assert put(client, f"/cart/items/{sku}", {"quantity": bad}, shopper).status_code == 400
    r = post(client, "/admin/products", {"title": "t", "skus": [{"price": bad, "stock": 1}]}, admin_headers)
    assert _error(r, 400)["code"] == "INVALID_REQUEST"
    r = post(client, "/admin/products", {"title": "t", "skus": [{"price": 100, "stock": bad}]}, admin_headers)
    assert _error(r, 400)["code"] == "INVALID_REQUEST"
    assert body(client.http.get("/orders", headers=shopper))["items"] == []


def test_logout_revokes_every_token_and_the_operator_can_revoke_too(client, admin_headers):
    code = f"code-{uuid.uuid4().hex}"
    first = login(client, code)
    second = login(client, code)
    assert client.http.get("/orders", headers=first).status_code == 200
    assert post(client, "/auth/logout", {}, first).status_code == 204
    for headers in (first, second):
        assert _error(client.http.get("/orders", headers=headers), 401)["code"] == "UNAUTHORIZED"
    third = login(client, code)
    assert client.http.get("/orders", headers=third).status_code == 200
    r = post(client, f"/admin/users/{third['X-User-Id']}/revoke-tokens", {}, admin_headers)
    assert r.status_code == 200 and body(r)["token_version"] == 2
    assert client.http.get("/orders", headers=third).status_code == 401


def test_a_cold_container_checks_the_token_version_on_the_placement_read(client, admin_headers):
    """POST /orders checks the version on the shopper its batch read finds, not
    with a read of its own; a revoked token still places nothing, a current one places."""
    from functions import wiring
    from layers.storage import placement, users

    sku_id = create_product(client, admin_headers, stock=5)["skus"][0]["id"]
    old = login(client)
    user_id = old["X-User-Id"]
    assert post(client, f"/admin/users/{user_id}/revoke-tokens", {}, admin_headers).status_code == 200
    versions = wiring.token_versions()
    own_reads = []
    real_read = users.DynamoUserRepository.token_version
    users.DynamoUserRepository.token_version = lambda self, uid: own_reads.append(uid) or real_read(self, uid)
    try:
        versions._versions.clear()  # a cold container: it knows no version
        headers = {**old, "Idempotency-Key": uuid.uuid4().hex}
        r = post(client, "/orders", order_payload(sku_id), headers)
        assert _error(r, 401)["code"] == "UNAUTHORIZED"
        from layers.domain.order import order_id_for

        assert wiring.order_repository().get(order_id_for(user_id, "orders", headers["Idempotency-Key"]),
                                             consistent=True) is None  # nothing placed
        fresh = login(client)
        # a visit through a channel: the order inherits it from the same one read
        assert post(client, "/visits", {"path": "pages/index/index", "scene": 1011, "channel": "front-door"},
                    fresh).status_code == 204
        own_reads.clear()  # the visit's own check: not the order's
        versions._versions.clear()
        batch_reads = []
        real_batch = placement.batch_get_raw
        placement.batch_get_raw = lambda keys, **how: batch_reads.append(keys) or real_batch(keys, **how)
        try:
            r = post(client, "/orders", order_payload(sku_id), {**fresh, "Idempotency-Key": uuid.uuid4().hex})
        finally:
            placement.batch_get_raw = real_batch
        assert r.status_code == 201, r.body
        assert body(r)["channel"] == "front-door"
        assert own_reads == []  # neither request read the version on its own
        assert len(batch_reads) == 1
    finally:
        users.DynamoUserRepository.token_version = real_read


@pytest.fixture
def strict_login_limits(monkeypatch):
    from functions import wiring
    from layers.config import reset_settings_cache

    monkeypatch.setenv("LOGIN_LIMIT_PER_ADDRESS", "1000000")
    monkeypatch.setenv("LOGIN_LIMIT_PER_OPENID", "3")
    reset_settings_cache()
    wiring.reset()
    yield
    monkeypatch.undo()
    reset_settings_cache()
    wiring.reset()


def test_logins_of_one_openid_are_rate_limited(client, strict_login_limits):
    code = f"code-{uuid.uuid4().hex}"
    for _ in range(3):
        login(client, code)
    r = post(client, "/auth/login", {"code": code})
    assert _error(r, 429)["code"] == "RATE_LIMITED"
    assert r.headers.get("Retry-After") == "1"
    login(client)  # another shopper is not held back


@pytest.fixture
def unpaid_cap_of_two(monkeypatch):
    from functions import wiring
    from layers.config import reset_settings_cache

    monkeypatch.setenv("UNPAID_ORDERS_CAP", "2")
    reset_settings_cache()
    wiring.reset()
    yield
    monkeypatch.undo()
    reset_settings_cache()
    wiring.reset()


def test_a_shopper_cannot_hold_stock_with_more_unpaid_orders_than_the_cap(client, admin_headers, unpaid_cap_of_two):
    shopper = login(client)
    sku = create_product(client, admin_headers, stock=100)["skus"][0]["id"]
    placed = [body(post(client, "/orders", order_payload(sku), shopper)) for _ in range(2)]
    r = post(client, "/orders", order_payload(sku), shopper)
    assert _error(r, 409)["code"] == "LIMIT_EXCEEDED"
    assert len(body(client.http.get("/orders", headers=shopper))["items"]) == 2
    assert post(client, "/orders", order_payload(sku), login(client)).status_code == 201  # others are not held back
    assert post(client, f"/orders/{placed[0]['id']}/cancel", {}, shopper).status_code == 200
    assert post(client, "/orders", order_payload(sku), shopper).status_code == 201


def test_the_refund_queues_are_the_open_statuses_and_any_other_is_400(client, admin_headers):
    for status in ("REQUESTED", "PROCESSING", "ABNORMAL"):
        r = client.http.get(f"/admin/refunds?status={status}", headers=admin_headers)
        assert r.status_code == 200 and all(i["status"] == status for i in body(r)["items"])
    for status in ("SUCCESS", "NOPE", "requested"):
        r = client.http.get(f"/admin/refunds?status={status}", headers=admin_headers)
        assert _error(r, 400)["code"] == "INVALID_REQUEST"
