"""In-memory twin of layers/storage/rate_limits.py. Keys: ("rate", key, window start) -> hits."""

from __future__ import annotations

from layers.domain.rate_limit import window_start
from tests.fakes.memory import MemoryStore


class MemoryRateLimiter:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def stage_hit(self, tx, key: str, limit: int, window_s: int, epoch_s: int, on_full) -> None:
        k = ("rate", key, window_start(epoch_s, window_s))
        tx.add(lambda items: items.get(k, 0) < limit, lambda items: items.__setitem__(k, items.get(k, 0) + 1),
               on_full)

    def hit(self, key: str, limit: int, window_s: int, epoch_s: int) -> bool:
        k = ("rate", key, window_start(epoch_s, window_s))
        with self.store.lock:
            hits = self.store.items.get(k, 0)
            if hits >= limit:
                return False
            self.store.items[k] = hits + 1
            return True
