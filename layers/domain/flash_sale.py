"""A flash sale (秒杀): its state, statuses, transitions, and the units it reserves.

    ACTIVE --stop--> STOPPED   (stopping a stopped sale changes nothing)

The sale's stock is split over K counter shards (`layers/domain/flash_sales.py` says
how many and in which order an attempt tries them). An order takes units as a
reservation of kind "flash":

    {"kind": "flash", "sale_id", "shard", "quantity", "user_id", "limit"}

taken in the order's creating transaction (the shard's `remaining >= quantity`, and
the shopper's `bought + quantity <= limit`) and given back in the transaction that
closes it unpaid. The repository is the reservation handler for this kind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from layers.domain import errors
from layers.domain import flash_sales as rules
from layers.domain.pricing import Line


class SaleStatus(StrEnum):
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"


ACTIVE = SaleStatus.ACTIVE
STOPPED = SaleStatus.STOPPED


class ShardEmpty(errors.SoldOut):
    """One shard has nothing left; others may."""


@dataclass(frozen=True)
class FlashSale:
    sale_id: str
    sku_id: str
    product_id: str
    title: str
    category: str | None
    price: int
    stock: int
    starts_at: str
    ends_at: str
    per_user_limit: int
    shards: int
    created_at: str
    status: str = ACTIVE


class FlashSaleRepository(Protocol):
    def get(self, sale_id: str) -> FlashSale | None: ...

    def list_sales(self, limit: int, cursor: dict | None) -> tuple[list[FlashSale], dict | None]:
        """Latest start first."""

    def remaining(self, sale_id: str) -> int:
        """Units left over every shard."""

    def stage_create(self, tx, sale: FlashSale, shard_units: list[int], on_exists) -> None:
        """The sale and its shards (shard k starts with `shard_units[k]`)."""

    def stage_change(self, tx, before: FlashSale, after: FlashSale, on_stale) -> None:
        """Write `after`, conditioned on the stored sale still having `before.status`."""

    def admit(self, sale_id: str, user_id: str, window: int, expires_at: int, limit: int) -> bool:
        """Count one attempt of the shopper in this time window; False (nothing counted)
        when `limit` attempts were already counted in it."""

    def stage_take(self, tx, reservation: dict) -> None:
        """Take a "flash" reservation: raises (at commit) LimitExceeded when the shopper
        would pass `limit`, else ShardEmpty when the shard has fewer units."""

    def stage_release(self, tx, reservation: dict) -> None:
        """Give a "flash" reservation back (its order closed unpaid)."""


def new_sale_id() -> str:
    return "f" + uuid.uuid4().hex[:20]


def stop(sale: FlashSale) -> FlashSale:
    return sale if sale.status == STOPPED else replace(sale, status=STOPPED)


def check_open(sale: FlashSale, now: datetime) -> None:
    """Raises Ended (stopped, or over) or NotStarted."""
    rules.check_window(now, datetime.fromisoformat(sale.starts_at), datetime.fromisoformat(sale.ends_at),
                       sale.status == STOPPED)


def check_quantity(sale: FlashSale, quantity: int) -> None:
    if quantity > sale.per_user_limit:
        raise errors.LimitExceeded(f"at most {sale.per_user_limit} per shopper")


def line(sale: FlashSale, quantity: int) -> Line:
    return Line(sku_id=sale.sku_id, product_id=sale.product_id, title=sale.title, category=sale.category,
                quantity=quantity, unit_price=sale.price)


def reservation(sale: FlashSale, shard: int, quantity: int, user_id: str) -> dict:
    return {"kind": "flash", "sale_id": sale.sale_id, "shard": shard, "quantity": quantity,
            "user_id": user_id, "limit": sale.per_user_limit}
