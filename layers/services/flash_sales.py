"""秒杀: a crowd on a few units in the same second, without ever selling one twice.

An attempt, cheapest checks first:
1. the sale's window, from a copy of the sale cached per container for a second;
2. the container's "sold out" flag (set when every shard said empty, kept one second):
   it can only refuse, never admit, so a stale flag costs a late unit a second at most;
3. the shopper's admission counter (5 attempts per 10 s per sale), their own item;
4. the order itself, through `orders.create_order`, whose transaction takes one unit
   from one shard (`remaining >= q`) and counts it against the shopper's limit
   (`bought + q <= per_user_limit`). A shard that is empty is remembered for a second
   and the next shard is tried; the sale is sold out only when every shard is.

The unit goes back to its shard (and the shopper's count down) in the same transaction
that closes an unpaid order, so it can be sold again. See docs/flash-sales.md.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers import clock
from layers.domain import errors, pricing
from layers.domain import flash_sales as rules
from layers.services import orders, reservations
from layers.storage import catalog
from layers.storage import flash_sales as store
from layers.storage.flash_sales import FlashShardItem, FlashUserItem, RateItem, SaleItem
from layers.storage.tx import Tx

CACHE_S = 1.0
RATE_WINDOW_S = 10
RATE_LIMIT = 5


class SaleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=64)
    price: int = Field(ge=1)
    stock: int = Field(ge=1, le=1_000_000)
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int = Field(ge=1, le=100)
    shards: int | None = Field(None, ge=1, le=64)
    expected_attempts_per_s: int | None = Field(None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _window(self):
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone (RFC 3339)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.shards and self.shards > self.stock:
            raise ValueError("no more shards than units")
        return self


class OrderInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=1, le=100)
    address: orders.Address
    share_token: str | None = Field(None, max_length=64)


class ShardEmpty(errors.SoldOut):
    """One shard has nothing left; others may."""


# -- per-container caches (a second at most) ------------------------------------------------

class _Cache:
    def __init__(self):
        self.data: dict = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            hit = self.data.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            return None

    def put(self, key, value, ttl: float = CACHE_S):
        with self.lock:
            self.data[key] = (time.monotonic() + ttl, value)

    def clear(self):
        with self.lock:
            self.data.clear()


_sales = _Cache()
_sold_out = _Cache()
_empty_shards = _Cache()


def forget_caches() -> None:
    for cache in (_sales, _sold_out, _empty_shards):
        cache.clear()


def _sale(sale_id: str) -> SaleItem:
    sale = _sales.get(sale_id)
    if sale is None:
        sale = store.get_sale(sale_id)
        if sale is None:
            raise errors.NotFound("no such flash sale")
        _sales.put(sale_id, sale)
    return sale


# -- admin ---------------------------------------------------------------------------------

def sale_view(sale: SaleItem, remaining: int | None = None) -> dict:
    return {"id": sale.sale_id, "sku_id": sale.sku_id, "product_id": sale.product_id, "title": sale.title,
            "price": int(sale.price), "stock": int(sale.stock), "starts_at": sale.starts_at, "ends_at": sale.ends_at,
            "per_user_limit": int(sale.per_user_limit), "status": sale.status, "shards": int(sale.shards),
            "remaining": remaining if remaining is not None else _remaining(sale.sale_id)}


def _remaining(sale_id: str) -> int:
    cached = _sales.get(("remaining", sale_id))
    if cached is None:
        cached = store.remaining(sale_id)
        _sales.put(("remaining", sale_id), cached)
    return cached


def create_sale(body: SaleInput) -> dict:
    sku = catalog.get_skus([body.sku_id]).get(body.sku_id)
    if sku is None or not sku.active:
        raise errors.NotFound("no such sku")
    sale_id = "f" + uuid.uuid4().hex[:20]
    shards = body.shards or rules.shards_for(body.stock, body.expected_attempts_per_s)
    sale = SaleItem(*store.sale_key(sale_id), sale_id=sale_id, sku_id=sku.sku_id, product_id=sku.product_id,
                    title=sku.title, category=sku.category, price=body.price, stock=body.stock,
                    starts_at=clock.iso(body.starts_at), ends_at=clock.iso(body.ends_at),
                    per_user_limit=body.per_user_limit, shards=shards, created_at=clock.now_iso(),
                    gsi1pk="FLASH_SALES", gsi1sk=f"{clock.iso(body.starts_at)}#{sale_id}")
    tx = Tx().put(sale)
    for k, units in enumerate(rules.split_stock(body.stock, shards)):
        tx.put(FlashShardItem(*store.shard_key(sale_id, k), remaining=units))
    tx.commit()
    return sale_view(sale, body.stock)


def stop_sale(sale_id: str) -> dict:
    sale = store.get_sale(sale_id)
    if sale is None:
        raise errors.NotFound("no such flash sale")
    sale.update(actions=[SaleItem.status.set("STOPPED")])
    _sales.clear()
    return sale_view(sale)


def list_sales(limit: int, cursor: dict | None):
    items, next_key = store.list_sales(limit, cursor)
    return [sale_view(s) for s in items], next_key


def get_sale_view(sale_id: str) -> dict:
    return sale_view(_sale(sale_id))


# -- attempts --------------------------------------------------------------------------------

def place_order(user_id: str, sale_id: str, body: OrderInput, idempotency_key: str | None) -> dict:
    sale = _sale(sale_id)
    now = clock.now()
    rules.check_window(now, clock.parse_iso(sale.starts_at), clock.parse_iso(sale.ends_at), sale.status == "STOPPED")
    order_id = orders.order_id_for(user_id, f"flash:{sale_id}", idempotency_key)
    raw = {"sale_id": sale_id, **body.model_dump(mode="json")}
    digest = orders.request_hash(raw)
    if idempotency_key is not None:
        existing = orders.store.get_order(order_id, consistent=True)
        if existing is not None:
            return orders.replay(existing, digest)
    if _sold_out.get(sale_id):
        raise errors.SoldOut("this flash sale is sold out")
    _admit(user_id, sale_id, now)
    if body.quantity > int(sale.per_user_limit):
        raise errors.LimitExceeded(f"at most {int(sale.per_user_limit)} per shopper")

    line = pricing.Line(sku_id=sale.sku_id, product_id=sale.product_id, title=sale.title, category=sale.category,
                        quantity=body.quantity, unit_price=int(sale.price))
    commission = catalog.get_skus([sale.sku_id]).get(sale.sku_id)
    empty = _empty_shards.get(sale_id) or set()
    for k in rules.shard_order(int(sale.shards), skip=empty):
        reservation = {"kind": "flash", "sale_id": sale_id, "shard": k, "quantity": body.quantity,
                       "user_id": user_id, "limit": int(sale.per_user_limit)}
        try:
            return orders.create_order(
                user_id=user_id, order_id=order_id, lines=[line], reservations_=[reservation], coupon_id=None,
                address=raw["address"], share_token=body.share_token, digest=digest,
                idempotency_key=idempotency_key, kind="flash", flash_sale_id=sale_id,
                commissions={sale.sku_id: commission.commission if commission else None})
        except ShardEmpty:
            empty = set(empty) | {k}
            _empty_shards.put(sale_id, empty)
    _sold_out.put(sale_id, True)
    raise errors.SoldOut("this flash sale is sold out")


def _admit(user_id: str, sale_id: str, now: datetime) -> None:
    """At most RATE_LIMIT attempts per shopper per window, counted on the shopper's own item."""
    window = int(now.timestamp()) // RATE_WINDOW_S
    item = RateItem(f"FLASHRATE#{sale_id}#{user_id}", str(window))
    try:
        item.update(actions=[RateItem.attempts.add(1), RateItem.ttl.set(int(now.timestamp()) + 3600)],
                    condition=RateItem.attempts.does_not_exist() | (RateItem.attempts < RATE_LIMIT))
    except Exception as exc:  # noqa: BLE001 - the condition failed: over the limit
        from pynamodb.exceptions import UpdateError

        if isinstance(exc, UpdateError) and exc.cause_response_code == "ConditionalCheckFailedException":
            raise errors.RateLimited("too many attempts; wait a few seconds") from exc
        raise


# -- the reservation kind "flash" ----------------------------------------------------------------

def _take(tx: Tx, r: dict) -> None:
    q, limit = int(r["quantity"]), int(r["limit"])
    # The shopper's limit first: when both fail, the answer is LIMIT_EXCEEDED, not SOLD_OUT.
    tx.update(FlashUserItem(*store.user_key(r["sale_id"], r["user_id"])), actions=[FlashUserItem.bought.add(q)],
              condition=FlashUserItem.bought.does_not_exist() | (FlashUserItem.bought <= limit - q),
              on_fail=lambda: errors.LimitExceeded(f"at most {limit} per shopper in this sale"))
    tx.update(FlashShardItem(*store.shard_key(r["sale_id"], int(r["shard"]))),
              actions=[FlashShardItem.remaining.add(-q)], condition=FlashShardItem.remaining >= q,
              on_fail=lambda: ShardEmpty("this shard is empty"))


def _release(tx: Tx, r: dict) -> None:
    q = int(r["quantity"])
    tx.update(FlashShardItem(*store.shard_key(r["sale_id"], int(r["shard"]))),
              actions=[FlashShardItem.remaining.add(q)])
    tx.update(FlashUserItem(*store.user_key(r["sale_id"], r["user_id"])), actions=[FlashUserItem.bought.add(-q)])


reservations.register("flash", _take, _release)
