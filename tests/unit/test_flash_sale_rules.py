import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain import flash_sales as rules


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


@settings(max_examples=300)
@given(st.integers(1, 200), st.integers(1, 16),
       st.lists(st.tuples(st.sampled_from(["take", "release"]), st.integers(0, 15), st.integers(1, 5)), max_size=300))
def test_sold_plus_remaining_is_always_the_stock(stock, k, steps):
    k = min(k, stock)
    shards = rules.Shards(rules.split_stock(stock, k))
    held: list[tuple[int, int]] = []
    for action, shard, q in steps:
        shard %= k
        if action == "take":
            if shards.take(shard, q):
                held.append((shard, q))
        elif held:
            s, hq = held.pop(shard % len(held))
            shards.release(s, hq)
        assert shards.sold + sum(shards.remaining) == stock
        assert all(r >= 0 for r in shards.remaining)
        assert shards.sold == sum(q for _, q in held)
