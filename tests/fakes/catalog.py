"""In-memory twins of layers/storage/catalog.py, with the same conditional semantics:
taking stock needs `stock >= quantity` and an active SKU (else `SoldOut`), giving it
back needs the SKU to exist.

Keys in the store: ("sku", id) -> Sku, ("product", id) -> Product, ("settings",) -> ShopSettings.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from layers.domain import errors
from layers.domain.catalog import Product, Sku, StockChange, StockEntry
from layers.domain.shop_settings import ShopSettings
from tests.fakes.memory import MemoryStore, MemoryTx

_SETTINGS = ("settings",)


def _sku_key(sku_id: str) -> tuple:
    return ("sku", sku_id)


def _product_key(product_id: str) -> tuple:
    return ("product", product_id)


class MemorySettingsRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def load_settings(self, fresh: bool = False) -> ShopSettings:
        return self.store.get(_SETTINGS) or ShopSettings()

    def save_settings(self, value: ShopSettings, now: str) -> None:
        with self.store.lock:
            self.store.items[_SETTINGS] = value


class MemoryStockRepository:
    def __init__(self, store: MemoryStore, settings: MemorySettingsRepository | None = None) -> None:
        self.store = store
        self._settings = settings or MemorySettingsRepository(store)

    def get_skus(self, sku_ids: list[str]) -> dict[str, Sku]:
        found = {}
        for sku_id in dict.fromkeys(sku_ids):
            sku = self.store.get(_sku_key(sku_id))
            if sku is not None:
                found[sku_id] = sku
        return found

    def stage_take(self, tx: MemoryTx, reservation: dict) -> None:
        key, q = _sku_key(reservation["sku_id"]), reservation["quantity"]
        sku_id = reservation["sku_id"]

        def check(items):
            sku = items.get(key)
            return sku is not None and sku.stock >= q and sku.active

        def apply(items):
            items[key] = replace(items[key], stock=items[key].stock - q)

        tx.add(check, apply, lambda: errors.SoldOut(f"not enough stock for sku {sku_id}", sku_id=sku_id))

    def stage_release(self, tx: MemoryTx, reservation: dict) -> None:
        key, q = _sku_key(reservation["sku_id"]), reservation["quantity"]

        def apply(items):
            items[key] = replace(items[key], stock=items[key].stock + q)

        tx.add(lambda items: key in items, apply)

    def load_settings(self, fresh: bool = False) -> ShopSettings:
        return self._settings.load_settings(fresh)


class MemoryCatalogRepository(MemoryStockRepository):
    _ids = itertools.count(1)
    _staged = itertools.count(1)  # the stock ledger's order within one second

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):020d}"

    def get_product(self, product_id: str) -> Product | None:
        return self.store.get(_product_key(product_id))

    def get_products(self, product_ids: list[str]) -> dict[str, Product]:
        return {i: p for i in dict.fromkeys(product_ids) if (p := self.store.get(_product_key(i))) is not None}

    def all_products(self):
        return [p for p in self.store.scan(("product",)) if p.active]

    def list_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        """Active products, newest first; the cursor is the last product's position."""
        products = sorted((p for p in self.store.scan(("product",)) if p.active),
                          key=lambda p: f"{p.created_at}#{p.product_id}", reverse=True)
        if cursor:
            after = cursor["after"]
            products = [p for p in products if f"{p.created_at}#{p.product_id}" < after]
        page = products[:limit]
        more = len(products) > limit
        return page, ({"after": f"{page[-1].created_at}#{page[-1].product_id}"} if more else None)

    def stage_put_sku(self, tx: MemoryTx, sku: Sku, stock: StockChange) -> None:
        key = _sku_key(sku.sku_id)

        def check(items):
            current = items.get(key)
            if stock.delta is not None:
                return current is not None and current.stock + stock.delta >= 0 and current.stock >= -stock.delta
            if stock.expected is not None:
                return current is not None and current.stock == stock.expected
            if stock.set_to is not None:
                return current is None
            return True

        def apply(items):
            current = items.get(key)
            if stock.delta is not None:
                level = current.stock + stock.delta
            elif stock.set_to is not None:
                level = stock.set_to
            else:
                level = current.stock if current else 0
            items[key] = replace(sku, stock=level)

        tx.add(check, apply, lambda: errors.StockChanged(f"the stock of sku {sku.sku_id} changed", sku_id=sku.sku_id))

    def stage_retire_sku(self, tx: MemoryTx, sku_id: str) -> None:
        key = _sku_key(sku_id)

        def apply(items):
            # As DynamoDB's update, a missing SKU becomes an item with only `active`;
            # no caller retires a SKU it has not read.
            if key in items:
                items[key] = replace(items[key], active=False, retired=True)

        tx.add(lambda items: True, apply)

    def stage_stock_entry(self, tx: MemoryTx, entry: StockEntry) -> None:
        # ordered as DynamoDB's sort key: by `at`, then by when it was staged
        key = ("stock_entry", entry.product_id, f"{entry.at}#{next(self._staged):020d}#{entry.entry_id}")
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, (key[2], entry)))

    def stock_entries(self, product_id: str, limit: int, cursor: dict | None):
        entries = sorted(self.store.scan(("stock_entry", product_id)), key=lambda e: e[0], reverse=True)
        if cursor:
            entries = [e for e in entries if e[0] < cursor["after"]]
        page = entries[:limit]
        more = len(entries) > limit
        return [e for _, e in page], ({"after": page[-1][0]} if more else None)

    def stage_adjust_stock(self, tx: MemoryTx, sku_id: str, delta: int, on_short) -> None:
        key = _sku_key(sku_id)

        def check(items):
            return key in items and (delta >= 0 or items[key].stock >= -delta)

        def apply(items):
            items[key] = replace(items[key], stock=items[key].stock + delta)

        tx.add(check, apply, on_short)

    # -- the console --
    def list_all_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        products = sorted(self.store.scan(("product",)), key=lambda p: f"{p.created_at}#{p.product_id}",
                          reverse=True)
        if cursor:
            products = [p for p in products if f"{p.created_at}#{p.product_id}" < cursor["after"]]
        page = products[:limit]
        more = len(products) > limit
        return page, ({"after": f"{page[-1].created_at}#{page[-1].product_id}"} if more else None)

    def stage_set_on_sale(self, tx: MemoryTx, before: Product, after: Product, sku_ids: list[str],
                          on_stale) -> None:
        pkey = _product_key(before.product_id)

        def check(items):
            current = items.get(pkey)
            return (current is not None and current.updated_at == before.updated_at
                    and current.sku_ids == before.sku_ids and current.active == before.active
                    and all(_sku_key(i) in items and not items[_sku_key(i)].retired for i in sku_ids))

        def apply(items):
            items[pkey] = replace(items[pkey], active=after.active, updated_at=after.updated_at)
            for i in sku_ids:
                items[_sku_key(i)] = replace(items[_sku_key(i)], active=after.active)

        tx.add(check, apply, on_stale)

    def stage_put_product(self, tx: MemoryTx, product: Product) -> None:
        tx.add(lambda items: True,
               lambda items: items.__setitem__(_product_key(product.product_id), product))


class MemoryTableProbe:
    def __init__(self, up: bool = True) -> None:
        self.up = up

    def ping(self) -> None:
        if not self.up:
            raise ConnectionError("the table cannot be reached")
