"""Products, SKUs and the shop's settings in the shop table.

- Product: pk `PRODUCT#<id>`, sk `PRODUCT`; listed through gsi1 `PRODUCTS` / `<created_at>#<id>`.
- SKU: pk `SKU#<id>`, sk `SKU`. `stock` is what can still be sold; an order takes from it
  with a conditional update in its own transaction. The product's title, category and
  commission are copied onto each SKU so that pricing an order reads SKUs only.
- Settings: pk `SHOP`, sk `SETTINGS`.
"""

from __future__ import annotations

import time
import uuid

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.domain.shop_settings import ShopSettings
from layers.storage.base import Listed, ShopModel
from layers.storage.tx import connection


class ProductItem(Listed):
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    sku_ids = JSONAttribute(default=list)
    commission = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    active = BooleanAttribute(default=True)


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


class SettingsItem(ShopModel):
    data = JSONAttribute(default=dict)
    updated_at = UnicodeAttribute(null=True)


def product_key(product_id: str) -> tuple[str, str]:
    return f"PRODUCT#{product_id}", "PRODUCT"


def sku_key(sku_id: str) -> tuple[str, str]:
    return f"SKU#{sku_id}", "SKU"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def sku_ref(sku_id: str) -> SkuItem:
    """A key-only SKU item, for transaction updates."""
    return SkuItem(*sku_key(sku_id))


def get_product(product_id: str) -> ProductItem | None:
    try:
        return ProductItem.get(*product_key(product_id))
    except ProductItem.DoesNotExist:
        return None


def get_skus(sku_ids: list[str]) -> dict[str, SkuItem]:
    """SKUs by id, one BatchGetItem per 100; missing ids are absent from the answer."""
    unique = list(dict.fromkeys(sku_ids))
    if not unique:
        return {}
    return {s.sku_id: s for s in SkuItem.batch_get([sku_key(i) for i in unique])}


def list_products(limit: int, cursor: dict | None) -> tuple[list[ProductItem], dict | None]:
    result = ProductItem.gsi1.query(
        "PRODUCTS", scan_index_forward=False, limit=limit, last_evaluated_key=cursor,
        filter_condition=ProductItem.active == True,  # noqa: E712 (pynamodb condition)
    )
    items = list(result)
    return items, result.last_evaluated_key


# -- settings: read often, written rarely; cached per container for a few seconds ------
_settings_cache: tuple[float, ShopSettings] | None = None
SETTINGS_CACHE_S = 5.0


def load_settings(fresh: bool = False) -> ShopSettings:
    global _settings_cache
    now = time.monotonic()
    if not fresh and _settings_cache and now - _settings_cache[0] < SETTINGS_CACHE_S:
        return _settings_cache[1]
    try:
        data = SettingsItem.get("SHOP", "SETTINGS").data or {}
    except SettingsItem.DoesNotExist:
        data = {}
    value = ShopSettings.model_validate(data)
    _settings_cache = (now, value)
    return value


def save_settings(value: ShopSettings, now: str) -> None:
    global _settings_cache
    SettingsItem("SHOP", "SETTINGS", data=value.model_dump(), updated_at=now).save()
    _settings_cache = None


def ping() -> None:
    """Raises unless the table answers (GET /health)."""
    connection().describe_table(ShopModel.Meta.table_name)
