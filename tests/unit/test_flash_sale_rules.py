import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain import flash_sale as domain
from layers.domain import flash_sales as rules
from layers.domain.flash_sale import FlashSale
from tests.fakes.flash_sales import MemoryFlashSales
from tests.fakes.memory import MemoryStore


def test_stock_split_and_shard_count():
    assert rules.split_stock(50, 8) == [7, 7, 6, 6, 6, 6, 6, 6]
    assert sum(rules.split_stock(1_000_003, 64)) == 1_000_003
    assert rules.shards_for(5, 100_000) == 5
    assert rules.shards_for(10_000, 4_000) == 8
    assert rules.shards_for(10_000, None) == 8


def test_shard_order_tries_known_empty_shards_last():
    order = rules.shard_order(8, random.Random(1), skip={2, 5})
    assert sorted(order) == list(range(8)) and set(order[-2:]) == {2, 5}


def test_window():
    t0 = datetime(2026, 11, 22, 12, tzinfo=UTC)
    with pytest.raises(errors.NotStarted):
        rules.check_window(t0 - timedelta(seconds=1), t0, t0 + timedelta(hours=1), False)
    with pytest.raises(errors.Ended):
        rules.check_window(t0 + timedelta(hours=1), t0, t0 + timedelta(hours=1), False)
    with pytest.raises(errors.Ended):
        rules.check_window(t0, t0, t0 + timedelta(hours=1), True)
    rules.check_window(t0, t0, t0 + timedelta(hours=1), False)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200), st.integers(1, 16),
       st.lists(st.tuples(st.sampled_from(["take", "release"]), st.integers(0, 15), st.integers(1, 5)), max_size=150))
def test_sold_plus_remaining_is_always_the_stock(stock, k, steps):
    """Random takes and releases through the sale repository's own reservation handler
    (the in-memory twin; tests/contract holds it to DynamoDB's conditions, and
    tests/integration runs the same walk on DynamoDB Local)."""
    k = min(k, stock)
    store = MemoryStore()
    sales = MemoryFlashSales(store)
    sale = FlashSale(sale_id="f1", sku_id="s1", product_id="p1", title="t", category=None, price=1, stock=stock,
                     starts_at="2026-11-22T12:00:00Z", ends_at="2026-11-22T13:00:00Z", per_user_limit=1000,
                     shards=k, created_at="2026-11-20T00:00:00Z")
    tx = store.tx()
    sales.stage_create(tx, sale, rules.split_stock(stock, k), on_exists=None)
    tx.commit()
    held: list[dict] = []
    for action, shard, q in steps:
        if action == "take":
            r = domain.reservation(sale, shard % k, q, "u")
            tx = store.tx()
            sales.stage_take(tx, r)
            try:
                tx.commit()
                held.append(r)
            except domain.ShardEmpty:
                pass
        elif held:
            tx = store.tx()
            sales.stage_release(tx, held.pop(shard % len(held)))
            tx.commit()
        sold = sum(r["quantity"] for r in held)
        assert sold + sales.remaining(sale.sale_id) == stock
        assert all(units >= 0 for units in store.scan(("flash_shard", "f1")))
        assert sales.bought("f1", "u") == sold
