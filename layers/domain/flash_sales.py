"""秒杀 rules, pure: how a sale's stock is spread over counter shards, the order in which
an attempt tries them, and the sale window. The sale itself, its statuses and its
reservations are in `layers/domain/flash_sale.py`."""

from __future__ import annotations

import random
from datetime import datetime

from layers.domain import errors

WRITES_PER_ITEM_S = 1000  # what one DynamoDB item takes, per second


def shards_for(stock: int, expected_attempts_per_s: int | None) -> int:
    """K counter items so that the peak fits: each attempt writes one shard (2 WCU in a
    transaction), so a shard carries ~500 attempts/s; never more shards than units."""
    peak = expected_attempts_per_s or 4000
    return max(1, min(stock, 64, -(-peak // (WRITES_PER_ITEM_S // 2))))


def split_stock(stock: int, shards: int) -> list[int]:
    base, extra = divmod(stock, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shard_order(shards: int, rng: random.Random | None = None, skip: set[int] | None = None) -> list[int]:
    """A random order over the shards (spreading the crowd), known-empty ones last."""
    order = list(range(shards))
    (rng or random).shuffle(order)
    skip = skip or set()
    return [k for k in order if k not in skip] + [k for k in order if k in skip]


def check_window(now: datetime, starts: datetime, ends: datetime, stopped: bool) -> None:
    if stopped or now >= ends:
        raise errors.Ended("this flash sale has ended")
    if now < starts:
        raise errors.NotStarted("this flash sale has not started")
