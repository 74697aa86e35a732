"""Promotions in real orders, over HTTP on DynamoDB Local: a 满减 priced into the preview and
the order, each line's `paid`, a refund of one line giving back exactly what it paid, a
gift line taking stock and going back on close, a coupon refused beside a promotion that
forbids it, and a flash sale's order taking no promotion.

Every promotion here is scoped to the test's own products and stopped at the end: the
live promotions are the whole shop's, and the other tests' orders must not take them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


@pytest.fixture
def promotions(client, admin_headers):
    made = []

    def make(**fields) -> dict:
        now = datetime.now(UTC)
        payload = {"starts_at": (now - timedelta(minutes=1)).isoformat(),
                   "ends_at": (now + timedelta(hours=2)).isoformat(), **fields}
        r = post(client, "/admin/promotions", payload, admin_headers)
        assert r.status_code == 201, r.body
        made.append(body(r)["id"])
        return body(r)

    yield make
    for promotion_id in made:
        post(client, f"/admin/promotions/{promotion_id}/stop", None, admin_headers)


def _pay(shop, order_id: str) -> None:
    from functions import wiring

    shop["sandbox"].pay(order_id, notify=False)
    wiring.orders().mark_paid(order_id, shop["sandbox"].transaction(order_id))


def test_a_partial_refund_of_a_line_in_a_man_jian_order_refunds_exactly_its_paid(
        client, admin_headers, shop, promotions):
    tea = create_product(client, admin_headers, price=20000, stock=5, title="龙井")
    cup = create_product(client, admin_headers, price=10000, stock=5, title="茶杯")
    other = create_product(client, admin_headers, price=5000, stock=5, title="不参加的茶")
    promotions(name="满300减50", kind="amount_off", tiers=[{"threshold": 30000, "value": 5000}],
               scope={"product_ids": [tea["id"], cup["id"]]})
    shopper = login(client)
    payload = {**order_payload(tea["skus"][0]["id"], 1),
               "items": [{"sku_id": s["skus"][0]["id"], "quantity": 1} for s in (tea, cup, other)]}

    preview = body(post(client, "/orders/preview", payload, shopper))
    assert preview["amounts"]["promotion_discount"] == 5000
    assert [p["name"] for p in preview["promotions"]["applied"]] == ["满300减50"]
    order = body(post(client, "/orders", payload, shopper))
    assert order["amounts"] == preview["amounts"]
    paid = {i["title"]: i["paid"] for i in order["items"]}
    # the 50 yuan off is shared over the two lines it covers; the third keeps its price
    assert paid == {"龙井": 16667, "茶杯": 8333, "不参加的茶": 5000}
    assert sum(paid.values()) == order["amounts"]["payable"] - order["amounts"]["shipping"]
    assert {i["title"]: i.get("promotion_id") for i in order["items"]}["不参加的茶"] is None

    _pay(shop, order["id"])
    r = post(client, f"/orders/{order['id']}/refunds",
             {"items": [{"sku_id": cup["skus"][0]["id"], "quantity": 1}], "reason": "杯子不要了"}, shopper)
    assert r.status_code == 201, r.body
    assert body(r)["amount"] == 8333  # exactly the cup's paid, not its list price
    outside = post(client, f"/orders/{order['id']}/refunds",
                   {"items": [{"sku_id": other["skus"][0]["id"], "quantity": 1}], "reason": "不要了"}, shopper)
    assert body(outside)["amount"] == 5000  # a line outside the promotion gets its whole price back


def test_a_gift_line_takes_its_stock_and_gives_it_back_when_the_order_is_cancelled(
        client, admin_headers, promotions):
    from functions import wiring

    tea = create_product(client, admin_headers, price=20000, stock=5, title="龙井")
    gift = create_product(client, admin_headers, price=3000, stock=1, title="赠品茶杯")
    gift_sku = gift["skus"][0]["id"]
    promotions(name="满200送杯", kind="gift", tiers=[{"threshold": 20000, "value": 1}], gift_sku_id=gift_sku,
               scope={"product_ids": [tea["id"]]})
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(tea["skus"][0]["id"], 1), shopper))
    lines = {i["sku_id"]: i for i in order["items"]}
    assert lines[gift_sku]["gift"] is True and lines[gift_sku]["unit_price"] == 0 and lines[gift_sku]["paid"] == 0
    assert order["amounts"]["payable"] == 20000 + order["amounts"]["shipping"]
    assert wiring.catalog_repository().get_skus([gift_sku])[gift_sku].stock == 0

    second = login(client)
    preview = body(post(client, "/orders/preview", order_payload(tea["skus"][0]["id"], 1), second))
    assert [g["gift_sku_id"] for g in preview["promotions"]["gifts_unavailable"]] == [gift_sku]
    assert gift_sku not in {i["sku_id"] for i in preview["items"]}

    assert post(client, f"/orders/{order['id']}/cancel", None, shopper).status_code == 200
    assert wiring.catalog_repository().get_skus([gift_sku])[gift_sku].stock == 1


def test_a_coupon_is_refused_beside_a_promotion_without_coupons(client, admin_headers, promotions):
    from tests.integration.test_checkout import claimed, template

    tea = create_product(client, admin_headers, price=20000, stock=5, title="龙井")
    promotions(name="满200减20 不与券同享", kind="amount_off", tiers=[{"threshold": 20000, "value": 2000}],
               scope={"product_ids": [tea["id"]]}, with_coupons=False)
    shopper = login(client)
    coupon_id = claimed(client, shopper, template(client, admin_headers, value=500)["id"])
    preview = body(post(client, "/orders/preview", order_payload(tea["skus"][0]["id"], 1), shopper))
    reasons = {c["id"]: c["reason"] for c in preview["coupons"]["unusable"]}
    assert reasons[coupon_id] == "NOT_WITH_PROMOTION"
    refused = post(client, "/orders", order_payload(tea["skus"][0]["id"], 1, coupon_id=coupon_id), shopper)
    assert refused.status_code == 422 and body(refused)["error"]["code"] == "COUPON_NOT_APPLICABLE"


def test_a_flash_sale_order_takes_no_promotion(client, admin_headers, promotions):
    from functions import wiring
    from tests.integration.test_flash_sales import attempt, new_sale, new_user

    sale = new_sale(client, admin_headers)  # 990 fen for a 19900 fen SKU
    sku = wiring.flash_sale_repository().get(sale["id"]).sku_id
    product_id = wiring.catalog_repository().get_skus([sku])[sku].product_id
    promotions(name="满5减1", kind="amount_off", tiers=[{"threshold": 500, "value": 100}],
               scope={"product_ids": [product_id]})
    order = wiring.orders().get(attempt(new_user(), sale["id"]), consistent=True)
    assert order.amounts["goods"] == 990 and "promotion_discount" not in order.amounts
    assert order.promotions == () and all("promotion_id" not in i for i in order.items)
