"""Sparse work queues on gsi2, spread over shards.

A queue such as "orders waiting for payment" gets a write for every order; on one
partition key it would be limited to about 1,000 writes/s on its index partition, and
an index that cannot keep up throttles the table's own writes. So each queue is 16 keys
(`<QUEUE>#00` .. `#15`, chosen by a hash of the item's id), and a sweep reads all 16.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator

SHARDS = 16


def key(queue: str, item_id: str) -> str:
    return f"{queue}#{int(hashlib.sha1(item_id.encode()).hexdigest()[:4], 16) % SHARDS:02d}"


def all_keys(queue: str) -> list[str]:
    return [f"{queue}#{n:02d}" for n in range(SHARDS)]


def merged(queue: str, query: Callable[[str], Iterable], sort_key: Callable, limit: int) -> Iterator:
    """The queue's items across its shards, in sort-key order, at most `limit`."""
    streams = [query(k) for k in all_keys(queue)]
    for n, item in enumerate(heapq.merge(*streams, key=sort_key)):
        if n >= limit:
            return
        yield item
