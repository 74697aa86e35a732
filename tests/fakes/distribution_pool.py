"""In-memory twin of layers/storage/distribution_pool.py: one value, ("distribution_pool",)."""

from __future__ import annotations

from layers.domain.distribution_pool import Pool
from tests.fakes.memory import MemoryStore

_KEY = ("distribution_pool",)


class MemoryPoolRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.reads = 0

    def get(self, fresh: bool = False) -> Pool | None:
        self.reads += 1
        return self.store.get(_KEY)

    def put(self, pool: Pool, on_stale) -> None:
        with self.store.lock:
            current = self.store.items.get(_KEY)
            if (current.version if current else 0) != pool.version - 1:
                raise on_stale()
            self.store.items[_KEY] = pool
