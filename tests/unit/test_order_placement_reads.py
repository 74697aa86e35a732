"""Placement reads once, finds a retried order through its conditional put
(not by reading first), and still answers a retry whose pre-checks would now refuse."""

from __future__ import annotations

import threading

import pytest

from layers.domain import errors
from tests.unit.test_order_service import Shop


class CountingGets:
    def __init__(self, repo):
        self.repo = repo
        self.gets = 0

    def __getattr__(self, name):
        return getattr(self.repo, name)

    def get(self, order_id, consistent=False):
        self.gets += 1
        return self.repo.get(order_id, consistent)


@pytest.fixture
def shop():
    s = Shop()
    s.add_sku()
    s.orders.orders = s.counting = CountingGets(s.orders_repo)
    return s


def test_the_happy_path_reads_once_and_never_looks_the_order_up(shop):
    order = shop.place(key="k1")
    assert order["status"] == "PENDING_PAYMENT"
    assert shop.reads.calls == 1
    assert shop.counting.gets == 0


def test_a_retry_is_found_by_the_conditional_put(shop):
    first = shop.place(key="k1")
    again = shop.place(key="k1")
    assert again == first
    assert shop.stock_of() == 3
    assert shop.counting.gets == 1  # the replay, after the put failed


def test_a_retry_after_its_stock_sold_out_is_still_the_same_order(shop):
    first = shop.place(quantity=2, key="k1")
    shop.place(quantity=3, key="k2")  # the rest of the stock
    assert shop.stock_of() == 0
    assert shop.place(quantity=2, key="k1") == first
    with pytest.raises(errors.IdempotencyKeyReused):
        shop.place(quantity=1, key="k1")


def test_a_new_order_without_stock_is_still_refused(shop):
    with pytest.raises(errors.SoldOut):
        shop.place(quantity=6, key="k1")
    assert shop.store.scan(("order",)) == []


def test_the_expiry_message_is_sent_before_the_answer_beside_the_prepay(shop):
    threads = []
    original = shop.expiry.schedule

    def schedule(order_id, expires_at):
        threads.append(threading.current_thread().name)
        original(order_id, expires_at)

    shop.expiry.schedule = schedule
    order = shop.place()
    assert shop.expiry.scheduled == [order["id"]]
    assert threads and threads[0] != threading.current_thread().name


def test_the_expiry_message_is_sent_even_when_prepay_fails(shop):
    shop.pay.unavailable = True
    with pytest.raises(errors.UpstreamUnavailable):
        shop.place()
    assert len(shop.expiry.scheduled) == 1  # it will find the order gone
