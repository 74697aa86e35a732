"""Products on and off sale, the operators' list and edits, on the in-memory
repositories."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions import schemas
from layers.domain import errors
from layers.domain.catalog import Product, Sku, retired_sku_ids, set_on_sale, shown_to_operators
from layers.services.catalog import CatalogService
from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
from tests.fakes.memory import FakeClock, MemoryStore


@pytest.fixture
def shop():
    store, clock = MemoryStore(), FakeClock()
    repo = MemoryCatalogRepository(store, MemorySettingsRepository(store))
    return {"catalog": CatalogService(catalog=repo, new_tx=store.tx, clock=clock), "repo": repo, "clock": clock,
            "store": store}


def _product(**kw) -> schemas.ProductInput:
    return schemas.ProductInput.model_validate({
        "title": "手环", "category": "数码", "skus": [{"price": 1990, "stock": 12, "spec": {"色": "黑"}},
                                                  {"price": 990, "stock": 3}], **kw})


def test_the_transition_is_pure_and_idempotent():
    p = Product("p1", "t", None, ("s1",), None, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert set_on_sale(p, True, "later") is p
    off = set_on_sale(p, False, "later")
    assert (off.active, off.updated_at, p.active) == (False, "later", True)
    sku = Sku("s1", "p1", "t", None, 100, 1)
    assert retired_sku_ids(p, {"s1": replace(sku, active=False)}) == {"s1"}  # stored before the mark
    assert retired_sku_ids(off, {"s1": replace(sku, active=False)}) == set()
    assert retired_sku_ids(off, {"s1": replace(sku, active=False, retired=True)}) == {"s1"}
    assert shown_to_operators(off, replace(sku, active=False)) and not shown_to_operators(
        off, replace(sku, active=False, retired=True))


def test_off_sale_hides_the_product_and_its_skus_then_on_sale_brings_back_all_but_the_retired(shop):
    catalog, repo = shop["catalog"], shop["repo"]
    made = catalog.create_product(_product(skus=[{"price": 1990, "stock": 12}, {"price": 990, "stock": 3},
                                                 {"price": 500, "stock": 1}]))
    keep, other, drop = (s["id"] for s in made["skus"])
    catalog.update_product(made["id"], _product(skus=[{"id": keep, "price": 1990}, {"id": other, "price": 990}]))
    assert repo.get_skus([drop])[drop].retired is True

    shop["clock"].advance(5)
    off = catalog.set_on_sale(made["id"], False)
    assert off["active"] is False and [s["id"] for s in off["skus"]] == [keep, other]  # the operators still see them
    assert {i: s.active for i, s in repo.get_skus([keep, other, drop]).items()} == {keep: False, other: False,
                                                                                   drop: False}
    with pytest.raises(errors.NotFound):
        catalog.get_product(made["id"])
    assert catalog.list_products(10, None)[0] == []
    assert [p["id"] for p in catalog.list_all_products(10, None)[0]] == [made["id"]]
    assert catalog.set_on_sale(made["id"], False) == catalog.get_product_admin(made["id"])  # already off: no change

    shop["clock"].advance(5)
    on = catalog.set_on_sale(made["id"], True)
    assert on["active"] is True and [s["id"] for s in on["skus"]] == [keep, other]
    assert {i: s.active for i, s in repo.get_skus([keep, other, drop]).items()} == {keep: True, other: True,
                                                                                   drop: False}
    assert [p["id"] for p in catalog.list_products(10, None)[0]] == [made["id"]]


def test_a_sku_retired_before_the_mark_stays_off_sale(shop):
    catalog, repo, store = shop["catalog"], shop["repo"], shop["store"]
    made = catalog.create_product(_product())
    old = made["skus"][1]["id"]
    with store.lock:  # as an item written before `retired` existed: inactive, unmarked
        store.items[("sku", old)] = replace(store.items[("sku", old)], active=False, retired=False)
    catalog.set_on_sale(made["id"], False)
    assert repo.get_skus([old])[old].retired is True
    catalog.set_on_sale(made["id"], True)
    assert repo.get_skus([old])[old].active is False


def test_a_product_edited_meanwhile_is_read_again(shop):
    catalog, repo = shop["catalog"], shop["repo"]
    made = catalog.create_product(_product())
    real = repo.stage_set_on_sale
    calls = []

    def racing(tx, before, after, sku_ids, on_stale):
        if not calls:  # an edit lands between the read and the commit
            shop["clock"].advance(1)
            catalog.update_product(made["id"], _product(title="新标题"))
        calls.append(before.title)
        real(tx, before, after, sku_ids, on_stale)

    repo.stage_set_on_sale = racing
    off = catalog.set_on_sale(made["id"], False)
    assert calls == ["手环", "新标题"] and off["title"] == "新标题" and off["active"] is False


def test_unknown_product(shop):
    with pytest.raises(errors.NotFound):
        shop["catalog"].set_on_sale("p_missing", True)
    with pytest.raises(errors.NotFound):
        shop["catalog"].get_product_admin("p_missing")


# -- the stock ledger ------------------------------------------------------------------------------

def test_every_operators_move_of_stock_has_its_entry_in_the_same_transaction(shop):
    catalog = shop["catalog"]
    made = catalog.create_product(_product())
    a, b = (s["id"] for s in made["skus"])
    shop["clock"].advance(1)
    catalog.adjust_stock(a, -2, "破损", by="alice")
    shop["clock"].advance(1)
    catalog.update_product(made["id"], _product(skus=[{"id": a, "price": 1990, "stock_delta": 5},
                                                      {"id": b, "price": 990, "stock": 7, "expected_stock": 3},
                                                      {"price": 100, "stock": 4}]))
    shop["clock"].advance(1)
    catalog.update_product(made["id"], _product(skus=[{"id": a, "price": 1500}, {"id": b, "price": 990}]))  # no move
    entries, cursor = catalog.stock_entries(made["id"], 10, None)
    assert cursor is None
    [edit, adjust, created] = entries
    new = [i for i in edit["moves"] if i not in (a, b)]
    assert edit["moves"] == {a: 5, b: 4, new[0]: 4} and edit["reason"] == "编辑商品"
    assert (adjust["moves"], adjust["reason"], adjust["by"]) == ({a: -2}, "破损", "alice")
    assert (created["moves"], created["reason"]) == ({a: 12, b: 3}, "新建商品")
    skus = shop["repo"].get_skus([a, b])
    assert (skus[a].stock, skus[b].stock) == (15, 7)
    assert [e["id"] for e in catalog.stock_entries(made["id"], 2, None)[0]] == [edit["id"], adjust["id"]]


def test_a_refused_move_writes_no_entry(shop):
    catalog = shop["catalog"]
    made = catalog.create_product(_product())
    a = made["skus"][1]["id"]
    with pytest.raises(errors.InvalidState):
        catalog.adjust_stock(a, -4, "盘点")  # 3 left
    with pytest.raises(errors.StockChanged):
        catalog.update_product(made["id"], _product(skus=[{"id": a, "price": 990, "stock_delta": -4}]))
    assert [e["reason"] for e in catalog.stock_entries(made["id"], 10, None)[0]] == ["新建商品"]
    with pytest.raises(errors.NotFound):
        catalog.stock_entries("p_missing", 10, None)
