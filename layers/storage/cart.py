"""The cart: pk `USER#<id>`, sk `CART#<sku_id>`."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.domain.cart import CartLine
from layers.storage.base import ShopModel


class CartLineItem(ShopModel):
    sku_id = UnicodeAttribute()
    quantity = NumberAttribute()
    added_at = UnicodeAttribute()


def _key(user_id: str, sku_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"CART#{sku_id}"


class DynamoCartRepository:
    """layers.domain.cart.CartRepository."""

    def lines(self, user_id: str) -> list[CartLine]:
        return [CartLine(user_id, ln.sku_id, int(ln.quantity), ln.added_at)
                for ln in CartLineItem.query(f"USER#{user_id}", CartLineItem.sk.startswith("CART#"))]

    def put_line(self, line: CartLine) -> None:
        CartLineItem(*_key(line.user_id, line.sku_id), sku_id=line.sku_id, quantity=line.quantity,
                     added_at=line.added_at).save()

    def remove_line(self, user_id: str, sku_id: str) -> None:
        CartLineItem(*_key(user_id, sku_id)).delete()
