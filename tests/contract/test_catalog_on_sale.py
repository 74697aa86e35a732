"""On and off sale: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid

import pytest

from layers.domain.catalog import Product, Sku, StockChange, set_on_sale


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def world(request):
    if request.param == "memory":
        from tests.fakes.catalog import MemoryCatalogRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return MemoryCatalogRepository(store), store.tx
    request.getfixturevalue("dynamodb")
    from layers.storage.catalog import DynamoCatalogRepository
    from layers.storage.tx import Tx

    return DynamoCatalogRepository(), Tx


class Stale(Exception):
    pass


def _made(catalog, new_tx) -> tuple[Product, str, str]:
    pid, live, gone = (f"{p}_{uuid.uuid4().hex[:12]}" for p in ("p", "s", "s"))
    product = Product(pid, "茶", None, (live, gone), None, "2026-11-29T01:00:00Z", "2026-11-29T01:00:00Z")
    tx = new_tx()
    for sku_id in (live, gone):
        catalog.stage_put_sku(tx, Sku(sku_id, pid, "茶", None, 100, 5), StockChange(set_to=5))
    catalog.stage_put_product(tx, product)
    tx.commit()
    tx = new_tx()
    catalog.stage_retire_sku(tx, gone)
    tx.commit()
    return product, live, gone


def _every_product_id(catalog) -> set[str]:
    """The operators' list paged through (DynamoDB Local holds other tests' products too)."""
    ids, cursor = set(), None
    while True:
        page, cursor = catalog.list_all_products(100, cursor)
        ids |= {p.product_id for p in page}
        if not cursor:
            return ids


class TestOnSale:
    def test_off_and_on_leave_the_retired_sku_alone(self, world):
        catalog, new_tx = world
        product, live, gone = _made(catalog, new_tx)
        assert catalog.get_skus([gone])[gone].retired is True
        off = set_on_sale(product, False, "2026-11-29T02:00:00Z")
        tx = new_tx()
        catalog.stage_set_on_sale(tx, product, off, [live], on_stale=Stale)
        tx.commit()
        assert catalog.get_product(product.product_id).active is False
        assert catalog.get_skus([live])[live].active is False
        assert product.product_id in _every_product_id(catalog)  # listed for operators while off sale

        on = set_on_sale(off, True, "2026-11-29T03:00:00Z")
        tx = new_tx()
        catalog.stage_set_on_sale(tx, off, on, [live], on_stale=Stale)
        tx.commit()
        skus = catalog.get_skus([live, gone])
        assert (skus[live].active, skus[gone].active, skus[gone].retired) == (True, False, True)

    def test_a_stale_product_or_a_retired_sku_refuses_the_whole_write(self, world):
        catalog, new_tx = world
        product, live, gone = _made(catalog, new_tx)
        stale = set_on_sale(product, False, "2026-11-29T02:00:00Z")
        tx = new_tx()
        catalog.stage_set_on_sale(tx, stale, set_on_sale(stale, True, "2026-11-29T03:00:00Z"), [live],
                                  on_stale=Stale)  # read as off sale; it is on sale as of 01:00
        with pytest.raises(Stale):
            tx.commit()
        tx = new_tx()
        catalog.stage_set_on_sale(tx, product, stale, [live, gone], on_stale=Stale)
        with pytest.raises(Stale):
            tx.commit()
        assert catalog.get_product(product.product_id).active is True
        assert catalog.get_skus([live])[live].active is True

    def test_naming_a_sku_in_an_edit_clears_its_mark(self, world):
        catalog, new_tx = world
        product, live, gone = _made(catalog, new_tx)
        tx = new_tx()
        catalog.stage_put_sku(tx, Sku(gone, product.product_id, "茶", None, 100, 5), StockChange())
        tx.commit()
        assert (catalog.get_skus([gone])[gone].retired, catalog.get_skus([gone])[gone].active) == (False, True)


class TestStockLedger:
    def test_an_entry_is_written_with_its_move_or_not_at_all(self, world):
        from layers.domain.catalog import StockEntry

        catalog, new_tx = world
        product, live, _ = _made(catalog, new_tx)
        pid = product.product_id
        for n, (delta, at) in enumerate(((3, "2026-11-29T02:00:00Z"), (-8, "2026-11-29T02:00:01Z"))):
            tx = new_tx()
            catalog.stage_adjust_stock(tx, live, delta, on_short=Stale)
            catalog.stage_stock_entry(tx, StockEntry(pid, f"se{n}", {live: delta}, "盘点", at, "owner"))
            tx.commit()
        tx = new_tx()
        catalog.stage_adjust_stock(tx, live, -1, on_short=Stale)  # 0 left: refused, and so is its entry
        catalog.stage_stock_entry(tx, StockEntry(pid, "se9", {live: -1}, "破损", "2026-11-29T02:00:02Z"))
        with pytest.raises(Stale):
            tx.commit()
        assert catalog.get_skus([live])[live].stock == 0
        page, cursor = catalog.stock_entries(pid, 1, None)
        assert [(e.entry_id, e.moves, e.by) for e in page] == [("se1", {live: -8}, "owner")] and cursor
        rest, _ = catalog.stock_entries(pid, 10, cursor)
        assert [(e.entry_id, e.moves, e.reason) for e in rest] == [("se0", {live: 3}, "盘点")]


class TestOnSaleRaces:
    def test_an_edit_in_the_same_second_that_adds_a_sku_refuses_the_write(self, world):
        from dataclasses import replace

        catalog, new_tx = world
        product, live, _ = _made(catalog, new_tx)
        added = "s_" + uuid.uuid4().hex[:12]
        edited = replace(product, sku_ids=(*product.sku_ids, added))  # same updated_at
        tx = new_tx()
        catalog.stage_put_sku(tx, Sku(added, product.product_id, "茶", None, 100, 5), StockChange(set_to=5))
        catalog.stage_put_product(tx, edited)
        tx.commit()
        tx = new_tx()
        catalog.stage_set_on_sale(tx, product, set_on_sale(product, False, "2026-11-29T02:00:00Z"), [live],
                                  on_stale=Stale)
        with pytest.raises(Stale):
            tx.commit()
        assert catalog.get_product(product.product_id).active is True
