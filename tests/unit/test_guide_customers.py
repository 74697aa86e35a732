"""A guide's customers on the in-memory stores: the record written with each binding, a
move ending the old guide's, the figures through the analytics counters, and who may
read whose list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from layers.domain import analytics, errors
from layers.domain.analytics import Fact, Positions
from layers.domain.attribution import Binding
from layers.domain.distributor import Distributor, Manager
from layers.domain.guide_customers import ended_at
from layers.services.guide_customers import GuideCustomerService
from tests.fakes.analytics import MemoryAnalyticsRepository
from tests.fakes.distribution import MemoryDistributorRepository
from tests.fakes.guide_customers import MemoryGuideCustomerReader
from tests.fakes.memory import MemoryStore

NOW = datetime(2026, 12, 3, tzinfo=UTC)


class Clock:
    def now(self):
        return NOW


def test_a_move_ends_the_old_binding_at_that_moment_unless_it_had_ended_already():
    old = Binding("c", "a", "2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z")
    assert ended_at(None, old) is None
    assert ended_at(old, Binding("c", "a", "2026-12-02T00:00:00Z", "2026-12-09T00:00:00Z")) is None  # same guide
    assert ended_at(old, Binding("c", "b", "2026-12-02T00:00:00Z", "2026-12-09T00:00:00Z")) == "2026-12-02T00:00:00Z"
    assert ended_at(old, Binding("c", "b", "2026-12-08T00:00:01Z", "2026-12-15T00:00:00Z")) is None  # ran out


@pytest.fixture
def world():
    store = MemoryStore()
    distributors = MemoryDistributorRepository(store)
    for guide, manager in (("a", "m1"), ("b", "m2")):
        store.items[("distributor", guide)] = Distributor(guide, "t", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z",
                                                          manager)
        store.items[("manager", manager)] = Manager(manager, "2026-11-01T00:00:00Z")
    service = GuideCustomerService(distributors=distributors, reader=MemoryGuideCustomerReader(store), clock=Clock())
    return store, distributors, service


def _count(store, facts):
    repo = MemoryAnalyticsRepository(store)
    for fact in facts:
        tx = store.tx()
        repo.stage_counted(tx, fact.event_id, Exception)
        for inc in analytics.increments(fact, Positions(1, 1, 1) if fact.kind == analytics.SALE else None):
            repo.stage_increment(tx, inc)
        tx.commit()


def test_the_list_holds_the_bound_and_the_moved_with_their_figures_through_the_guide(world):
    store, distributors, service = world
    distributors.put_binding(Binding("c1", "a", "2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z"), 0)
    distributors.put_binding(Binding("c2", "a", "2026-12-01T01:00:00Z", "2026-12-08T01:00:00Z"), 0)
    distributors.put_binding(Binding("c2", "b", "2026-12-02T00:00:00Z", "2026-12-09T00:00:00Z"), 0)
    _count(store, [
        Fact("order.paid:o1", analytics.SALE, "2026-12-01T02:00:00Z", "c1", 3000, "o1", distributor_id="a",
             goods=2800),
        Fact("order.refunded:r1", analytics.REFUND, "2026-12-01T03:00:00Z", "c1", 1000, "o1", distributor_id="a",
             goods=1000),
        Fact("order.paid:o2", analytics.SALE, "2026-12-02T02:00:00Z", "c2", 500, "o2", distributor_id="b", goods=500),
    ])
    rows, cursor = service.mine("a", 20, None)
    assert cursor is None
    assert [(r["user_id"], r["bound"], r["binding_expires_at"], r["orders"], r["spent"]) for r in rows] == [
        ("c2", False, "2026-12-02T00:00:00Z", 0, 0), ("c1", True, "2026-12-08T00:00:00Z", 1, 1800)]
    assert [(r["user_id"], r["orders"], r["spent"]) for r in service.mine("b", 20, None)[0]] == [("c2", 1, 500)]
    page, cursor = service.of_distributor("a", 1, None)
    assert [r["user_id"] for r in page] == ["c2"] and cursor
    assert [r["user_id"] for r in service.of_distributor("a", 1, cursor)[0]] == ["c1"]


def test_who_may_read_whose_list(world):
    _, _, service = world
    with pytest.raises(errors.Forbidden):
        service.mine("c1", 20, None)  # not a distributor
    with pytest.raises(errors.NotFound):
        service.of_distributor("c1", 20, None)
    assert service.for_manager("m1", "a", 20, None) == ([], None)
    for caller, guide in (("m1", "b"), ("m2", "a"), ("m1", "nobody"), ("a", "a"), ("c1", "a")):
        with pytest.raises(errors.Forbidden):
            service.for_manager(caller, guide, 20, None)
