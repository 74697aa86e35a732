"""The console's order search: the buyer's phone index written with the order,
and the paid days paged with a cursor; in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import date, timedelta

from layers.domain import order as rules
from layers.domain.order_search import normalized_phone
from tests.contract import test_order_repository as orders_suite
from tests.contract.test_order_repository import Stale, an_order, change, create

backend = orders_suite.backend  # the same two stores


def a_phone() -> str:
    return "139" + f"{random.randrange(10**8):08d}"


def page_all(fetch, limit: int):
    pages, cursor = [], None
    while True:
        found, cursor = fetch(limit, cursor)
        pages.append([o.order_id for o in found])
        if cursor is None:
            return pages


class TestOrderSearch:
    def test_a_phone_finds_its_orders_in_the_range_newest_first_a_page_at_a_time(self, backend):
        phone = a_phone()
        spelled = ["+86 " + phone[:3] + "-" + phone[3:7] + "-" + phone[7:], phone, "86" + phone, phone]
        made = []
        for n, (shown, day) in enumerate(zip(spelled, ["2026-11-01", "2026-11-02", "2026-11-02", "2026-11-05"],
                                             strict=True)):
            order = an_order(created_at=f"{day}T0{n}:00:00Z",
                             address={"name": "李四", "phone": shown, "detail": "x"})
            create(backend, order)
            made.append(order.order_id)
        create(backend, an_order(address={"name": "王五", "phone": a_phone(), "detail": "x"}))  # someone else
        create(backend, an_order(address=None))  # no address: not indexed, no harm

        def fetch(limit, cursor, status=None, start="2026-10-31T16:00:00Z", end="2026-11-05T16:00:00Z"):
            return backend.orders.by_phone(normalized_phone(phone), start, end, status, limit, cursor)

        assert page_all(fetch, 2) == [[made[3], made[2]], [made[1], made[0]], []]
        assert page_all(fetch, 3) == [[made[3], made[2], made[1]], [made[0]]]
        # [start, end): the 5th (UTC 03:00) is outside a range ending at the 2nd's end
        found, cursor = fetch(10, None, end="2026-11-02T16:00:00Z")
        assert [o.order_id for o in found] == [made[2], made[1], made[0]] and cursor is None
        paid = backend.orders.get(made[1], consistent=True)
        change(backend, paid, replace(paid, status=rules.PAID, paid_at="2026-11-02T05:00:00Z", version=1))
        found, cursor = fetch(10, None, status=rules.PAID)
        assert [o.order_id for o in found] == [made[1]] and found[0].status == rules.PAID and cursor is None
        # at most `examine` looked at: the cursor goes on from there
        found, cursor = backend.orders.by_phone(normalized_phone(phone), "2026-10-31T16:00:00Z",
                                                "2026-11-05T16:00:00Z", rules.PAID, 10, None, examine=2)
        assert found == [] and cursor is not None
        found, cursor = backend.orders.by_phone(normalized_phone(phone), "2026-10-31T16:00:00Z",
                                                "2026-11-05T16:00:00Z", rules.PAID, 10, cursor, examine=2)
        assert [o.order_id for o in found] == [made[1]]

    def test_a_deleted_order_leaves_the_phone_index(self, backend):
        phone = a_phone()
        order = an_order(address={"name": "赵六", "phone": phone, "detail": "x"})
        create(backend, order)
        tx = backend.new_tx()
        backend.orders.stage_delete(tx, order, on_stale=Stale)
        tx.commit()
        found, _ = backend.orders.by_phone(phone, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", None, 10, None)
        assert found == []

    def test_the_paid_days_newest_first_across_shards_with_ties_and_a_cursor(self, backend):
        # Days of the past no other test pays on (the table is shared).
        first = date(2003, 1, 2) + timedelta(days=random.randrange(360))
        day, before = first.isoformat(), (first - timedelta(days=1)).isoformat()
        paid = []
        for n in range(7):
            order = an_order(order_id="o" + uuid.uuid4().hex[:25])
            create(backend, order)
            # pairs paid in the same second: ties across and within shards
            after = replace(order, status=rules.PAID, version=1, paid_at=f"{day}T0{n // 2}:00:00Z")
            change(backend, order, after)
            paid.append(after)
        old = an_order()
        create(backend, old)
        change(backend, old, replace(old, status=rules.SHIPPED, version=1, paid_at=f"{before}T01:00:00Z"))
        newest_first = [o.order_id for o in sorted(paid, key=lambda o: (o.paid_at, o.order_id), reverse=True)]

        def fetch(limit, cursor, status=None):
            return backend.orders.paid_in_days([day, before], status, limit, cursor)

        for limit in (1, 3, 8):
            assert [i for page in page_all(fetch, limit) for i in page] == [*newest_first, old.order_id]
        found, cursor = fetch(10, None, status=rules.SHIPPED)
        assert [o.order_id for o in found] == [old.order_id] and cursor is None
