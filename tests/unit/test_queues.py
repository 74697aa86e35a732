from layers.storage import queues


def test_keys_spread_over_all_shards_and_are_stable():
    keys = {queues.key("OPEN_ORDERS", f"o{n}") for n in range(2000)}
    assert keys == set(queues.all_keys("OPEN_ORDERS"))
    assert queues.key("OPEN_ORDERS", "o42") == queues.key("OPEN_ORDERS", "o42")


def test_merged_reads_every_shard_in_order_up_to_the_limit():
    data = {k: sorted(f"2026-11-2{n % 9}T00:00:00Z#{k}-{n}" for n in range(i % 4))
            for i, k in enumerate(queues.all_keys("Q"))}
    everything = sorted(x for xs in data.values() for x in xs)
    assert list(queues.merged("Q", lambda k: iter(data[k]), lambda x: x, 10_000)) == everything
    assert list(queues.merged("Q", lambda k: iter(data[k]), lambda x: x, 5)) == everything[:5]
