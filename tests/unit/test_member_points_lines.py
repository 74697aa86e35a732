"""Points and growth follow the lines' `paid`: growth is what the lines paid, and a refund
of lines removes the points and growth those lines' `paid` brought; an order stored
before lines carried `paid` earns as before (tests/unit/test_member_service.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.schemas import PlaceOrderInput, RefundInput
from layers.domain.catalog import Sku
from layers.domain.members import POINTS
from tests.fakes.member_shop import MemberShop


@pytest.fixture
def shop():
    s = MemberShop()
    for sku, price in (("s1", 3000), ("s2", 1000)):
        s.store.items[("sku", sku)] = Sku(sku_id=sku, product_id="p-" + sku, title=sku, category="tea",
                                          price=price, stock=10)
    return s


def _paid_with_promotion(shop, paid=(1800, 1000)) -> str:
    """An order of s1 ×1 (¥30) and s2 ×1 (¥10) priced as a promotion would: s1 discounted."""
    body = PlaceOrderInput.model_validate({
        "items": [{"sku_id": "s1", "quantity": 1}, {"sku_id": "s2", "quantity": 1}],
        "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
    order_id = shop.orders.place_order("u1", body, None)["id"]
    shop.orders.mark_paid(order_id, shop.pay.pay(order_id))
    order = shop.orders_repo.get(order_id)
    shipping = int(order.amounts.get("shipping") or 0)
    payable = sum(paid) + shipping
    shop.store.items[("order", order_id)] = replace(
        order, items=tuple({**i, "paid": p} for i, p in zip(order.items, paid, strict=True)),
        amounts={**order.amounts, "promotion_discount": order.payable - payable, "payable": payable},
        paid_amount=payable, refund_room=payable)
    shop.deliver_events()
    return order_id


def _refund_lines(shop, order_id, sku, quantity=1):
    refund = shop.refunds.request_refund("u1", order_id, RefundInput(
        items=[{"sku_id": sku, "quantity": quantity}], reason="不要了"), None)
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    shop.deliver_events()
    return refund


def test_growth_is_what_the_lines_paid_and_points_what_the_order_paid(shop):
    _paid_with_promotion(shop)
    points = shop.book(book=POINTS)
    assert (points.frozen, points.growth) == (28, 2800)


def test_a_refund_of_a_line_removes_the_points_and_growth_its_paid_brought(shop):
    order_id = _paid_with_promotion(shop)
    refund = _refund_lines(shop, order_id, "s1")
    assert refund["amount"] == 1800  # the discounted line: less than its ¥30 list price
    points = shop.book(book=POINTS)
    assert (points.frozen, points.growth) == (10, 1000)
    _refund_lines(shop, order_id, "s2")
    points = shop.book(book=POINTS)
    assert (points.frozen, points.available, points.growth) == (0, 0, 0)
    shop.assert_books_equal_ledgers()


def test_a_bigger_discount_on_a_line_removes_fewer_points_when_it_is_refunded(shop):
    cheap = _paid_with_promotion(shop, paid=(1200, 1000))
    before = shop.book(book=POINTS)
    _refund_lines(shop, cheap, "s1")
    after = shop.book(book=POINTS)
    assert before.frozen - after.frozen == 12 and before.growth - after.growth == 1200
