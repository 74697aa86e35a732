"""In-memory twin of layers/storage/pickup.py: one item per code, put only if absent."""

from __future__ import annotations

from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryPickupCodeRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def stage_claim(self, tx: MemoryTx, code: str, order_id: str, on_taken) -> None:
        key = ("pickup_code", code)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, order_id), on_taken)

    def order_of(self, code: str) -> str | None:
        return self.store.get(("pickup_code", code))
