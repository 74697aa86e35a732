"""The checkout's preview against DynamoDB Local and the WeChat sandbox: it changes
nothing, lists the shopper's coupons usable (with their discount) or not (with the
reason), and an order placed with the same body right after charges what it said."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import body, create_product, login, order_payload, post, put

pytestmark = pytest.mark.integration


def wiring():
    from functions import wiring as module

    return module


def iso(dt) -> str:
    from layers import clock

    return clock.iso(dt)


def template(client, admin_headers, **overrides) -> dict:
    from layers import clock

    now = clock.now()
    payload = {"name": "满100减20", "kind": "fixed", "value": 2000, "threshold": 0,
               "claim_starts_at": iso(now - timedelta(minutes=1)), "claim_ends_at": iso(now + timedelta(days=1)),
               "valid_days": 7, "total": 1000, "per_user_limit": 50, **overrides}
    r = post(client, "/admin/coupons", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def claimed(client, shopper: dict, template_id: str) -> str:
    r = post(client, f"/coupons/{template_id}/claim", None, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.body
    return body(r)["id"]


def grant(user_id: str, points: int = 0, growth: int = 0) -> None:
    from layers.domain.members import POINTS, Movement
    from layers.storage.tx import Tx

    tx = Tx()
    wiring().member_repository().stage_move(
        tx, Movement(user_id, POINTS, f"test#{uuid.uuid4().hex}", "grant", "2026-11-29T00:00:00Z",
                     available=points, growth=growth), None, None)
    tx.commit()


def points_available(user_id: str) -> int:
    return wiring().member_repository().get_book(user_id, "points").available


def sku_stock(sku_id: str) -> int:
    from layers.storage.catalog import get_skus

    return int(get_skus([sku_id])[sku_id].stock)


def coupon_status(coupon_id: str) -> str:
    return str(wiring().user_coupon_repository().get(coupon_id).status)


def preview(client, shopper, payload):
    return post(client, "/orders/preview", payload, shopper)


def test_a_preview_prices_the_order_and_changes_nothing(client, admin_headers, shop):
    shopper = login(client)
    user = shopper["X-User-Id"]
    grant(user, points=1000)
    sku_id = create_product(client, admin_headers, price=3000, stock=2)["skus"][0]["id"]
    coupon_id = claimed(client, shopper, template(client, admin_headers, value=500)["id"])
    payload = order_payload(sku_id, 2, coupon_id=coupon_id, points=400)

    for _ in range(3):  # as often as the page asks
        r = preview(client, shopper, payload)
        assert r.status_code == 200, r.body
    seen = body(r)
    assert seen["amounts"] == {"goods": 6000, "discount": 500, "shipping": 0, "points_discount": 400,
                               "payable": 5100}
    assert seen["items"] == [{"sku_id": sku_id, "product_id": seen["items"][0]["product_id"], "title": "小米手环",
                              "quantity": 2, "unit_price": 3000}]
    assert (seen["coupon_id"], seen["points_used"], seen["shipping"]["total"]) == (coupon_id, 400, 0)
    # nothing held: all the stock, the coupon, the points are still there; no order exists
    assert sku_stock(sku_id) == 2 and coupon_status(coupon_id) == "UNUSED" and points_available(user) == 1000
    assert body(client.http.get("/orders", headers=shopper))["items"] == []

    placed = post(client, "/orders", payload, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 201, placed.body
    assert body(placed)["amounts"] == seen["amounts"]
    assert sku_stock(sku_id) == 0 and coupon_status(coupon_id) == "HELD" and points_available(user) == 600


def test_the_preview_lists_coupons_usable_and_not_with_the_reason_and_names_the_best(client, admin_headers, shop):
    from layers import clock

    shopper = login(client)
    product = create_product(client, admin_headers, price=1500, stock=10, category="茶")
    other = create_product(client, admin_headers, price=100, stock=10, category="咖啡")
    sku_id = product["skus"][0]["id"]
    now = clock.now()
    ids = {
        "fixed": claimed(client, shopper, template(client, admin_headers, value=500)["id"]),
        "percent": claimed(client, shopper, template(client, admin_headers, kind="percent", value=30,
                                                     max_discount=800)["id"]),
        "threshold": claimed(client, shopper, template(client, admin_headers, value=2000, threshold=5000)["id"]),
        "scope": claimed(client, shopper, template(client, admin_headers, value=300,
                                                   scope={"product_ids": [other["id"]]})["id"]),
        "category": claimed(client, shopper, template(client, admin_headers, value=100,
                                                      scope={"categories": ["茶"]})["id"]),
        "later": claimed(client, shopper, template(client, admin_headers, value=1000, valid_days=None,
                                                   valid_from=iso(now + timedelta(days=1)),
                                                   valid_until=iso(now + timedelta(days=3)))["id"]),
    }
    r = preview(client, shopper, order_payload(sku_id, 2))  # 3000 of 茶
    assert r.status_code == 200, r.body
    seen = body(r)
    usable = {u["id"]: u["discount"] for u in seen["coupons"]["usable"]}
    unusable = {u["id"]: u["reason"] for u in seen["coupons"]["unusable"]}
    assert usable == {ids["fixed"]: 500, ids["percent"]: 800, ids["category"]: 100}
    assert unusable == {ids["threshold"]: "BELOW_THRESHOLD", ids["scope"]: "OUT_OF_SCOPE",
                        ids["later"]: "NOT_YET_VALID"}
    assert seen["best_coupon_id"] == ids["percent"]
    assert seen["amounts"]["discount"] == 0  # the body named no coupon: the best is named, not applied

    # the best, applied, takes off what the list said
    applied = body(preview(client, shopper, order_payload(sku_id, 2, coupon_id=seen["best_coupon_id"])))
    assert applied["amounts"]["discount"] == 800
    # a coupon held by an unpaid order is no longer the shopper's to choose
    post(client, "/orders", order_payload(sku_id, 1, coupon_id=ids["fixed"]), shopper)
    again = body(preview(client, shopper, order_payload(sku_id, 2)))
    listed = {u["id"] for u in again["coupons"]["usable"]} | {u["id"] for u in again["coupons"]["unusable"]}
    assert ids["fixed"] not in listed


def test_the_preview_refuses_what_placement_refuses_and_changes_nothing(client, admin_headers, shop):
    shopper = login(client)
    sku_id = create_product(client, admin_headers, price=1000, stock=1)["skus"][0]["id"]
    big = claimed(client, shopper, template(client, admin_headers, value=100, threshold=5000)["id"])
    cases = [
        (order_payload(sku_id, 2), 409, "SOLD_OUT"),
        (order_payload("nope"), 404, "NOT_FOUND"),
        (order_payload(sku_id, coupon_id=big), 422, "COUPON_NOT_APPLICABLE"),
        (order_payload(sku_id, points=10), 409, "INSUFFICIENT_POINTS"),
        ({"items": []}, 400, None),
    ]
    for payload, status, code in cases:
        r = preview(client, shopper, payload)
        assert r.status_code == status, (payload, r.body)
        assert "error" in body(r) and (code is None or body(r)["error"]["code"] == code)
        placed = post(client, "/orders", payload, shopper)
        assert (placed.status_code, body(placed)["error"]["code"]) == (status, body(r)["error"]["code"])
    assert sku_stock(sku_id) == 1 and coupon_status(big) == "UNUSED"
    assert post(client, "/orders/preview", order_payload(sku_id)).status_code == 401


@pytest.fixture
def levels(client, admin_headers):
    """Member levels for this test only: reached at a growth no other test's shopper has,
    and the shop's levels put back after."""
    repo = wiring().member_repository()
    before = repo.get_levels()
    r = put(client, "/admin/member-levels", {"levels": [
        {"name": "银卡", "min_growth": 10**9, "discount_bps": 500},
        {"name": "金卡", "min_growth": 2 * 10**9, "discount_bps": 1250}]}, admin_headers)
    assert r.status_code == 200, r.body
    yield
    put(client, "/admin/member-levels", {"levels": list(before or [])}, admin_headers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_order_placed_right_after_a_preview_charges_what_it_showed(client, admin_headers, shop, levels, data):
    """Random carts, coupons, member levels and points: the preview's answer (amounts or
    error) is what placing the same body answers."""
    shopper = login(client)
    user = shopper["X-User-Id"]
    growth = data.draw(st.sampled_from([0, 10**9, 2 * 10**9]), label="growth")
    points = data.draw(st.integers(0, 3000), label="points held")
    if growth or points:
        grant(user, points=points, growth=growth)
    prices = data.draw(st.lists(st.integers(1, 20_000), min_size=1, max_size=3), label="prices")
    products = [create_product(client, admin_headers, price=p, stock=5, category=c)
                for p, c in zip(prices, ["茶", "咖啡", "茶"], strict=False)]
    items = [{"sku_id": p["skus"][0]["id"], "quantity": data.draw(st.integers(1, 3), label="quantity")}
             for p in products]
    payload = {"items": items, "address": order_payload("x")["address"]}
    if data.draw(st.booleans(), label="with a coupon"):
        kind = data.draw(st.sampled_from(["fixed", "percent"]), label="kind")
        rule = {"kind": kind, "value": data.draw(st.integers(1, 20_000) if kind == "fixed" else st.integers(1, 99)),
                "threshold": data.draw(st.integers(0, 30_000), label="threshold")}
        if kind == "percent" and data.draw(st.booleans(), label="capped"):
            rule["max_discount"] = data.draw(st.integers(1, 5000), label="max_discount")
        if data.draw(st.booleans(), label="scoped"):
            rule["scope"] = {"categories": ["茶"]}
        payload["coupon_id"] = claimed(client, shopper, template(client, admin_headers, **rule)["id"])
    asked = data.draw(st.integers(0, 4000), label="points asked")
    if asked:
        payload["points"] = asked

    r = preview(client, shopper, payload)
    placed = post(client, "/orders", payload, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    event(f"preview {r.status_code}")
    if r.status_code == 200:
        assert placed.status_code == 201, (body(r), placed.body)
        assert body(placed)["amounts"] == body(r)["amounts"]
        assert points_available(user) == points - body(r)["points_used"]
    else:
        assert (placed.status_code, body(placed)["error"]["code"]) == (r.status_code, body(r)["error"]["code"])
