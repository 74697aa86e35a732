"""拼团: a group buy (the merchant's activity) and its groups (a leader and the friends
who join, each with an order at the group price).

A group is a seat counter with a condition. Joining takes a seat in the order's own
placement transaction (a reservation of kind "group"): the group's `seats_taken` goes up
while it is below `group_size`, the group OPEN and unexpired, and the member item is put
only if the shopper has none in it. An unpaid order that closes gives its seat back in
its closing transaction (once: that transaction is conditioned on the order's version).

    (leader's order placed)    -->            PENDING    seats_taken = 1
    PENDING --leader's payment counted-->     OPEN       expires_at = min(paid_at + ttl, ends_at)
    PENDING --leader's unpaid order closed--> FAILED     nobody paid: nothing to refund
    OPEN    --payment counted (paid < size)--> OPEN      paid_count + 1
    OPEN    --payment counted (paid = size)--> SUCCEEDED
    OPEN    --expiry, paid >= success_min_paid (set)--> SUCCEEDED (no fake members)
    OPEN    --expiry otherwise-->             FAILED     every paid member refunded in full
    OPEN    --a member's seat given back-->   OPEN       seats_taken - 1 (paid_count - 1 if paid)

Each payment is counted once (the member item's `paid` flag, written in the same
transaction as the group's count, conditioned on the group's version). A payment whose
group is FAILED when it is counted (it lost the race with the expiry) is refunded. A
seat given back after SUCCEEDED or FAILED changes nothing: a member's refund after
success does not un-succeed the group.

Invariants: 0 <= paid_count <= seats_taken <= group_size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class GroupStatus(StrEnum):
    PENDING = "PENDING"
    OPEN = "OPEN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


PENDING = GroupStatus.PENDING
OPEN = GroupStatus.OPEN
SUCCEEDED = GroupStatus.SUCCEEDED
FAILED = GroupStatus.FAILED
# The leader is reminded (with consent) this long before an OPEN group expires.
REMIND_LEAD = timedelta(minutes=30)
# Statuses in which a seat given back changes the group.
SEATED = (PENDING, OPEN)


class GroupFull(errors.SoldOut):
    """Every seat is paid or held by an unpaid order (409 GROUP_FULL). A SoldOut, so that
    a late payment for a closed order whose seat went to someone else is refunded."""

    code = "GROUP_FULL"


class AlreadyJoined(errors.SoldOut):
    code = "ALREADY_JOINED"


class GroupUnavailable(errors.SoldOut):
    """The group is not OPEN (or has expired) when an order takes a seat: 409 INVALID_STATE."""

    code = "INVALID_STATE"


@dataclass(frozen=True)
class GroupBuy:
    group_buy_id: str
    sku_id: str
    product_id: str
    title: str
    category: str | None
    price: int  # the group price, in fen
    group_size: int
    group_ttl_s: int
    starts_at: str
    ends_at: str
    stock: int
    per_user_limit: int
    created_at: str
    success_min_paid: int | None = None
    commission: dict | None = None
    stopped_at: str | None = None  # stopped by an operator: no new groups


@dataclass(frozen=True)
class Group:
    group_id: str
    group_buy_id: str
    leader_id: str
    group_size: int
    group_ttl_s: int
    ends_at: str  # the activity's end: no group outlives it
    status: str
    created_at: str
    seats_taken: int = 1
    paid_count: int = 0
    success_min_paid: int | None = None
    expires_at: str | None = None  # set when the leader's payment opens it
    ended_at: str | None = None
    # FAILED: True once every paid member's refund has been asked for (the sweep's work).
    refunds_done: bool = False
    version: int = 0

    @property
    def seats_left(self) -> int:
        return self.group_size - self.seats_taken

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and _dt(self.expires_at) <= now


@dataclass(frozen=True)
class Member:
    group_id: str
    user_id: str
    order_id: str
    leader: bool
    joined_at: str
    paid: bool = False


class GroupBuyRepository(Protocol):
    def get(self, group_buy_id: str) -> GroupBuy | None: ...

    def remaining(self, group_buy_id: str) -> int: ...

    def stage_create(self, tx, group_buy: GroupBuy, on_exists) -> None: ...

    def stage_take(self, tx, group_buy_id: str, user_id: str, limit: int, on_empty, on_limit,
                   opening: bool = False) -> None:
        """One unit of the activity's stock (while one is left) and one of the shopper's
        `limit` orders in it. `opening`: and the activity not stopped (decided
        in the opening order's transaction, so a stop and an opening never both win);
        `on_empty()` then answers either refusal."""

    def stage_give_back(self, tx, group_buy_id: str, user_id: str) -> None: ...

    def list_group_buys(self, limit: int, cursor: dict | None) -> tuple[list[tuple[GroupBuy, int]], dict | None]:
        """Every activity, newest first, each with its remaining stock."""

    def stage_stop(self, tx, group_buy_id: str, stopped_at: str, on_stopped) -> None:
        """Set `stopped_at`, conditioned on the activity existing and not being
        stopped yet; the commit raises `on_stopped()` otherwise."""


class GroupRepository(Protocol):
    def get(self, group_id: str) -> Group | None:
        """Read consistently (every decision is made from it)."""

    def member(self, group_id: str, user_id: str) -> Member | None: ...

    def members(self, group_id: str) -> list[Member]: ...

    def due(self, until_iso: str, limit: int) -> list[Group]:
        """OPEN groups expiring at or before `until_iso`, and FAILED ones whose refunds
        are not all asked for yet."""

    def list_groups(self, group_buy_id: str, limit: int, cursor: dict | None) -> tuple[list[Group], dict | None]:
        """The activity's groups, newest first, whatever their status (an index, no scan)."""

    def stage_open(self, tx, group: Group, leader: Member, on_exists) -> None:
        """Put the PENDING group and its leader's seat, if the group does not exist."""

    def stage_join(self, tx, group_id: str, member: Member, now: str, on_unavailable, on_joined) -> None:
        """A seat: seats_taken + 1 while below group_size, OPEN and expiring after `now`;
        the member put if absent."""

    def stage_change(self, tx, before: Group, after: Group, on_stale) -> None:
        """Write `after`, conditioned on the stored group still being `before.version`."""

    def stage_paid(self, tx, group_id: str, user_id: str, order_id: str, on_stale) -> None:
        """The member's payment counted: `paid` set, conditioned on the member holding
        the seat for `order_id` and not counted yet."""

    def stage_leave(self, tx, group_id: str, user_id: str, order_id: str) -> None:
        """Delete the member's seat item (conditioned on it being `order_id`'s)."""


def new_group_buy_id() -> str:
    return "gb" + uuid.uuid4().hex[:20]


def new_group_id() -> str:
    return "g" + uuid.uuid4().hex[:21]


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _next(group: Group, **changes) -> Group:
    return replace(group, version=group.version + 1, **changes)


# -- admin, joining -----------------------------------------------------------------------

def check_activity(group_size: int, success_min_paid: int | None) -> None:
    if success_min_paid is not None and not 1 <= success_min_paid <= group_size:
        raise errors.InvalidRequest("success_min_paid must be between 1 and group_size")


def check_window(group_buy: GroupBuy, now: datetime) -> None:
    if group_buy.stopped_at is not None:
        raise errors.Ended("this group buy was stopped")
    if now < _dt(group_buy.starts_at):
        raise errors.NotStarted("this group buy has not started")
    if now >= _dt(group_buy.ends_at):
        raise errors.Ended("this group buy has ended")


def stop(group_buy: GroupBuy, now: str) -> GroupBuy:
    """An operator stops the activity: no group opens any more; groups already
    open still fill until they expire (their paid members are not refunded for it).
    Stopping a stopped activity changes nothing."""
    return group_buy if group_buy.stopped_at is not None else replace(group_buy, stopped_at=now)


def open_group(group_buy: GroupBuy, group_id: str, leader_id: str, order_id: str, now: str) -> tuple[Group, Member]:
    group = Group(group_id=group_id, group_buy_id=group_buy.group_buy_id, leader_id=leader_id,
                  group_size=group_buy.group_size, group_ttl_s=group_buy.group_ttl_s, ends_at=group_buy.ends_at,
                  status=PENDING, created_at=now, success_min_paid=group_buy.success_min_paid)
    return group, Member(group_id, leader_id, order_id, leader=True, joined_at=now)


def check_joinable(group: Group, member: Member | None, now: datetime) -> None:
    """Why a shopper cannot take a seat now (read before the write; the write's own
    condition decides in a race)."""
    if group.status != OPEN or group.expired(now):
        shown = FAILED if group.status == OPEN else group.status
        raise GroupUnavailable(f"this group is {shown}; it cannot be joined")
    if member is not None:
        raise AlreadyJoined("you are already in this group")
    if group.seats_left < 1:
        raise GroupFull("every seat of this group is taken")


def refusal(group: Group | None, member: Member | None, now: datetime) -> errors.DomainError:
    """The error for a seat the write's condition refused, from a read made after it."""
    if group is None:
        return GroupUnavailable("this group does not exist")
    try:
        check_joinable(group, member, now)
    except errors.DomainError as exc:
        return exc
    return GroupFull("every seat of this group is taken")


def reservation(group_buy: GroupBuy, group_id: str, user_id: str, order_id: str, leader: bool) -> dict:
    return {"kind": "group", "group_buy_id": group_buy.group_buy_id, "group_id": group_id, "user_id": user_id,
            "order_id": order_id, "leader": leader, "quantity": 1}


def order_expiry_cap(group: Group | None, group_buy: GroupBuy) -> str:
    """A member's order (and its prepay's time_expire) ends no later than its group."""
    if group is not None and group.expires_at:
        return min(group.expires_at, group_buy.ends_at, key=_dt)
    return group_buy.ends_at


# -- payments, expiry, seats given back ------------------------------------------------------

def count_payment(group: Group, paid_at: datetime) -> Group | None:
    """The group after one more member's payment is counted; None when it is FAILED (the
    payment lost the race with the expiry, or the leader's order closed): refund it."""
    if group.status == FAILED:
        return None
    paid = group.paid_count + 1
    if paid > group.seats_taken:
        raise errors.InvalidState("more payments than seats")  # a seat is counted once
    if group.status == PENDING:
        expires = min(paid_at + timedelta(seconds=group.group_ttl_s), _dt(group.ends_at))
        status = SUCCEEDED if paid >= group.group_size else OPEN
        return _next(group, status=status, paid_count=paid, expires_at=_stamp(expires),
                     ended_at=_stamp(paid_at) if status == SUCCEEDED else None)
    if group.status == OPEN:
        done = paid >= group.group_size
        return _next(group, paid_count=paid, status=SUCCEEDED if done else OPEN,
                     ended_at=_stamp(paid_at) if done else None)
    # SUCCEEDED by success_min_paid at its expiry, and a seat holder's payment (made
    # before its order and the group expired) is counted late: it is one of the group.
    return _next(group, paid_count=paid)


def expire(group: Group, now: datetime) -> Group | None:
    """At its expiry, an OPEN group short of group_size: SUCCEEDED when success_min_paid is
    set and reached, otherwise FAILED. None when there is nothing to do."""
    if group.status != OPEN or not group.expired(now):
        return None
    if group.success_min_paid is not None and group.paid_count >= group.success_min_paid:
        return _next(group, status=SUCCEEDED, ended_at=_stamp(now))
    return _next(group, status=FAILED, ended_at=_stamp(now), refunds_done=group.paid_count == 0)


def refunds_asked(group: Group) -> Group | None:
    if group.status != FAILED or group.refunds_done:
        return None
    return _next(group, refunds_done=True)


def seat_given_back(group: Group, member_paid: bool) -> Group | None:
    """A member's order closed unpaid (or was refunded in full while the group was open):
    its seat is free again. The leader's unpaid order closing fails a PENDING group. None
    when the group has ended (nothing changes)."""
    if group.status == PENDING:
        return _next(group, status=FAILED, seats_taken=group.seats_taken - 1, refunds_done=True)
    if group.status == OPEN:
        return _next(group, seats_taken=group.seats_taken - 1,
                     paid_count=group.paid_count - (1 if member_paid else 0))
    return None


def shippable(group: Group | None) -> None:
    if group is None or group.status != SUCCEEDED:
        shown = group.status if group is not None else "gone"
        raise errors.InvalidState(f"a group order ships only after its group SUCCEEDED; it is {shown}")


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
