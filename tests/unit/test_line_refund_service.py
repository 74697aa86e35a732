"""Refunds of order lines through the refund service, over in-memory repositories: the
amount is what the units paid, the units are held on the order with the refund room,
given back when the refund fails or is rejected, and a retry is the same refund."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from functions.schemas import PlaceOrderInput, RefundInput
from layers.domain import errors
from tests.unit.test_order_service import Shop


class TwoLines(Shop):
    def place_two(self) -> dict:
        body = PlaceOrderInput.model_validate({
            "items": [{"sku_id": "s1", "quantity": 3}, {"sku_id": "s2", "quantity": 1}],
            "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
        return self.orders.place_order("u1", body, None)

    def with_paid(self, order_id: str, paid: list[int]) -> None:
        """The paid order as a promotion would have priced it: each line with its `paid`,
        the promotion's discount off the payable."""
        order = self.orders_repo.get(order_id)
        items = tuple({**item, "paid": p} for item, p in zip(order.items, paid, strict=True))
        off = order.payable - sum(paid)
        amounts = {**order.amounts, "promotion_discount": off, "payable": sum(paid)}
        self.store.items[("order", order_id)] = replace(order, items=items, amounts=amounts, paid_amount=sum(paid),
                                                        refund_room=sum(paid))

    def refund_lines(self, order_id: str, items, key=None) -> dict:
        return self.refunds.request_refund("u1", order_id, RefundInput(items=items, reason="不要了"), key)


@pytest.fixture
def shop():
    s = TwoLines()
    s.add_sku("s1", price=1000, stock=9)
    s.add_sku("s2", price=2000, stock=9)
    return s


def _paid_two(shop, paid=(2000, 1900)) -> str:
    order_id = shop.place_two()["id"]
    shop.paid(order_id)
    shop.with_paid(order_id, list(paid))
    return order_id


def test_a_line_refund_refunds_what_its_units_paid_and_holds_them(shop):
    order_id = _paid_two(shop)
    refund = shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 2}])
    assert refund["amount"] == 1333  # floor(2000 * 2 / 3)
    assert refund["items"] == [{"sku_id": "s1", "quantity": 2, "amount": 1333}]
    assert [c for c in shop.pay.calls if c[0] == "refund"][0][1] == refund["id"]
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    order = shop.orders_repo.get(order_id)
    assert order.line_refunds == {"0": {"units": 2, "amount": 1333}}
    assert (order.refunded_amount, order.refund_room, order.status) == (1333, 3900 - 1333, "PAID")
    event = [m for m in shop.publisher.sent if m["type"] == "order.refunded"][0]
    assert event["payload"]["lines"] == [{"line": 0, "sku_id": "s1", "units": 2, "amount": 1333}]
    last = shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}])
    assert last["amount"] == 2000 - 1333
    with pytest.raises(errors.NotAcceptable) as refused:
        shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}])
    assert refused.value.message == "SKU s1: 1 units asked, only 0 left to refund"


def test_a_failed_line_refund_gives_its_units_back(shop):
    order_id = _paid_two(shop)
    shop.pay.fault("refund", "USER_ACCOUNT_ABNORMAL")
    refund = shop.refund_lines(order_id, [{"sku_id": "s2", "quantity": 1}])
    assert refund["status"] == "FAILED"
    order = shop.orders_repo.get(order_id)
    assert order.line_refunds == {"1": {"units": 0, "amount": 0}} and order.refund_room == 3900
    again = shop.refund_lines(order_id, [{"sku_id": "s2", "quantity": 1}])
    assert again["amount"] == 1900


def test_a_rejected_line_refund_of_a_shipped_order_gives_its_units_back(shop):
    order_id = _paid_two(shop)
    shop.orders.ship(order_id)
    refund = shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 3}])
    assert refund["status"] == "REQUESTED" and refund["amount"] == 2000
    assert shop.orders_repo.get(order_id).line_refunds == {"0": {"units": 3, "amount": 2000}}
    with pytest.raises(errors.NotAcceptable):  # the units are held while it waits
        shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}])
    shop.refunds.reject(refund["id"])
    order = shop.orders_repo.get(order_id)
    assert order.line_refunds == {"0": {"units": 0, "amount": 0}} and order.refund_room == 3900
    assert shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}])["amount"] == 666


def test_a_retried_line_refund_is_the_same_refund_and_another_body_is_refused(shop):
    order_id = _paid_two(shop)
    first = shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}], key="k1")
    assert shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 1}], key="k1") == first
    assert shop.orders_repo.get(order_id).line_refunds["0"]["units"] == 1
    with pytest.raises(errors.IdempotencyKeyReused):
        shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 2}], key="k1")


def test_an_old_order_without_paid_refunds_lines_on_the_derived_shares(shop):
    order_id = shop.place_two()["id"]
    shop.paid(order_id)
    # as an order stored before lines carried `paid`
    placed = shop.orders_repo.get(order_id)
    shop.store.items[("order", order_id)] = replace(
        placed, items=tuple({k: v for k, v in item.items() if k != "paid"} for item in placed.items))
    order = shop.orders_repo.get(order_id)
    assert all("paid" not in item for item in order.items)
    goods = order.payable - int(order.amounts.get("shipping") or 0)
    refund = shop.refund_lines(order_id, [{"sku_id": "s1", "quantity": 3}, {"sku_id": "s2", "quantity": 1}])
    assert refund["amount"] == goods


def test_an_amount_refund_keeps_working_beside_line_refunds(shop):
    order_id = _paid_two(shop)
    shop.refund_lines(order_id, [{"sku_id": "s2", "quantity": 1}])
    refund = shop.refund(order_id, amount=500)
    assert refund["amount"] == 500 and "items" not in refund
    assert shop.orders_repo.get(order_id).refund_room == 3900 - 1900 - 500


def test_the_merchant_refunds_chosen_lines(shop):
    order_id = _paid_two(shop)
    shop.orders.ship(order_id)
    refund = shop.refunds.refund_by_merchant(
        order_id, RefundInput(items=[{"sku_id": "s2", "quantity": 1}], reason="缺货"), "op:k1")
    assert refund["status"] == "PROCESSING" and refund["amount"] == 1900


def test_amount_and_items_are_exclusive():
    with pytest.raises(ValidationError):
        RefundInput.model_validate({"amount": 100, "items": [{"sku_id": "s1", "quantity": 1}], "reason": "x"})
    with pytest.raises(ValidationError):
        RefundInput.model_validate({"items": [], "reason": "x"})
    with pytest.raises(ValidationError):
        RefundInput.model_validate({"items": [{"sku_id": "s1", "quantity": 0}], "reason": "x"})


def test_a_refund_of_an_amount_hashes_its_request_as_before_refunds_of_lines(shop):
    """A retry, after this change, of an amount refund asked before it is still a retry."""
    from layers.domain.order import request_hash

    order_id = _paid_two(shop)
    refund = shop.refund(order_id, amount=500, key="k-old")
    stored = shop.refunds_repo.get(order_id, refund["id"])
    assert stored.request_hash == request_hash({"amount": 500, "reason": "不想要了"})
