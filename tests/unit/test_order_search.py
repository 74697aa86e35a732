"""The console's order search: phones compared by their digits, ranges of
Beijing days (at most 31), statuses checked, and the search by phone or by paid day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain.order_search import MAX_DAYS, checked_status, day_range, normalized_phone
from layers.services.order_search import OrderSearch
from tests.contract.test_order_repository import an_order
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.orders import MemoryOrderRepository


def test_a_phone_is_its_digits_without_the_country_code():
    for spelled in ("13800138000", "+86 138-0013-8000", "86 13800138000", "0086-138 0013 8000", " 138 0013 8000 "):
        assert normalized_phone(spelled) == "13800138000"
    assert normalized_phone("021-5555 6666") == "02155556666"
    assert normalized_phone("12") is None and normalized_phone(None) is None and normalized_phone("电话") is None


def test_a_range_of_beijing_days():
    r = day_range("2026-11-01", "2026-11-03", "2026-11-29")
    assert r.days_newest_first() == ["2026-11-03", "2026-11-02", "2026-11-01"]
    assert r.start_utc.astimezone(UTC).isoformat() == "2026-10-31T16:00:00+00:00"
    assert r.end_utc.astimezone(UTC).isoformat() == "2026-11-03T16:00:00+00:00"
    assert day_range(None, None, "2026-11-29").days_newest_first() == ["2026-11-29"]
    assert day_range("2026-11-20", None, "2026-11-29").days_newest_first() == ["2026-11-20"]
    assert len(day_range("2026-11-01", "2026-12-01", "x").days_newest_first()) == MAX_DAYS
    for first, last in (("2026-11-01", "2026-12-02"), ("2026-11-05", "2026-11-04"), ("11/01", None)):
        with pytest.raises(errors.InvalidRequest):
            day_range(first, last, "2026-11-29")


def test_statuses_are_the_orders_own():
    assert checked_status("PAID") == "PAID" and checked_status("") is None and checked_status(None) is None
    with pytest.raises(errors.InvalidRequest):
        checked_status("LOST")


def test_find_by_phone_over_days_or_the_orders_paid_in_them():
    store = MemoryStore()
    repo = MemoryOrderRepository(store)
    clock = FakeClock(datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    search = OrderSearch(orders=repo, clock=clock, view=lambda o: {"id": o.order_id, "status": o.status})

    def put(order):
        tx = store.tx()
        repo.stage_create(tx, order, on_exists=RuntimeError)
        tx.commit()
        return order

    # placed at 23:30 Beijing on the 27th (15:30 UTC): the 27th, not the 28th
    late = put(an_order(created_at="2026-11-27T15:30:00Z", address={"name": "a", "phone": "13900001111", "detail": "x"}))
    today = put(replace(an_order(address={"name": "b", "phone": "+86 139 0000 1111", "detail": "x"}),
                        created_at="2026-11-29T01:00:00Z", status=order_rules.PAID, paid_at="2026-11-29T01:01:00Z"))
    put(replace(an_order(), created_at="2026-11-29T01:00:00Z", status=order_rules.PAID, paid_at="2026-11-29T01:02:00Z"))

    found = search.find(phone="139-0000-1111", first="2026-11-27", last="2026-11-29")
    assert [o["id"] for o in found["items"]] == [today.order_id, late.order_id] and found["by"] == "phone"
    found = search.find(phone="13900001111", first="2026-11-28", last="2026-11-29")
    assert [o["id"] for o in found["items"]] == [today.order_id]
    found = search.find(phone="13900001111", first="2026-11-27", last="2026-11-29", status="PENDING_PAYMENT")
    assert [o["id"] for o in found["items"]] == [late.order_id]
    found = search.find()  # today's paid orders
    assert found["by"] == "paid" and found["from"] == found["to"] == "2026-11-29" and len(found["items"]) == 2
    page = search.find(limit=1)
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = search.find(limit=1, cursor=page["next_cursor"])
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {o["id"] for o in found["items"]}
    for bad in ({"phone": "12"}, {"status": "LOST"}, {"first": "2026-10-01", "last": "2026-11-29"}):
        with pytest.raises(errors.InvalidRequest):
            search.find(**bad)
