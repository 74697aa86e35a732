"""砍价: a bargain (the merchant's campaign) and its instances (a shopper's attempt to
have friends cut the price of one SKU down to the floor).

An instance fixes its cut sequence when it starts (`cut_sequence`): R = start_price -
floor_price fen over M = helpers_needed cuts, each at least 1 fen, summing to exactly R,
earlier cuts larger on average, the last one what remains. The k-th help takes cut k;
so after exactly M helps the price is the floor, never before and never below.

    ACTIVE    --help (k < M)-->      ACTIVE      helps = k, cut_total += cut k
    ACTIVE    --help (k = M)-->      SUCCEEDED   price_now = floor_price
    SUCCEEDED --ordered(order)-->    ORDERED     in the order's placement transaction,
                                                 with one unit of the bargain's stock
    ORDERED   --order paid-->        PURCHASED
    ORDERED   --order closed-->      SUCCEEDED   (EXPIRED when past its expiry)
    ACTIVE|SUCCEEDED --expiry-->     EXPIRED

An instance past `expires_at` takes no help and cannot be bought even before the sweep
writes EXPIRED: it shows as EXPIRED from that second (`shown_status`). ORDERED waits for
its order; an order's payment time is the shop's, not the bargain's.

The order holds the instance as a reservation of kind "bargain"
(`{"kind": "bargain", "bargain_id", "instance_id", "order_id", "user_id", "expires_at"}`):
taken when the order is written, given back when it closes unpaid.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from layers.domain import errors
from layers.domain.helps import NotAllowed, check_helper, expired


class InstanceStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    ORDERED = "ORDERED"
    PURCHASED = "PURCHASED"
    EXPIRED = "EXPIRED"


ACTIVE = InstanceStatus.ACTIVE
SUCCEEDED = InstanceStatus.SUCCEEDED
ORDERED = InstanceStatus.ORDERED
PURCHASED = InstanceStatus.PURCHASED
EXPIRED = InstanceStatus.EXPIRED
# Statuses that end at the instance's expiry (the sweep's queue holds exactly these).
EXPIRING = (ACTIVE, SUCCEEDED)


class InstanceUnavailable(errors.SoldOut):
    """The instance is not SUCCEEDED (and unexpired, and the caller's) when an order takes
    it. A SoldOut, so that a payment arriving for a closed order whose instance has moved
    on is refunded like one whose stock is gone; answered 409 INVALID_STATE."""

    code = "INVALID_STATE"


@dataclass(frozen=True)
class Bargain:
    bargain_id: str
    sku_id: str
    product_id: str
    title: str
    category: str | None
    start_price: int  # the SKU's price when the bargain was created
    floor_price: int
    helpers_needed: int
    ttl_s: int
    starts_at: str
    ends_at: str
    stock: int
    per_user_limit: int
    helps_per_user_per_day: int | None
    created_at: str
    commission: dict | None = None
    stopped_at: str | None = None  # an operator stopped it: no new instance starts


@dataclass(frozen=True)
class BargainInstance:
    instance_id: str
    bargain_id: str
    user_id: str
    sku_id: str
    start_price: int
    floor_price: int
    helpers_needed: int
    cuts: tuple[int, ...]
    status: str
    created_at: str
    expires_at: str
    helps: int = 0
    cut_total: int = 0
    order_id: str | None = None
    succeeded_at: str | None = None
    version: int = 0

    @property
    def price_now(self) -> int:
        return self.start_price - self.cut_total

    def shown_status(self, now: datetime) -> str:
        if self.status in EXPIRING and expired(self.expires_at, now):
            return EXPIRED.value
        return str(self.status)


class BargainRepository(Protocol):
    def get(self, bargain_id: str) -> Bargain | None: ...

    def list_bargains(self, limit: int, cursor: dict | None) -> tuple[list[tuple[Bargain, int]], dict | None]:
        """Every bargain, newest first, each with its remaining stock."""

    def remaining(self, bargain_id: str) -> int: ...

    def stage_create(self, tx, bargain: Bargain, on_exists) -> None: ...

    def stage_count_start(self, tx, bargain_id: str, user_id: str, limit: int, on_limit) -> None:
        """Count one instance started by the shopper, while fewer than `limit`."""

    def stage_check_running(self, tx, bargain_id: str, on_stopped) -> None:
        """The bargain is not stopped (checked in the starting transaction, so a stop and a
        start never both win); the commit raises `on_stopped()` otherwise."""

    def stage_stop(self, tx, bargain_id: str, stopped_at: str, on_stopped) -> None:
        """Set `stopped_at`, conditioned on the bargain existing and not being stopped yet."""

    def stage_take_stock(self, tx, bargain_id: str, on_empty) -> None:
        """One unit of the bargain's stock, while there is one."""

    def stage_return_stock(self, tx, bargain_id: str) -> None: ...


class BargainInstanceRepository(Protocol):
    def get(self, instance_id: str) -> BargainInstance | None:
        """Read consistently (every decision is made from it)."""

    def due(self, until_iso: str, limit: int) -> list[BargainInstance]:
        """ACTIVE or SUCCEEDED instances whose expiry is at or before `until_iso`."""

    def stage_create(self, tx, instance: BargainInstance, on_exists) -> None: ...

    def stage_change(self, tx, before: BargainInstance, after: BargainInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        """Write `after`, conditioned on the stored instance still being `before.version`
        (and, with `unexpired_at`, on its expiry being after that time)."""

    def stage_order(self, tx, instance_id: str, user_id: str, order_id: str, now: str, on_unavailable) -> None:
        """SUCCEEDED -> ORDERED by `order_id`, without a read: conditioned on exactly
        SUCCEEDED, owned by `user_id` and expiring after `now` (else `on_unavailable`)."""


def new_bargain_id() -> str:
    return "b" + uuid.uuid4().hex[:20]


def new_instance_id() -> str:
    return "bi" + uuid.uuid4().hex[:22]


# -- the cuts ---------------------------------------------------------------------------

def cut_sequence(total: int, helpers: int, rng: random.Random) -> list[int]:
    """`helpers` cuts in fen: each at least 1, summing to exactly `total`, earlier ones
    larger on average, the last one what remains.

    Cut i takes a random share of what remains after keeping 1 fen for each helper still
    to come: on average 2/(h+1) of it with h helpers left (h, h-1, ..., 1 in proportion,
    as if the cuts fell linearly), drawn uniformly from half to one and a half times
    that."""
    if helpers < 1:
        raise ValueError("at least one helper")
    if total < helpers:
        raise ValueError("at least 1 fen per helper")
    cuts = []
    remaining = total
    for i in range(helpers - 1):
        left = helpers - i
        available = remaining - (left - 1)  # keep 1 fen for each helper after this one
        share = min(1.0, 2.0 / (left + 1) * rng.uniform(0.5, 1.5))
        cut = max(1, min(available, round(available * share)))
        cuts.append(cut)
        remaining -= cut
    cuts.append(remaining)
    return cuts


# -- admin ------------------------------------------------------------------------------

def check_prices(start_price: int, floor_price: int, helpers_needed: int) -> None:
    if floor_price < 1:
        raise errors.InvalidRequest("floor_price must be at least 1 fen")
    if start_price - floor_price < helpers_needed:
        raise errors.NotAcceptable(
            f"the price ({start_price}) less floor_price must be at least helpers_needed ({helpers_needed}) fen")


# -- starting, helping ------------------------------------------------------------------

def check_window(bargain: Bargain, now: datetime) -> None:
    if bargain.stopped_at is not None:
        raise errors.InvalidState("this bargain was stopped")
    if now < datetime.fromisoformat(bargain.starts_at.replace("Z", "+00:00")):
        raise errors.NotStarted("this bargain has not started")
    if now >= datetime.fromisoformat(bargain.ends_at.replace("Z", "+00:00")):
        raise errors.Ended("this bargain has ended")


def start(bargain: Bargain, instance_id: str, user_id: str, created_at: str, expires_at: str,
          rng: random.Random) -> BargainInstance:
    total = bargain.start_price - bargain.floor_price
    return BargainInstance(
        instance_id=instance_id, bargain_id=bargain.bargain_id, user_id=user_id, sku_id=bargain.sku_id,
        start_price=bargain.start_price, floor_price=bargain.floor_price,
        helpers_needed=bargain.helpers_needed, cuts=tuple(cut_sequence(total, bargain.helpers_needed, rng)),
        status=ACTIVE, created_at=created_at, expires_at=expires_at)


def _next(instance: BargainInstance, **changes) -> BargainInstance:
    return replace(instance, version=instance.version + 1, **changes)


def help_(instance: BargainInstance, helper_id: str, now: datetime, now_iso: str) -> tuple[int, BargainInstance]:
    """The next help: (its cut, the instance after). The M-th makes it SUCCEEDED."""
    check_helper(instance.user_id, helper_id)
    if instance.shown_status(now) != ACTIVE:
        raise errors.InvalidState(f"this bargain is {instance.shown_status(now)}; it takes no more help")
    k = instance.helps + 1
    cut = instance.cuts[k - 1]
    done = k == instance.helpers_needed
    return cut, _next(instance, helps=k, cut_total=instance.cut_total + cut,
                      status=SUCCEEDED if done else ACTIVE, succeeded_at=now_iso if done else None)


# -- buying -----------------------------------------------------------------------------

def check_buyable(instance: BargainInstance, user_id: str, now: datetime) -> None:
    if instance.user_id != user_id:
        raise NotAllowed("only the shopper who started this bargain can buy it")
    shown = instance.shown_status(now)
    if shown == ORDERED:
        raise errors.InvalidState("this bargain already has an order")
    if shown != SUCCEEDED:
        raise errors.InvalidState(f"this bargain is {shown}; it can be bought once it SUCCEEDED")


def reservation(instance: BargainInstance, order_id: str) -> dict:
    return {"kind": "bargain", "bargain_id": instance.bargain_id, "instance_id": instance.instance_id,
            "order_id": order_id, "user_id": instance.user_id, "expires_at": instance.expires_at,
            "quantity": 1}


def ordered(instance: BargainInstance, order_id: str) -> BargainInstance:
    """What `stage_order` writes (the repository conditions it on SUCCEEDED, owner, expiry)."""
    return _next(instance, status=ORDERED, order_id=order_id)


def order_paid(instance: BargainInstance, order_id: str) -> BargainInstance | None:
    """The instance after its order is paid; None when it is not ORDERED by that order
    (already PURCHASED, or the order no longer holds it)."""
    if instance.status != ORDERED or instance.order_id != order_id:
        return None
    return _next(instance, status=PURCHASED)


def order_closed(instance: BargainInstance, order_id: str, now: datetime) -> BargainInstance | None:
    """Its unpaid order closed: SUCCEEDED again, or EXPIRED past its expiry. None when the
    order does not hold it (nothing to give back)."""
    if instance.status != ORDERED or instance.order_id != order_id:
        return None
    return _next(instance, status=EXPIRED if expired(instance.expires_at, now) else SUCCEEDED, order_id=None)


def expire(instance: BargainInstance, now: datetime) -> BargainInstance | None:
    """EXPIRED when it is ACTIVE or SUCCEEDED and its time is up; None otherwise."""
    if instance.status not in EXPIRING or not expired(instance.expires_at, now):
        return None
    return _next(instance, status=EXPIRED)


def stop(bargain: Bargain, now: str) -> Bargain:
    """An operator stops the bargain: no instance starts any more; instances already
    running keep going until they expire or are bought. Stopping twice changes nothing."""
    return bargain if bargain.stopped_at is not None else replace(bargain, stopped_at=now)
