"""Catalog: operators create and change products; shoppers browse them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers import clock
from layers.domain import errors
from layers.storage import catalog as store
from layers.storage.tx import Tx

LOW_STOCK = 10


class SkuInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    price: int = Field(ge=1, le=100_000_000)
    stock: int = Field(ge=0, le=10_000_000)
    spec: dict[str, str] | None = None


class CommissionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["tier", "fixed"]
    rate_bps: int | None = Field(None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _fixed_needs_rate(self):
        if self.mode == "fixed" and self.rate_bps is None:
            raise ValueError("a fixed commission needs rate_bps")
        return self


class ProductInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    category: str | None = Field(None, max_length=100)
    skus: list[SkuInput] = Field(min_length=1, max_length=50)
    commission: CommissionInput | None = None
    active: bool = True


def stock_status(stock: int) -> str:
    if stock <= 0:
        return "SOLD_OUT"
    return "LOW_STOCK" if stock <= LOW_STOCK else "IN_STOCK"


def product_view(product: store.ProductItem, skus: dict[str, store.SkuItem], admin: bool = False) -> dict:
    sku_views = []
    for sku_id in product.sku_ids:
        sku = skus.get(sku_id)
        if sku is None or not sku.active:
            continue
        view = {"id": sku.sku_id, "price": int(sku.price), "stock_status": stock_status(int(sku.stock)),
                "spec": sku.spec}
        if admin:
            view["stock"] = int(sku.stock)
        sku_views.append(view)
    prices = [v["price"] for v in sku_views]
    view = {
        "id": product.product_id,
        "title": product.title,
        "category": product.category,
        "price": min(prices) if prices else None,
        "skus": sku_views,
        "commission": product.commission,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }
    if admin:
        view["active"] = product.active
    return view


def create_product(body: ProductInput) -> dict:
    now = clock.now_iso()
    product_id = store.new_id("p")
    return _write_product(product_id, body, now, created_at=now, existing=None)


def update_product(product_id: str, body: ProductInput) -> dict:
    existing = store.get_product(product_id)
    if existing is None:
        raise errors.NotFound("no such product")
    return _write_product(product_id, body, clock.now_iso(), created_at=existing.created_at,
                          existing=existing)


def _write_product(product_id: str, body: ProductInput, now: str, created_at: str,
                   existing: store.ProductItem | None) -> dict:
    known = set(existing.sku_ids) if existing else set()
    for sku in body.skus:
        if sku.id is not None and sku.id not in known:
            raise errors.InvalidRequest(f"sku {sku.id} is not a SKU of this product")
    commission = body.commission.model_dump() if body.commission else None
    tx = Tx()
    sku_ids = []
    kept = set()
    for sku in body.skus:
        sku_id = sku.id or store.new_id("s")
        sku_ids.append(sku_id)
        kept.add(sku_id)
        item = store.SkuItem(*store.sku_key(sku_id))
        # Updates set the stock outright: the operator states what is on the shelf now.
        tx.update(item, actions=[
            store.SkuItem.sku_id.set(sku_id),
            store.SkuItem.product_id.set(product_id),
            store.SkuItem.title.set(body.title),
            store.SkuItem.category.set(body.category) if body.category else store.SkuItem.category.remove(),
            store.SkuItem.spec.set(sku.spec) if sku.spec else store.SkuItem.spec.remove(),
            store.SkuItem.price.set(sku.price),
            store.SkuItem.stock.set(sku.stock),
            store.SkuItem.commission.set(commission) if commission else store.SkuItem.commission.remove(),
            store.SkuItem.active.set(body.active),
        ])
    # SKUs left out of an update are retired, not deleted: open orders still name them.
    for old in known - kept:
        tx.update(store.SkuItem(*store.sku_key(old)), actions=[store.SkuItem.active.set(False)])
        sku_ids.append(old)
    product = store.ProductItem(
        *store.product_key(product_id), product_id=product_id, title=body.title,
        category=body.category, sku_ids=sku_ids, commission=commission, created_at=created_at,
        updated_at=now, active=body.active, gsi1pk="PRODUCTS", gsi1sk=f"{created_at}#{product_id}",
    )
    tx.put(product)
    tx.commit()
    return product_view(product, store.get_skus(sku_ids), admin=True)


def get_product(product_id: str) -> dict:
    product = store.get_product(product_id)
    if product is None or not product.active:
        raise errors.NotFound("no such product")
    return product_view(product, store.get_skus(product.sku_ids))


def list_products(limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
    products, next_cursor = store.list_products(limit, cursor)
    skus = store.get_skus([s for p in products for s in p.sku_ids])
    return [product_view(p, skus) for p in products], next_cursor
