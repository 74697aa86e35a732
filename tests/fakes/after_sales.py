"""The after-sale repository in memory, with the conditions of layers/storage/after_sales.py:
a stale version fails, a line locked by an open after-sale fails, locks go with the end."""

from __future__ import annotations

from layers.domain import after_sale as domain
from layers.domain.after_sale import AfterSale
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryAfterSaleRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(order_id: str, after_sale_id: str) -> tuple:
        return ("after_sale", order_id, after_sale_id)

    @staticmethod
    def _lock(order_id: str, line) -> tuple:
        return ("after_sale_lock", order_id, int(line))

    def get(self, order_id: str, after_sale_id: str) -> AfterSale | None:
        return self.store.get(self._key(order_id, after_sale_id))

    def for_order(self, order_id: str) -> list[AfterSale]:
        return self.store.scan(("after_sale", order_id))

    def _all(self) -> list[AfterSale]:
        return self.store.scan(("after_sale",))

    def for_user(self, user_id: str, limit: int, cursor: dict | None):
        mine = sorted((a for a in self._all() if a.user_id == user_id),
                      key=lambda a: (a.created_at, a.after_sale_id), reverse=True)
        return self._page(mine, limit, cursor)

    def by_status(self, status: str, kind: str | None, limit: int, cursor: dict | None):
        found = sorted((a for a in self._all() if a.status == status and (kind is None or a.kind == kind)),
                       key=lambda a: (a.created_at, a.after_sale_id))
        return self._page(found, limit, cursor)

    @staticmethod
    def _page(found, limit, cursor):
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(found)
        return found[start:start + limit], ({"offset": start + limit} if more else None)

    def due(self, queue: str, until_iso: str, limit: int = 100) -> list[AfterSale]:
        timed = [(domain.queue_of(a), a) for a in self._all()]
        due = sorted(((t[1], a) for t, a in timed if t is not None and t[0] == queue and t[1] <= until_iso),
                     key=lambda d: d[0])
        return [a for _, a in due][:limit]

    def open_count(self, user_id: str) -> int:
        return max(0, int(self.store.get(("after_sale_count", user_id)) or 0))

    def _count(self, tx: MemoryTx, user_id: str, delta: int) -> None:
        if delta:
            key = ("after_sale_count", user_id)
            tx.add(lambda items: True, lambda items: items.__setitem__(key, items.get(key, 0) + delta))

    def stage_create(self, tx: MemoryTx, a: AfterSale, on_exists, on_line_busy) -> None:
        key = self._key(a.order_id, a.after_sale_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, a), on_exists)
        for line in sorted({int(ln["line"]) for ln in a.lines}):
            lock = self._lock(a.order_id, line)
            tx.add(lambda items, lock=lock: lock not in items,
                   lambda items, lock=lock: items.__setitem__(lock, a.after_sale_id), on_line_busy)
        self._count(tx, a.user_id, domain.counted_moves(None, a))

    def stage_change(self, tx: MemoryTx, before: AfterSale, after: AfterSale, on_stale) -> None:
        key = self._key(before.order_id, before.after_sale_id)
        tx.add(lambda items: key in items and items[key].version == before.version,
               lambda items: items.__setitem__(key, after), on_stale)
        if before.open and not after.open:
            for line in sorted({int(ln["line"]) for ln in before.lines}):
                lock = self._lock(before.order_id, line)
                tx.add(lambda items, lock=lock: items.get(lock) == before.after_sale_id,
                       lambda items, lock=lock: items.pop(lock), on_stale)
        self._count(tx, before.user_id, domain.counted_moves(before, after))
