"""Products, SKUs and the shop's settings in the shop table.

- Product: pk `PRODUCT#<id>`, sk `PRODUCT`; listed through gsi1 `PRODUCTS` / `<created_at>#<id>`.
- SKU: pk `SKU#<id>`, sk `SKU`. `stock` is what can still be sold; an order takes from it
  with a conditional update in its own transaction. The product's title, category,
  commission and freight template are copied onto each SKU so that pricing an order reads
  SKUs only.
- Settings: pk `SHOP`, sk `SETTINGS`.
- Stock entry: pk `PRODUCT#<id>`, sk `STOCK#<at>#<ns>#<entry id>`: an operator's move
  of the product's stock (`moves`: SKU id -> delta), put in the transaction that moves it.

The repositories here return the domain's `Sku` / `Product` (layers/domain/catalog.py);
no caller sees an item or a key.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from layers.domain import errors
from layers.domain.catalog import Product, Sku, StockChange, StockEntry
from layers.storage.base import Listed, ShopModel
from layers.storage.tx import connection

if TYPE_CHECKING:  # pydantic loads only where settings are parsed
    from layers.domain.shop_settings import ShopSettings


class ProductItem(Listed):
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    sku_ids = JSONAttribute(default=list)
    commission = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    images = JSONAttribute(null=True)
    description = UnicodeAttribute(null=True)
    detail_images = JSONAttribute(null=True)
    category_id = UnicodeAttribute(null=True)
    tags = JSONAttribute(null=True)
    sort_weight = NumberAttribute(null=True)
    price_min = NumberAttribute(null=True)
    freight_template_id = UnicodeAttribute(null=True)


class SkuItem(ShopModel):
    sku_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    spec = JSONAttribute(null=True)
    price = NumberAttribute()
    stock = NumberAttribute()
    commission = JSONAttribute(null=True)
    active = BooleanAttribute(default=True)
    retired = BooleanAttribute(null=True)  # left out of an edit; absent on SKUs never left out
    list_price = NumberAttribute(null=True)
    weight_g = NumberAttribute(null=True)
    freight_template_id = UnicodeAttribute(null=True)  # the product's
    category_ids = ListAttribute(of=UnicodeAttribute, null=True)  # the product's category and its parent


class StockEntryItem(ShopModel):
    product_id = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    moves = JSONAttribute()
    reason = UnicodeAttribute()
    at = UnicodeAttribute()
    by = UnicodeAttribute(null=True)


class SettingsItem(ShopModel):
    data = JSONAttribute(default=dict)
    updated_at = UnicodeAttribute(null=True)


PRODUCTS = "PRODUCTS"
SETTINGS_KEY = ("SHOP", "SETTINGS")


def product_key(product_id: str) -> tuple[str, str]:
    return f"PRODUCT#{product_id}", "PRODUCT"


def sku_key(sku_id: str) -> tuple[str, str]:
    return f"SKU#{sku_id}", "SKU"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def to_sku(item: SkuItem) -> Sku:
    return _sku(item)


def _sku(item: SkuItem) -> Sku:
    return Sku(sku_id=item.sku_id, product_id=item.product_id, title=item.title, category=item.category,
               price=int(item.price), stock=int(item.stock), commission=item.commission,
               active=bool(item.active), spec=item.spec, retired=bool(item.retired),
               list_price=int(item.list_price) if item.list_price is not None else None,
               weight_g=int(item.weight_g) if item.weight_g is not None else None,
               freight_template_id=item.freight_template_id, category_ids=tuple(item.category_ids or ()))


def _product(item: ProductItem) -> Product:
    return Product(product_id=item.product_id, title=item.title, category=item.category,
                   sku_ids=tuple(item.sku_ids or ()), commission=item.commission,
                   created_at=item.created_at, updated_at=item.updated_at, active=bool(item.active),
                   images=tuple(item.images or ()), description=item.description,
                   detail_images=tuple(item.detail_images or ()), category_id=item.category_id,
                   tags=tuple(item.tags or ()), sort_weight=int(item.sort_weight or 0),
                   price_min=int(item.price_min) if item.price_min is not None else None,
                   freight_template_id=item.freight_template_id)


class DynamoSettingsRepository:
    """The shop's rules: read often, written rarely; cached a few seconds per instance
    (one instance per container, built in functions/wiring.py)."""

    CACHE_S = 5.0

    def __init__(self) -> None:
        self._cache: tuple[float, ShopSettings] | None = None

    def load_settings(self, fresh: bool = False) -> ShopSettings:
        now = time.monotonic()
        if not fresh and self._cache and now - self._cache[0] < self.CACHE_S:
            return self._cache[1]
        try:
            data = SettingsItem.get(*SETTINGS_KEY).data or {}
        except SettingsItem.DoesNotExist:
            data = {}
        from layers.domain.shop_settings import ShopSettings

        value = ShopSettings.model_validate(data)
        self._cache = (now, value)
        return value

    def save_settings(self, value: ShopSettings, now: str) -> None:
        SettingsItem(*SETTINGS_KEY, data=value.model_dump(), updated_at=now).save()
        self._cache = None

    # -- the placement reader reads the settings in its batch when the cache is stale --

    def cached(self) -> ShopSettings | None:
        if self._cache and time.monotonic() - self._cache[0] < self.CACHE_S:
            return self._cache[1]
        return None

    def remember(self, item: SettingsItem | None) -> ShopSettings:
        """The settings from an item read elsewhere (None: not stored), cached as load_settings does."""
        from layers.domain.shop_settings import ShopSettings

        value = ShopSettings.model_validate((item.data if item is not None else None) or {})
        self._cache = (time.monotonic(), value)
        return value


class DynamoStockRepository:
    """SKUs and their stock (layers.domain.catalog.StockRepository)."""

    def __init__(self, settings: DynamoSettingsRepository | None = None) -> None:
        self._settings = settings or DynamoSettingsRepository()

    def get_skus(self, sku_ids: list[str]) -> dict[str, Sku]:
        """SKUs by id, one BatchGetItem per 100; missing ids are absent from the answer."""
        unique = list(dict.fromkeys(sku_ids))
        if not unique:
            return {}
        return {s.sku_id: _sku(s) for s in SkuItem.batch_get([sku_key(i) for i in unique])}

    def stage_take(self, tx, reservation: dict) -> None:
        sku_id, q = reservation["sku_id"], reservation["quantity"]
        tx.update(
            SkuItem(*sku_key(sku_id)),
            actions=[SkuItem.stock.add(-q)],
            # The condition is what makes overselling impossible under any interleaving.
            condition=(SkuItem.stock >= q) & (SkuItem.active == True),  # noqa: E712 (pynamodb condition)
            on_fail=lambda: errors.SoldOut(f"not enough stock for sku {sku_id}", sku_id=sku_id),
        )

    def stage_release(self, tx, reservation: dict) -> None:
        tx.update(SkuItem(*sku_key(reservation["sku_id"])), actions=[SkuItem.stock.add(reservation["quantity"])],
                  condition=SkuItem.pk.exists())

    def load_settings(self, fresh: bool = False) -> ShopSettings:
        return self._settings.load_settings(fresh)


class DynamoCatalogRepository(DynamoStockRepository):
    """Products and SKUs (layers.domain.catalog.CatalogRepository)."""

    def new_id(self, prefix: str) -> str:
        return new_id(prefix)

    def get_product(self, product_id: str) -> Product | None:
        try:
            return _product(ProductItem.get(*product_key(product_id)))
        except ProductItem.DoesNotExist:
            return None

    def get_products(self, product_ids: list[str]) -> dict[str, Product]:
        """Products by id, one BatchGetItem per 100; missing ids are absent."""
        unique = list(dict.fromkeys(product_ids))
        if not unique:
            return {}
        return {p.product_id: _product(p) for p in ProductItem.batch_get([product_key(i) for i in unique])}

    def all_products(self):
        """Every on-sale product (the storefront's listing is built from these)."""
        for item in ProductItem.gsi1.query(PRODUCTS, filter_condition=ProductItem.active == True):  # noqa: E712
            yield _product(item)

    def list_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        """Active products, newest first."""
        result = ProductItem.gsi1.query(
            PRODUCTS, scan_index_forward=False, limit=limit, last_evaluated_key=cursor,
            filter_condition=ProductItem.active == True,  # noqa: E712 (pynamodb condition)
        )
        items = [_product(p) for p in result]
        return items, result.last_evaluated_key

    def stage_put_sku(self, tx, sku: Sku, stock: StockChange) -> None:
        # The stock moves by a delta, or is set only while it is what the operator saw.
        condition, stock_action = None, []
        if stock.delta is not None:
            stock_action = [SkuItem.stock.add(stock.delta)]
            condition = SkuItem.stock >= max(0, -stock.delta)
        elif stock.expected is not None:
            condition = SkuItem.stock == stock.expected
            if stock.set_to is not None and stock.set_to != stock.expected:
                stock_action = [SkuItem.stock.set(stock.set_to)]
        elif stock.set_to is not None:
            stock_action = [SkuItem.stock.set(stock.set_to)]
            condition = SkuItem.pk.does_not_exist()  # only a new SKU is set outright
        tx.update(SkuItem(*sku_key(sku.sku_id)), condition=condition, on_fail=lambda: errors.StockChanged(
            f"the stock of sku {sku.sku_id} changed since it was read: send stock_delta, or stock with "
            "expected_stock (the stock you saw)", sku_id=sku.sku_id), actions=[
            SkuItem.sku_id.set(sku.sku_id),
            SkuItem.product_id.set(sku.product_id),
            SkuItem.title.set(sku.title),
            SkuItem.category.set(sku.category) if sku.category else SkuItem.category.remove(),
            SkuItem.spec.set(sku.spec) if sku.spec else SkuItem.spec.remove(),
            SkuItem.price.set(sku.price),
            SkuItem.list_price.set(sku.list_price) if sku.list_price is not None else SkuItem.list_price.remove(),
            SkuItem.weight_g.set(sku.weight_g) if sku.weight_g is not None else SkuItem.weight_g.remove(),
            SkuItem.freight_template_id.set(sku.freight_template_id) if sku.freight_template_id
            else SkuItem.freight_template_id.remove(),
            SkuItem.category_ids.set(list(sku.category_ids)) if sku.category_ids else SkuItem.category_ids.remove(),
            *stock_action,
            SkuItem.commission.set(sku.commission) if sku.commission else SkuItem.commission.remove(),
            SkuItem.active.set(sku.active),
            SkuItem.retired.remove(),  # named in the edit, so not retired
        ])

    def stage_retire_sku(self, tx, sku_id: str) -> None:
        tx.update(SkuItem(*sku_key(sku_id)), actions=[SkuItem.active.set(False),
                                                     SkuItem.retired.set(True)])

    # -- the console --
    def list_all_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        """Every product, on sale or off, newest first."""
        result = ProductItem.gsi1.query(PRODUCTS, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        return [_product(p) for p in result], result.last_evaluated_key

    def stage_set_on_sale(self, tx, before: Product, after: Product, sku_ids: list[str], on_stale) -> None:
        tx.update(ProductItem(*product_key(before.product_id)),
                  actions=[ProductItem.active.set(after.active), ProductItem.updated_at.set(after.updated_at)],
                  # updated_at is to the second: an edit in the same second shows in its SKUs or state
                  condition=(ProductItem.pk.exists() & (ProductItem.updated_at == before.updated_at)
                             & (ProductItem.sku_ids == list(before.sku_ids))
                             & (ProductItem.active == before.active)),
                  on_fail=on_stale)
        for sku_id in sku_ids:
            tx.update(SkuItem(*sku_key(sku_id)), actions=[SkuItem.active.set(after.active)],
                      condition=SkuItem.pk.exists() & (SkuItem.retired.does_not_exist() | (SkuItem.retired == False)),  # noqa: E712
                      on_fail=on_stale)

    def stage_stock_entry(self, tx, entry: StockEntry) -> None:
        pk, _ = product_key(entry.product_id)
        # `at` is to the second: the staging instant (ns) orders the entries of one second.
        tx.put(StockEntryItem(pk, f"STOCK#{entry.at}#{time.time_ns():020d}#{entry.entry_id}", product_id=entry.product_id,
                              entry_id=entry.entry_id, moves=dict(entry.moves), reason=entry.reason, at=entry.at,
                              by=entry.by), condition=StockEntryItem.pk.does_not_exist())

    def stock_entries(self, product_id: str, limit: int, cursor: dict | None):
        pk, _ = product_key(product_id)
        result = StockEntryItem.query(pk, StockEntryItem.sk.startswith("STOCK#"), scan_index_forward=False,
                                      limit=limit, last_evaluated_key=cursor)
        entries = [StockEntry(product_id=i.product_id, entry_id=i.entry_id,
                              moves={k: int(v) for k, v in (i.moves or {}).items()}, reason=i.reason, at=i.at,
                              by=i.by) for i in result]
        return entries, result.last_evaluated_key

    def stage_adjust_stock(self, tx, sku_id: str, delta: int, on_short) -> None:
        condition = SkuItem.pk.exists()
        if delta < 0:
            condition &= SkuItem.stock >= -delta
        tx.update(SkuItem(*sku_key(sku_id)), actions=[SkuItem.stock.add(delta)], condition=condition,
                  on_fail=on_short)

    def stage_put_product(self, tx, product: Product) -> None:
        tx.put(ProductItem(
            *product_key(product.product_id), product_id=product.product_id, title=product.title,
            category=product.category, sku_ids=list(product.sku_ids), commission=product.commission,
            created_at=product.created_at, updated_at=product.updated_at, active=product.active,
            images=list(product.images) or None, description=product.description,
            detail_images=list(product.detail_images) or None, category_id=product.category_id,
            tags=list(product.tags) or None, sort_weight=product.sort_weight or None,
            price_min=product.price_min, freight_template_id=product.freight_template_id,
            gsi1pk=PRODUCTS, gsi1sk=f"{product.created_at}#{product.product_id}",
        ))


def first_product_day() -> str | None:
    """The Beijing day the shop's first product was created (products are retired, never
    deleted, so no order is older): the floor of the order counts' backfill. None
    without products."""
    from layers.domain.analytics import day_of

    first = next(iter(ProductItem.gsi1.query(PRODUCTS, scan_index_forward=True, limit=1)), None)
    return day_of(first.created_at) if first is not None else None


class DynamoTableProbe:
    def ping(self) -> None:
        """Raises unless the table answers (GET /health)."""
        connection().describe_table(ShopModel.Meta.table_name)


# -- for tests that read a SKU's stock directly ---------------------------------------------

def get_skus(sku_ids: list[str]) -> dict[str, Sku]:
    return DynamoStockRepository().get_skus(sku_ids)
