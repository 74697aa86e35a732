"""One contract for the store repository: the in-memory twin (tests/fakes/stores.py) and
DynamoDB's (layers/storage/stores.py) answer alike: stores created once and changed at
their version, every store in one read, and one staff place per person."""

from __future__ import annotations

import uuid

import pytest

from layers.domain import errors
from layers.domain import stores as rules


class _Raced(Exception):
    pass


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def repo(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.stores import MemoryStoreRepository

        memory = MemoryStore()
        return MemoryStoreRepository(memory), memory.tx
    request.getfixturevalue("dynamodb")
    from layers.storage.stores import DynamoStoreRepository
    from layers.storage.tx import Tx

    return DynamoStoreRepository(), Tx


def _store(name="店", at="2026-12-06T08:00:00Z") -> rules.Store:
    f = rules.fields(name, "上海市黄浦区人民大道 1 号", 31.2335, 121.4752, "021-6321 1234", "10:00-22:00", True)
    return rules.new(rules.new_store_id(), f, at)


def test_a_store_is_created_once_and_changed_at_its_version(repo):
    stores, new_tx = repo
    store = _store()
    tx = new_tx()
    stores.stage_create(tx, store, on_exists=lambda: errors.InvalidState("taken"))
    tx.commit()
    assert stores.get(store.store_id) == store
    tx = new_tx()
    stores.stage_create(tx, store, on_exists=lambda: errors.InvalidState("taken"))
    with pytest.raises(errors.InvalidState):
        tx.commit()
    edited = rules.edit(store, rules.fields("新名", "地址", -33.5, 151.25, "95555", "全天", False), "2026-12-07T00:00:00Z")
    tx = new_tx()
    stores.stage_change(tx, store, edited, on_stale=_Raced)
    tx.commit()
    got = stores.get(store.store_id)
    assert got == edited and got.pickup is False and got.lat == -33.5
    tx = new_tx()
    stores.stage_change(tx, store, edited, on_stale=_Raced)  # from version 1 again: stale
    with pytest.raises(_Raced):
        tx.commit()
    assert stores.get("st_" + uuid.uuid4().hex) is None
    assert store.store_id in {s.store_id for s in stores.all()}
    page, cursor = stores.list(1, None)
    assert len(page) == 1
    more = stores.put(rules.edit(got, rules.fields("覆盖", "地址", 1, 2, "95555", "全天", True), "2026-12-08T00:00:00Z"))
    assert more is None and stores.get(store.store_id).name == "覆盖"


def test_one_staff_place_per_person_moved_only_from_where_it_was_read(repo):
    stores, new_tx = repo
    a, b = _store("甲"), _store("乙")
    guide = "u_" + uuid.uuid4().hex[:12]
    first = rules.Staff(a.store_id, rules.GUIDE, guide, "2026-12-06T08:00:00Z", "owner")
    tx = new_tx()
    stores.stage_add_staff(tx, first, None, on_raced=_Raced)
    tx.commit()
    assert stores.store_of_guide(guide) == a.store_id and stores.place(rules.GUIDE, guide) == first
    assert stores.staff_of_operator(guide) is None  # an operator of that name is another person
    tx = new_tx()
    stores.stage_add_staff(tx, first, None, on_raced=_Raced)  # read as absent: it is not
    with pytest.raises(_Raced):
        tx.commit()
    moved = rules.Staff(b.store_id, rules.GUIDE, guide, "2026-12-06T09:00:00Z", "owner")
    tx = new_tx()
    stores.stage_add_staff(tx, moved, first, on_raced=_Raced)
    tx.commit()
    assert stores.store_of_guide(guide) == b.store_id
    assert [s.staff_id for s in stores.staff(b.store_id)] == [guide]
    assert stores.staff(a.store_id) == []
    tx = new_tx()
    stores.stage_remove_staff(tx, first, on_raced=_Raced)  # not in a any more
    with pytest.raises(_Raced):
        tx.commit()
    clerk = rules.Staff(b.store_id, rules.OPERATOR, "clerk" + uuid.uuid4().hex[:6], "2026-12-06T10:00:00Z", "owner")
    tx = new_tx()
    stores.stage_add_staff(tx, clerk, None, on_raced=_Raced)
    tx.commit()
    assert [s.kind for s in stores.staff(b.store_id)] == [rules.OPERATOR, rules.GUIDE]
    assert stores.staff_of_operator(clerk.staff_id) == b.store_id
    tx = new_tx()
    stores.stage_remove_staff(tx, moved, on_raced=_Raced)
    tx.commit()
    assert stores.store_of_guide(guide) is None and [s.staff_id for s in stores.staff(b.store_id)] == [clerk.staff_id]
