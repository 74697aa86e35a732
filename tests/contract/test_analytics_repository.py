"""The analytics repository: in memory and on DynamoDB Local, alike. A marker lets an
event count once; a buyer's slots are taken once each, and asking again for the same
order gives the same answer, even under concurrency; rankings come back highest first."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from layers.domain.analytics import DAY, DISTRIBUTOR, PRODUCT, Increment, Key


class _Counted(Exception):
    def __init__(self, event_id):
        super().__init__(event_id)
        self.event_id = event_id


@dataclass
class Env:
    repo: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.analytics import MemoryAnalyticsRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryAnalyticsRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.analytics import DynamoAnalyticsRepository
    from layers.storage.tx import Tx

    return Env(DynamoAnalyticsRepository(), Tx)


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _count(env: Env, event_id: str, *incs: Increment) -> str:
    tx = env.new_tx()
    env.repo.stage_counted(tx, event_id, _Counted)
    for inc in incs:
        env.repo.stage_increment(tx, inc)
    try:
        tx.commit()
    except _Counted as exc:
        assert exc.event_id == event_id
        return "counted already"
    return "counted"


class TestAnalyticsRepository:
    def test_an_event_counts_once_and_its_increments_go_with_its_marker(self, env):
        day = f"3{_uid()[:3]}-01-01"
        inc = Increment(Key(DAY, day), {"gmv": 500, "orders": 1})
        event = "order.paid:" + _uid()
        assert _count(env, event, inc) == "counted"
        assert _count(env, event, inc) == "counted already"
        assert env.repo.days([day])[day]["gmv"] == 500
        assert _count(env, "order.paid:" + _uid(), inc) == "counted"
        assert env.repo.days([day, "1970-01-01"]) == {day: env.repo.days([day])[day]}
        assert env.repo.days([day])[day]["orders"] == 2

    def test_visitors_sit_beside_the_counters(self, env):
        day = f"3{_uid()[:3]}-01-02"
        env.repo.set_visitors(day, 90)
        _count(env, "e:" + _uid(), Increment(Key(DAY, day), {"buyers": 9}))
        env.repo.set_visitors(day, 100)  # fetched again: replaced, not added
        assert {k: env.repo.days([day])[day][k] for k in ("visitors", "buyers")} == {"visitors": 100, "buyers": 9}

    def test_buyer_slots_first_second_then_later_and_the_same_order_same_answer(self, env):
        user, period = "u_" + _uid(), "2026-11"
        assert env.repo.buyer_position(user, period, "o1") == 1
        assert env.repo.buyer_position(user, period, "o1") == 1
        assert env.repo.buyer_position(user, period, "o2") == 2
        assert env.repo.buyer_position(user, period, "o3") == 3
        assert env.repo.buyer_position(user, period, "o2") == 2
        assert env.repo.buyer_position(user, "2026-12", "o3") == 1
        assert env.repo.buyer_position(user, "2026-12-01", "o3", most=1) == 1
        assert env.repo.buyer_position(user, "2026-12-01", "o4", most=1) == 2
        assert env.repo.buyer_position(user, "2026-12-01", "o3", most=1) == 1

    def test_concurrent_orders_of_one_buyer_take_distinct_slots(self, env):
        user = "u_" + _uid()
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda n: env.repo.buyer_position(user, "ALL", f"o{n}"), range(8)))
        assert sorted(got) == [1, 2, 3, 3, 3, 3, 3, 3]

    def test_rankings_highest_first_and_limited(self, env):
        month = f"3{_uid()[:3]}-02"
        for n, amount in enumerate([300, 900, 100, 500]):
            _count(env, "e:" + _uid(), Increment(Key(DISTRIBUTOR, month, f"d{n}"),
                                                 {"sales_amount": amount, "orders": 1, "commission": amount // 10}))
        _count(env, "e:" + _uid(), Increment(Key(DISTRIBUTOR, month, "d2"), {"sales_amount": 700, "orders": 1}))
        top = env.repo.ranking(DISTRIBUTOR, month, 3)
        assert [(c["subject"], c["sales_amount"], c["orders"]) for c in top] == [
            ("d1", 900, 1), ("d2", 800, 2), ("d3", 500, 1)]
        _count(env, "e:" + _uid(), Increment(Key(PRODUCT, month, "p1"), {"quantity": 2, "gmv": 40}, {"title": "茶"}))
        assert env.repo.ranking(PRODUCT, month, None) == [
            {"kind": PRODUCT, "period": month, "subject": "p1", "title": "茶", "quantity": 2, "gmv": 40}]
