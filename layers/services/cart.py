"""The cart: pk `USER#<id>`, sk `CART#<sku_id>`. A line whose SKU disappeared or lacks
stock is shown with its problem, never an error."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers import clock
from layers.domain import errors
from layers.storage import catalog
from layers.storage.base import ShopModel

MAX_LINES = 100


class CartLine(ShopModel):
    sku_id = UnicodeAttribute()
    quantity = NumberAttribute()
    added_at = UnicodeAttribute()


def _lines(user_id: str) -> list[CartLine]:
    return list(CartLine.query(f"USER#{user_id}", CartLine.sk.startswith("CART#")))


def view(user_id: str) -> dict:
    lines = _lines(user_id)
    skus = catalog.get_skus([ln.sku_id for ln in lines])
    items, total = [], 0
    for ln in lines:
        sku = skus.get(ln.sku_id)
        q = int(ln.quantity)
        item = {"sku_id": ln.sku_id, "quantity": q, "added_at": ln.added_at}
        if sku is None or not sku.active:
            item.update(available=False, problem="SKU_UNAVAILABLE")
        else:
            stock = int(sku.stock)
            item.update(product_id=sku.product_id, title=sku.title, spec=sku.spec,
                        unit_price=int(sku.price), available=stock >= q,
                        problem=None if stock >= q else ("SOLD_OUT" if stock <= 0 else "INSUFFICIENT_STOCK"))
            if stock >= q:
                total += int(sku.price) * q
        items.append(item)
    return {"items": items, "goods": total}


def put(user_id: str, sku_id: str, quantity: int) -> dict:
    skus = catalog.get_skus([sku_id])
    if sku_id not in skus or not skus[sku_id].active:
        raise errors.NotFound("no such sku")
    existing = _lines(user_id)
    if len(existing) >= MAX_LINES and sku_id not in {ln.sku_id for ln in existing}:
        raise errors.LimitExceeded(f"a cart holds at most {MAX_LINES} lines")
    CartLine(f"USER#{user_id}", f"CART#{sku_id}", sku_id=sku_id, quantity=quantity,
             added_at=clock.now_iso()).save()
    return view(user_id)


def remove(user_id: str, sku_id: str) -> dict:
    CartLine(f"USER#{user_id}", f"CART#{sku_id}").delete()
    return view(user_id)
