"""Refunds of one order racing each other on DynamoDB Local: each decision is made from
a read of the order, and both readers are held until both have read, so each writes
from a snapshot the other makes stale. The order must still end exactly right."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


class HeldAfterRead:
    """An order repository whose first read of `order_id` in each thread waits until
    `parties` threads have read it: every one of them decides from the same snapshot."""

    def __init__(self, inner, order_id: str, parties: int):
        self.inner, self.order_id = inner, order_id
        self.barrier = threading.Barrier(parties, timeout=10)
        self.held = threading.local()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get(self, order_id, consistent=False):
        snapshot = self.inner.get(order_id, consistent)
        if order_id == self.order_id and not getattr(self.held, "done", False):
            self.held.done = True
            self.barrier.wait()
        return snapshot


def refund_service_reading_through(orders_repo):
    from functions import wiring
    from layers.services.refunds import RefundService

    return RefundService(**{**vars(wiring.refunds()), "orders": orders_repo})


def paid_order(client, admin_headers, sandbox, price=1000, stock=3):
    product = create_product(client, admin_headers, price=price, stock=stock)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(sku_id), shopper))
    sandbox.pay(order["id"], notify=False)
    from functions import wiring

    wiring.orders().mark_paid(order["id"], sandbox.transaction(order["id"]))
    return order, sku_id, shopper


def stock_of(sku_id):
    from layers.storage.catalog import get_skus

    return int(get_skus([sku_id])[sku_id].stock)


def test_two_refunds_finishing_at_once_leave_the_order_refunded(client, admin_headers, shop):
    from functions import wiring

    order, sku_id, shopper = paid_order(client, admin_headers, shop["sandbox"])
    first = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 400, "reason": "一半"}, shopper))
    second = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 600, "reason": "另一半"}, shopper))
    assert stock_of(sku_id) == 2
    racing = refund_service_reading_through(HeldAfterRead(wiring.order_repository(), order["id"], parties=2))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda r: racing.on_refund_result(r["id"], "SUCCESS"), [first, second]))

    current = wiring.order_repository().get(order["id"], consistent=True)
    assert current.status == "REFUNDED"
    assert (current.refunded_amount, current.refunding_amount, current.refund_room) == (1000, 0, 0)
    assert current.released_at is not None
    assert stock_of(sku_id) == 3  # the unit went back to the shelf, once
    assert {r.status for r in wiring.refund_repository().for_order(order["id"])} == {"SUCCESS"}


def test_a_refund_finishing_while_another_is_requested(client, admin_headers, shop):
    from functions import schemas, wiring

    order, sku_id, shopper = paid_order(client, admin_headers, shop["sandbox"])
    first = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 400, "reason": "一半"}, shopper))
    user_id = wiring.order_repository().get(order["id"]).user_id
    racing = refund_service_reading_through(HeldAfterRead(wiring.order_repository(), order["id"], parties=2))
    with ThreadPoolExecutor(max_workers=2) as pool:
        finishing = pool.submit(racing.on_refund_result, first["id"], "SUCCESS")
        asking = pool.submit(racing.request_refund, user_id, order["id"],
                             schemas.RefundInput(amount=600, reason="另一半"), None)
        finishing.result()
        second = asking.result()
    assert second["amount"] == 600
    wiring.refunds().on_refund_result(second["id"], "SUCCESS")

    current = wiring.order_repository().get(order["id"], consistent=True)
    assert current.status == "REFUNDED"
    assert (current.refunded_amount, current.refunding_amount, current.refund_room) == (1000, 0, 0)
    assert stock_of(sku_id) == 3


def paid_order_of_units(client, admin_headers, sandbox, price, quantity):
    product = create_product(client, admin_headers, price=price, stock=quantity)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(sku_id, quantity), shopper))
    sandbox.pay(order["id"], notify=False)
    from functions import wiring

    wiring.orders().mark_paid(order["id"], sandbox.transaction(order["id"]))
    return order, sku_id


def _race_line_refunds(order_id, sku_id, quantities):
    """Line refunds of the same line asked at once, each deciding from the same read."""
    from functions import schemas, wiring
    from layers.domain import errors

    user_id = wiring.order_repository().get(order_id).user_id
    racing = refund_service_reading_through(HeldAfterRead(wiring.order_repository(), order_id,
                                                          parties=len(quantities)))

    def ask(quantity):
        try:
            return racing.request_refund(user_id, order_id, schemas.RefundInput(
                items=[{"sku_id": sku_id, "quantity": quantity}], reason="退这几件"), None)
        except errors.NotAcceptable as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(quantities)) as pool:
        return list(pool.map(ask, quantities))


def test_two_refunds_of_the_same_units_at_once_refund_them_once(client, admin_headers, shop):
    from functions import wiring

    order, sku_id = paid_order_of_units(client, admin_headers, shop["sandbox"], price=1001, quantity=3)
    answers = _race_line_refunds(order["id"], sku_id, [2, 2])
    refunds = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if not isinstance(a, dict)]
    assert len(refunds) == 1 and refunds[0]["amount"] == 2002
    assert len(refused) == 1 and refused[0].message == f"SKU {sku_id}: 2 units asked, only 1 left to refund"
    current = wiring.order_repository().get(order["id"], consistent=True)
    assert current.line_refunds == {"0": {"units": 2, "amount": 2002}}
    assert (current.refunding_amount + current.refunded_amount, current.refund_room) == (2002, 1001)


def test_refunds_of_a_line_at_once_take_all_it_paid_and_never_more(client, admin_headers, shop):
    from functions import wiring

    order, sku_id = paid_order_of_units(client, admin_headers, shop["sandbox"], price=1001, quantity=3)
    answers = _race_line_refunds(order["id"], sku_id, [1, 2])
    assert all(isinstance(a, dict) for a in answers)
    assert sorted(a["amount"] for a in answers) == [1001, 2002]
    for refund in answers:
        wiring.refunds().on_refund_result(refund["id"], "SUCCESS")
    current = wiring.order_repository().get(order["id"], consistent=True)
    assert current.line_refunds == {"0": {"units": 3, "amount": 3003}}
    assert (current.refunded_amount, current.refund_room, current.paid) == (3003, 0, 3003)
    assert current.status == "REFUNDED"
