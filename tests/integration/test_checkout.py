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


def template(client, admin_headers, **overrides) -> dict:
    """A claimable coupon template (tests/integration/test_coupons.py's), without a threshold
    and with room for many claims unless told otherwise."""
    from tests.integration.test_coupons import template as coupon_template

    return coupon_template(client, admin_headers, **{"threshold": 0, "total": 1000, "per_user_limit": 50,
                                                     **overrides})


def iso(dt) -> str:
    from layers import clock

    return clock.iso(dt)


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
                              "quantity": 2, "unit_price": 3000, "paid": 5100}]
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


# -- a saved address, freight by template: through preview and placement alike ---------------------

def freight_template(client, admin_headers, **kw) -> dict:
    payload = {"name": f"运费-{uuid.uuid4().hex[:6]}", "charge_by": "piece",
               "default": {"first": 1, "first_fee": 1000, "additional": 1, "additional_fee": 500}, "regions": [],
               "free": [], "undeliverable": [], **kw}
    r = post(client, "/admin/freight-templates", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def product_with(client, admin_headers, template_id: str | None, price=1000, weight_g=None, stock=20) -> str:
    sku = {"price": price, "stock": stock, "spec": {"颜色": "黑"}}
    if weight_g is not None:
        sku["weight_g"] = weight_g
    payload = {"title": "茶", "category": "茶", "skus": [sku]}
    if template_id:
        payload["freight_template_id"] = template_id
    r = post(client, "/admin/products", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)["skus"][0]["id"]


def saved_address(client, shopper, province: str) -> str:
    r = post(client, "/me/addresses", {"name": "李四", "phone": "13900001111", "province": province, "city": "某市",
                                       "district": "某区", "detail": "人民路 8 号"}, shopper)
    assert r.status_code == 201, r.body
    return body(r)["id"]


def both(client, shopper, payload) -> tuple[dict, dict]:
    """The preview, then the order placed with the same body: both must succeed."""
    seen = preview(client, shopper, payload)
    assert seen.status_code == 200, seen.body
    placed = post(client, "/orders", payload, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 201, placed.body
    assert body(placed)["amounts"] == body(seen)["amounts"]
    assert body(placed)["freight"] == body(seen)["shipping"]
    return body(seen), body(placed)


def test_an_order_names_a_saved_address_and_keeps_it(client, admin_headers, shop):
    shopper, other = login(client), login(client)
    sku_id = product_with(client, admin_headers, None)
    address_id = saved_address(client, shopper, "浙江省")
    seen, placed = both(client, shopper, {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": address_id})
    expected = {"name": "李四", "phone": "13900001111", "province": "浙江省", "city": "某市", "district": "某区",
                "detail": "人民路 8 号"}
    assert seen["address"] == placed["address"] == expected
    assert body(client.http.get(f"/orders/{placed['id']}", headers=shopper))["address"] == expected
    # another shopper's address is no address of theirs: 404, nothing placed
    for path in ("/orders/preview", "/orders"):
        r = post(client, path, {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": address_id}, other)
        assert (r.status_code, body(r)["error"]["code"]) == (404, "NOT_FOUND")
    assert body(client.http.get("/orders", headers=other))["items"] == []


def test_freight_by_piece_counts_a_templates_lines_together_by_region_and_free_by_count(client, admin_headers, shop):
    tpl = freight_template(client, admin_headers, regions=[
        {"provinces": ["新疆维吾尔自治区"], "first": 1, "first_fee": 2000, "additional": 1, "additional_fee": 1500}],
        free=[{"min_pieces": 5}])
    a = product_with(client, admin_headers, tpl["id"], price=1000)
    b = product_with(client, admin_headers, tpl["id"], price=2000)
    flat = product_with(client, admin_headers, None, price=300)
    shopper = login(client)
    items = [{"sku_id": a, "quantity": 2}, {"sku_id": b, "quantity": 1}]
    here = saved_address(client, shopper, "广东省")
    far = saved_address(client, shopper, "新疆维吾尔自治区")
    # three pieces of one template: 1000 + 2 x 500 (the shop's flat fee is 0 here: no flat part charged)
    seen, placed = both(client, shopper, {"items": items, "address_id": here})
    assert seen["amounts"]["shipping"] == 2000 and placed["amounts"]["payable"] == 4000 + 2000
    assert [(p["template_id"], p["pieces"], p["fee"], p["rule"]) for p in seen["shipping"]["parts"]] == [
        (tpl["id"], 3, 2000, "default")]
    seen, _ = both(client, shopper, {"items": items, "address_id": far})
    assert seen["amounts"]["shipping"] == 2000 + 2 * 1500
    # with a product without a template: its own flat part beside
    seen, _ = both(client, shopper, {"items": [*items, {"sku_id": flat, "quantity": 1}], "address_id": here})
    assert [p["rule"] for p in seen["shipping"]["parts"]] == ["default", "flat_free"]
    # five pieces: free
    seen, _ = both(client, shopper, {"items": [{"sku_id": a, "quantity": 5}], "address_id": far})
    assert seen["amounts"]["shipping"] == 0 and seen["shipping"]["parts"][0]["rule"] == "free"


def test_freight_by_weight_steps_started_and_undeliverable_provinces_refused(client, admin_headers, shop):
    tpl = freight_template(client, admin_headers, charge_by="weight",
                           default={"first": 1000, "first_fee": 800, "additional": 500, "additional_fee": 300},
                           free=[{"provinces": ["上海市"], "min_amount": 9900}], undeliverable=["西藏自治区"])
    sku = product_with(client, admin_headers, tpl["id"], price=3000, weight_g=700)
    shopper = login(client)
    # 3 x 700 g = 2100 g: the first 1000 g, then 1100 g is three 500 g steps started
    seen, placed = both(client, shopper, {"items": [{"sku_id": sku, "quantity": 3}],
                                          "address_id": saved_address(client, shopper, "江苏省")})
    assert seen["amounts"]["shipping"] == 800 + 3 * 300
    assert seen["shipping"]["parts"][0]["weight_g"] == 2100
    # Shanghai, inline as people write it, from 99 yuan of these goods: free
    seen, _ = both(client, shopper, {"items": [{"sku_id": sku, "quantity": 4}], "address": {**order_payload(
        "x")["address"], "province": "上海"}})
    assert seen["amounts"]["shipping"] == 0
    tibet = saved_address(client, shopper, "西藏自治区")
    for path in ("/orders/preview", "/orders"):
        r = post(client, path, {"items": [{"sku_id": sku, "quantity": 1}], "address_id": tibet}, shopper)
        assert (r.status_code, body(r)["error"]["code"]) == (422, "UNDELIVERABLE"), r.body
    assert sku_stock(sku) == 20 - 3 - 4
    # A typed province that is no province: this template's price depends on where, so the
    # shopper is asked for the province (nothing held); a template priced the same
    # everywhere charges its default.
    mars = {"items": [{"sku_id": sku, "quantity": 1}], "address": {**order_payload("x")["address"], "province": "火星"}}
    for path in ("/orders/preview", "/orders"):
        r = post(client, path, mars, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
        assert (r.status_code, body(r)["error"]["code"]) == (422, "UNDELIVERABLE"), r.body
        assert "火星" in body(r)["error"]["message"]
    assert sku_stock(sku) == 20 - 3 - 4
    same_everywhere = product_with(client, admin_headers, freight_template(client, admin_headers)["id"])
    seen, _ = both(client, shopper, {**mars, "items": [{"sku_id": same_everywhere, "quantity": 2}]})
    assert seen["amounts"]["shipping"] == 1000 + 500 and seen["shipping"]["parts"][0]["rule"] == "default"
