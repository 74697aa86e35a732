"""The shopper's cart: lines of (SKU, quantity). A line whose SKU disappeared or lacks
stock is shown with its problem, never an error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from layers.domain.catalog import Sku

MAX_LINES = 100


@dataclass(frozen=True)
class CartLine:
    user_id: str
    sku_id: str
    quantity: int
    added_at: str


class CartRepository(Protocol):
    def lines(self, user_id: str) -> list[CartLine]: ...

    def put_line(self, line: CartLine) -> None:
        """Create or replace the line of that SKU."""

    def remove_line(self, user_id: str, sku_id: str) -> None: ...


def view(lines: list[CartLine], skus: dict[str, Sku]) -> dict:
    items, total = [], 0
    for ln in lines:
        sku = skus.get(ln.sku_id)
        q = ln.quantity
        item = {"sku_id": ln.sku_id, "quantity": q, "added_at": ln.added_at}
        if sku is None or not sku.active:
            item.update(available=False, problem="SKU_UNAVAILABLE")
        else:
            stock = sku.stock
            item.update(product_id=sku.product_id, title=sku.title, spec=sku.spec,
                        unit_price=sku.price, available=stock >= q,
                        problem=None if stock >= q else ("SOLD_OUT" if stock <= 0 else "INSUFFICIENT_STOCK"))
            if stock >= q:
                total += sku.price * q
        items.append(item)
    return {"items": items, "goods": total}
