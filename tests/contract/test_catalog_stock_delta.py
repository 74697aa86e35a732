"""Stock by delta: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid

import pytest

from layers.domain import errors
from layers.domain.catalog import Sku, StockChange


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


class Short(Exception):
    pass


class TestStockByDelta:
    def test_adds_and_takes_never_below_zero(self, world):
        catalog, new_tx = world
        sku_id = "s_" + uuid.uuid4().hex[:12]
        tx = new_tx()
        catalog.stage_put_sku(tx, Sku(sku_id=sku_id, product_id="p1", title="茶", category=None, price=100, stock=5),
                              StockChange(set_to=5))
        tx.commit()
        for delta in (3, -8):
            tx = new_tx()
            catalog.stage_adjust_stock(tx, sku_id, delta, on_short=Short)
            tx.commit()
        assert catalog.get_skus([sku_id])[sku_id].stock == 0
        tx = new_tx()
        catalog.stage_adjust_stock(tx, sku_id, -1, on_short=Short)
        with pytest.raises(Short):
            tx.commit()
        assert catalog.get_skus([sku_id])[sku_id].stock == 0

    def test_a_missing_sku_is_not_created(self, world):
        catalog, new_tx = world
        sku_id = "s_" + uuid.uuid4().hex[:12]
        tx = new_tx()
        catalog.stage_adjust_stock(tx, sku_id, 5, on_short=lambda: errors.NotFound("no such sku"))
        with pytest.raises(errors.NotFound):
            tx.commit()
        assert catalog.get_skus([sku_id]) == {}
