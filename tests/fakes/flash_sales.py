"""In-memory twin of layers/storage/flash_sales.py, with the same conditional semantics:

- taking a "flash" reservation needs the shopper's `bought + quantity <= limit` (or no
  purchase yet; else `LimitExceeded`) and the shard's `remaining >= quantity` (else
  `ShardEmpty`); giving it back adds the units and subtracts the purchase, unconditioned;
- a sale changes only while it still has the status it was read with;
- an admission counts while fewer than `limit` attempts were counted in the window.

Keys in the store: ("flash_sale", id) -> FlashSale, ("flash_shard", id, k) -> int,
("flash_user", id, user_id) -> int, ("flash_rate", id, user_id, window) -> int.
"""

from __future__ import annotations

from layers.domain import errors
from layers.domain.flash_sale import FlashSale, ShardEmpty
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryFlashSales:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(sale_id: str) -> tuple:
        return ("flash_sale", sale_id)

    def get(self, sale_id: str) -> FlashSale | None:
        return self.store.get(self._key(sale_id))

    def list_sales(self, limit: int, cursor: dict | None):
        sales = sorted(self.store.scan(("flash_sale",)), key=lambda s: f"{s.starts_at}#{s.sale_id}", reverse=True)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(sales)
        return sales[start:start + limit], ({"offset": start + limit} if more else None)

    def remaining(self, sale_id: str) -> int:
        return sum(max(0, r) for r in self.store.scan(("flash_shard", sale_id)))

    def stage_create(self, tx: MemoryTx, sale: FlashSale, shard_units: list[int], on_exists) -> None:
        key = self._key(sale.sale_id)

        def apply(items):
            items[key] = sale
            for k, units in enumerate(shard_units):
                items[("flash_shard", sale.sale_id, k)] = units

        tx.add(lambda items: key not in items, apply, on_exists)

    def stage_change(self, tx: MemoryTx, before: FlashSale, after: FlashSale, on_stale) -> None:
        if after.status == before.status:
            return
        key = self._key(before.sale_id)
        tx.add(lambda items: key in items and items[key].status == before.status,
               lambda items: items.__setitem__(key, after), on_stale)

    def admit(self, sale_id: str, user_id: str, window: int, expires_at: int, limit: int) -> bool:
        key = ("flash_rate", sale_id, user_id, window)
        with self.store.lock:
            attempts = self.store.items.get(key)
            if attempts is not None and attempts >= limit:
                return False
            self.store.items[key] = (attempts or 0) + 1
            return True

    def stage_take(self, tx: MemoryTx, reservation: dict) -> None:
        sale_id, user_id = reservation["sale_id"], reservation["user_id"]
        q, limit = int(reservation["quantity"]), int(reservation["limit"])
        user, shard = ("flash_user", sale_id, user_id), ("flash_shard", sale_id, int(reservation["shard"]))
        tx.add(lambda items: user not in items or items[user] <= limit - q,
               lambda items: items.__setitem__(user, items.get(user, 0) + q),
               lambda: errors.LimitExceeded(f"at most {limit} per shopper in this sale"))
        tx.add(lambda items: shard in items and items[shard] >= q,
               lambda items: items.__setitem__(shard, items[shard] - q),
               lambda: ShardEmpty("this shard is empty"))

    def stage_release(self, tx: MemoryTx, reservation: dict) -> None:
        sale_id, q = reservation["sale_id"], int(reservation["quantity"])
        user = ("flash_user", sale_id, reservation["user_id"])
        shard = ("flash_shard", sale_id, int(reservation["shard"]))

        def apply(items):
            items[shard] = items.get(shard, 0) + q
            items[user] = items.get(user, 0) - q

        tx.add(lambda items: True, apply)

    # What the tests read (the table's counters).
    def bought(self, sale_id: str, user_id: str) -> int:
        return self.store.get(("flash_user", sale_id, user_id), 0)
