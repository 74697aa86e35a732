"""The shopper's cart. A line whose SKU disappeared or lacks stock is shown with its
problem, never an error (layers/domain/cart.py)."""

from __future__ import annotations

from layers.clock import iso
from layers.domain import cart as rules
from layers.domain import errors
from layers.domain.cart import CartLine, CartRepository
from layers.domain.catalog import StockRepository


class CartService:
    def __init__(self, *, carts: CartRepository, stock: StockRepository, clock):
        self.carts = carts
        self.stock = stock
        self.clock = clock

    def view(self, user_id: str) -> dict:
        lines = self.carts.lines(user_id)
        return rules.view(lines, self.stock.get_skus([ln.sku_id for ln in lines]))

    def put(self, user_id: str, sku_id: str, quantity: int) -> dict:
        skus = self.stock.get_skus([sku_id])
        if sku_id not in skus or not skus[sku_id].active:
            raise errors.NotFound("no such sku")
        existing = self.carts.lines(user_id)
        if len(existing) >= rules.MAX_LINES and sku_id not in {ln.sku_id for ln in existing}:
            raise errors.LimitExceeded(f"a cart holds at most {rules.MAX_LINES} lines")
        self.carts.put_line(CartLine(user_id, sku_id, quantity, iso(self.clock.now())))
        return self.view(user_id)

    def remove(self, user_id: str, sku_id: str) -> dict:
        self.carts.remove_line(user_id, sku_id)
        return self.view(user_id)
