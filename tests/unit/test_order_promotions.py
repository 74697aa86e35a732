"""Orders and previews with live promotions, over in-memory repositories: the lines'
`paid` and promotions stored with the order, a gift line taking stock and giving it back
on close, the preview's nudges, and the order going ahead without a gift that ran out."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from functions.schemas import PlaceOrderInput
from layers.domain.catalog import Sku
from layers.domain.promotion import promotion_from
from tests.fakes.shop import FakeShop


class Live:
    def __init__(self, promotions):
        self.promotions = list(promotions)

    def live(self):
        return list(self.promotions)


class Shop(FakeShop):
    def add_sku(self, sku_id, price, stock=10, product_id=None) -> None:
        self.store.items[("sku", sku_id)] = Sku(sku_id=sku_id, product_id=product_id or f"p-{sku_id}",
                                                title=sku_id, category=None, price=price, stock=stock)

    def stock_of(self, sku_id) -> int:
        return self.store.items[("sku", sku_id)].stock

    def run(self, *bodies) -> None:
        now = self.clock.now()
        self.reads.promotions = Live(promotion_from(
            {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat(),
             **b}, f"pm{n}", now.isoformat()) for n, b in enumerate(bodies))

    def body(self, *items):
        return PlaceOrderInput.model_validate({
            "items": [{"sku_id": s, "quantity": q} for s, q in items],
            "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})

    def place(self, *items, user="u1"):
        return self.orders.place_order(user, self.body(*items), None)


@pytest.fixture
def shop():
    s = Shop(coupons=SimpleNamespace(wallet=lambda user_id, limit: []))
    s.add_sku("tea", 20000)
    s.add_sku("cup", 10000)
    s.add_sku("gift", 3000, stock=1)
    return s


def test_an_order_keeps_its_promotion_each_lines_share_and_its_paid(shop):
    shop.run({"name": "满300减50", "kind": "amount_off", "tiers": [{"threshold": 30000, "value": 5000}]})
    order = shop.place(("tea", 1), ("cup", 1))
    assert order["amounts"]["promotion_discount"] == 5000 and order["amounts"]["payable"] == 25000
    assert [(i["sku_id"], i["paid"], i["promotion_id"], i["promotion_discount"]) for i in order["items"]] == [
        ("tea", 16667, "pm0", 3333), ("cup", 8333, "pm0", 1667)]
    assert order["promotions"][0]["id"] == "pm0" and order["promotions"][0]["discount"] == 5000
    stored = shop.orders_repo.get(order["id"])
    assert sum(i["paid"] for i in stored.items) == stored.payable - stored.amounts["shipping"]


def test_a_gift_line_takes_stock_and_goes_back_when_the_order_closes(shop):
    shop.run({"name": "满200送杯", "kind": "gift", "tiers": [{"threshold": 20000, "value": 1}],
              "gift_sku_id": "gift"})
    order = shop.place(("tea", 1))
    gift = [i for i in order["items"] if i.get("gift")]
    assert gift == [{"sku_id": "gift", "product_id": "p-gift", "title": "gift", "quantity": 1, "unit_price": 0,
                     "paid": 0, "promotion_id": "pm0", "promotion_discount": 0, "gift": True}]
    assert order["amounts"]["payable"] == 20000
    assert shop.stock_of("gift") == 0
    shop.orders.cancel("u1", order["id"])
    assert shop.stock_of("gift") == 1 and shop.stock_of("tea") == 10


def test_with_no_gift_left_the_order_goes_ahead_without_and_the_preview_says_so(shop):
    shop.run({"name": "满200送杯", "kind": "gift", "tiers": [{"threshold": 20000, "value": 1}],
              "gift_sku_id": "gift"})
    shop.place(("tea", 1), user="u0")  # takes the only gift
    preview = shop.orders.preview("u1", shop.body(("tea", 1)))
    assert preview["promotions"]["gifts_unavailable"] == [{"id": "pm0", "name": "满200送杯", "gift_sku_id": "gift"}]
    order = shop.place(("tea", 1))
    assert [i["sku_id"] for i in order["items"]] == ["tea"] and shop.stock_of("gift") == 0


def test_a_gift_bought_too_is_one_reservation_of_both(shop):
    shop.add_sku("gift", 3000, stock=3)
    shop.run({"name": "满200送杯", "kind": "gift", "tiers": [{"threshold": 20000, "value": 1}],
              "gift_sku_id": "gift"})
    order = shop.place(("tea", 1), ("gift", 2))
    assert shop.stock_of("gift") == 0
    stored = shop.orders_repo.get(order["id"])
    assert [r for r in stored.reservations if r.get("sku_id") == "gift"] == [
        {"kind": "sku", "sku_id": "gift", "quantity": 3}]


def test_the_preview_shows_what_applies_and_what_is_nearly_reached(shop):
    shop.run({"name": "满300减50", "kind": "amount_off", "tiers": [{"threshold": 30000, "value": 5000}]},
             {"name": "满2件8折", "kind": "percent_off", "tiers": [{"min_quantity": 2, "value": 80}],
              "scope": {"product_ids": ["p-cup"]}})
    preview = shop.orders.preview("u1", shop.body(("tea", 1), ("cup", 1)))
    assert preview["promotions"]["applied"][0]["id"] == "pm0"
    assert preview["amounts"]["payable"] == 25000
    nearly = shop.orders.preview("u1", shop.body(("tea", 1)))["promotions"]["nearly"]
    assert [(n["id"], n.get("missing_amount"), n["message"]) for n in nearly] == [("pm0", 10000, "再买100元减50元")]
    # what the preview answers is what the order charges
    assert shop.place(("tea", 1), ("cup", 1))["amounts"] == preview["amounts"]


def test_new_customers_only_stops_applying_once_the_shopper_has_paid(shop):
    shop.run({"name": "新人满200减30", "kind": "amount_off", "tiers": [{"threshold": 20000, "value": 3000}],
              "new_customers_only": True})
    assert shop.place(("tea", 1))["amounts"]["payable"] == 17000
    shop.reads.paid_before = lambda user_id: True
    assert shop.place(("tea", 1))["amounts"]["payable"] == 20000
