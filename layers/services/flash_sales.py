"""秒杀: a crowd on a few units in the same second, without ever selling one twice.

An attempt, cheapest checks first:
1. the sale's window, from a copy of the sale cached per container for a second;
2. the container's "sold out" flag (set when every shard said empty, kept one second):
   it can only refuse, never admit, so a stale flag costs a late unit a second at most;
3. the shopper's admission counter (5 attempts per 10 s per sale), their own item;
4. the order itself, through the order service's `create_order`, whose transaction
   takes one unit from one shard (`remaining >= q`) and counts it against the
   shopper's limit (`bought + q <= per_user_limit`). A shard that is empty is
   remembered for a second and the next shard is tried; the sale is sold out only
   when every shard is.

The unit goes back to its shard (and the shopper's count down) in the same transaction
that closes an unpaid order, so it can be sold again: the sale repository is the
reservation handler of kind "flash". See docs/flash-sales.md.

The caches are this service's own: wiring builds it once per container.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from layers.clock import iso
from layers.domain import errors
from layers.domain import flash_sale as sale_rules
from layers.domain import flash_sales as rules
from layers.domain.flash_sale import FlashSale, FlashSaleRepository, ShardEmpty
from layers.domain.order import order_id_for, request_hash
from layers.domain.ports import Clock, NewTransaction

CACHE_S = 1.0
RATE_WINDOW_S = 10
RATE_LIMIT = 5
STOP_ATTEMPTS = 5


class _Stale(Exception):
    """The sale changed since it was read."""


class _Cache:
    """Values kept for a second at most, per container."""

    def __init__(self, monotonic: Callable[[], float]):
        self.data: dict = {}
        self.lock = threading.Lock()
        self.monotonic = monotonic

    def get(self, key):
        with self.lock:
            hit = self.data.get(key)
            if hit and hit[0] > self.monotonic():
                return hit[1]
            return None

    def put(self, key, value, ttl: float = CACHE_S):
        with self.lock:
            self.data[key] = (self.monotonic() + ttl, value)

    def clear(self):
        with self.lock:
            self.data.clear()


def sale_view(sale: FlashSale, remaining: int) -> dict:
    return {"id": sale.sale_id, "sku_id": sale.sku_id, "product_id": sale.product_id, "title": sale.title,
            "price": sale.price, "stock": sale.stock, "starts_at": sale.starts_at, "ends_at": sale.ends_at,
            "per_user_limit": sale.per_user_limit, "status": str(sale.status), "shards": sale.shards,
            "remaining": remaining}


class FlashSaleService:
    def __init__(self, sales: FlashSaleRepository, orders, catalog, new_tx: NewTransaction, clock: Clock,
                 monotonic: Callable[[], float] = time.monotonic, shard_order=rules.shard_order):
        """`orders`: the order service (get, replay, create_order); `catalog`: anything
        with `get_skus(ids) -> {sku_id: sku}` (a SKU's product, title, commission)."""
        self.sales = sales
        self.orders = orders
        self.catalog = catalog
        self.new_tx = new_tx
        self.clock = clock
        self.shard_order = shard_order
        self._sales = _Cache(monotonic)
        self._sold_out = _Cache(monotonic)
        self._empty_shards = _Cache(monotonic)

    def forget_caches(self) -> None:
        for cache in (self._sales, self._sold_out, self._empty_shards):
            cache.clear()

    def _sale(self, sale_id: str) -> FlashSale:
        sale = self._sales.get(sale_id)
        if sale is None:
            sale = self.sales.get(sale_id)
            if sale is None:
                raise errors.NotFound("no such flash sale")
            self._sales.put(sale_id, sale)
        return sale

    def _remaining(self, sale_id: str) -> int:
        cached = self._sales.get(("remaining", sale_id))
        if cached is None:
            cached = self.sales.remaining(sale_id)
            self._sales.put(("remaining", sale_id), cached)
        return cached

    def _view(self, sale: FlashSale, remaining: int | None = None) -> dict:
        return sale_view(sale, remaining if remaining is not None else self._remaining(sale.sale_id))

    # -- admin and views ------------------------------------------------------------------------

    def create_sale(self, body) -> dict:
        """`body`: the route's SaleInput (validated there)."""
        sku = self.catalog.get_skus([body.sku_id]).get(body.sku_id)
        if sku is None or not sku.active:
            raise errors.NotFound("no such sku")
        shards = body.shards or rules.shards_for(body.stock, body.expected_attempts_per_s)
        sale = FlashSale(sale_id=sale_rules.new_sale_id(), sku_id=sku.sku_id, product_id=sku.product_id,
                         title=sku.title, category=sku.category, price=body.price, stock=body.stock,
                         starts_at=iso(body.starts_at), ends_at=iso(body.ends_at),
                         per_user_limit=body.per_user_limit, shards=shards, created_at=iso(self.clock.now()))
        tx = self.new_tx()
        self.sales.stage_create(tx, sale, rules.split_stock(body.stock, shards), on_exists=None)
        tx.commit()
        return self._view(sale, body.stock)

    def stop_sale(self, sale_id: str) -> dict:
        for _ in range(STOP_ATTEMPTS):
            sale = self.sales.get(sale_id)
            if sale is None:
                raise errors.NotFound("no such flash sale")
            after = sale_rules.stop(sale)
            if after == sale:
                break
            tx = self.new_tx()
            self.sales.stage_change(tx, sale, after, on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue  # moved since read: read again
            sale = after
            break
        else:
            raise errors.InvalidState("the sale keeps changing; try again")
        self._sales.clear()
        return self._view(sale)

    def list_sales(self, limit: int, cursor: dict | None):
        items, next_key = self.sales.list_sales(limit, cursor)
        return [self._view(s) for s in items], next_key

    def get_sale_view(self, sale_id: str) -> dict:
        return self._view(self._sale(sale_id))

    # -- attempts --------------------------------------------------------------------------------

    def place_order(self, user_id: str, sale_id: str, body, idempotency_key: str | None) -> dict:
        """`body`: the route's OrderInput (quantity, address, share_token)."""
        sale = self._sale(sale_id)
        now = self.clock.now()
        sale_rules.check_open(sale, now)
        order_id = order_id_for(user_id, f"flash:{sale_id}", idempotency_key)
        raw = {"sale_id": sale_id, **body.model_dump(mode="json")}
        digest = request_hash(raw)
        if idempotency_key is not None:
            existing = self.orders.get(order_id, consistent=True)
            if existing is not None:
                return self.orders.replay(existing, digest)
        if self._sold_out.get(sale_id):
            raise errors.SoldOut("this flash sale is sold out")
        self._admit(user_id, sale_id, now)
        sale_rules.check_quantity(sale, body.quantity)

        line = sale_rules.line(sale, body.quantity)
        sku = self.catalog.get_skus([sale.sku_id]).get(sale.sku_id)
        empty = self._empty_shards.get(sale_id) or set()
        for k in self.shard_order(sale.shards, skip=empty):
            try:
                return self.orders.create_order(
                    user_id=user_id, order_id=order_id, lines=[line],
                    reservations_=[sale_rules.reservation(sale, k, body.quantity, user_id)], coupon_id=None,
                    address=raw.get("address"), address_id=raw.get("address_id"), delivery=raw.get("delivery"),
            share_token=body.share_token,
                    channel=body.channel, scene=body.scene, digest=digest,
                    idempotency_key=idempotency_key, kind="flash", flash_sale_id=sale_id,
                    commissions={sale.sku_id: sku.commission if sku else None},
                    pay_with=getattr(body, "pay_with", "wechat"), points=getattr(body, "points", None) or 0)
            except ShardEmpty:
                empty = set(empty) | {k}
                self._empty_shards.put(sale_id, empty)
        self._sold_out.put(sale_id, True)
        raise errors.SoldOut("this flash sale is sold out")

    def _admit(self, user_id: str, sale_id: str, now: datetime) -> None:
        """At most RATE_LIMIT attempts per shopper per window, counted on the shopper's own item."""
        seconds = int(now.timestamp())
        if not self.sales.admit(sale_id, user_id, seconds // RATE_WINDOW_S, seconds + 3600, RATE_LIMIT):
            raise errors.RateLimited("too many attempts; wait a few seconds")
