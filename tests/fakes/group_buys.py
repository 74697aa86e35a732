"""In-memory twins of layers/storage/group_buys.py, with the same conditional semantics:

- an activity's stock goes down while at least 1 is left; a shopper's order count goes
  up while below the limit (or absent), and both come back on `stage_give_back`;
- a group is opened only if absent (with its leader's seat, put only if absent); a seat
  is taken while the group is OPEN, below group_size and expiring after `now`, and the
  member put only if absent; a change is written only while the group still has the
  version it was read with; a seat given back moves the counters by their difference
  while the group still has the status it was read with;
- a payment is counted on the member holding the seat for that order and not yet paid.

Keys: ("group_buy", id) -> GroupBuy, ("group_buy_stock", id) -> int,
("group_buyer", id, user) -> int, ("group", id) -> Group, ("group_member", id, user) -> Member.
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain import group_buy as domain
from layers.domain.group_buy import Group, GroupBuy, Member
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryGroupBuyRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, group_buy_id: str) -> GroupBuy | None:
        return self.store.get(("group_buy", group_buy_id))

    def remaining(self, group_buy_id: str) -> int:
        return self.store.get(("group_buy_stock", group_buy_id), 0)

    def stage_create(self, tx: MemoryTx, group_buy: GroupBuy, on_exists) -> None:
        key = ("group_buy", group_buy.group_buy_id)

        def apply(items):
            items[key] = group_buy
            items[("group_buy_stock", group_buy.group_buy_id)] = group_buy.stock

        tx.add(lambda items: key not in items, apply, on_exists)

    def stage_take(self, tx: MemoryTx, group_buy_id: str, user_id: str, limit: int, on_empty, on_limit,
                   opening: bool = False) -> None:
        stock, buyer = ("group_buy_stock", group_buy_id), ("group_buyer", group_buy_id, user_id)
        activity = ("group_buy", group_buy_id)

        def takes(items) -> bool:
            stopped = opening and activity in items and items[activity].stopped_at is not None
            return items.get(stock, 0) >= 1 and not stopped

        tx.add(takes, lambda items: items.__setitem__(stock, items[stock] - 1), on_empty)
        tx.add(lambda items: items.get(buyer, 0) < limit,
               lambda items: items.__setitem__(buyer, items.get(buyer, 0) + 1), on_limit)

    def stage_stop(self, tx: MemoryTx, group_buy_id: str, stopped_at: str, on_stopped) -> None:
        key = ("group_buy", group_buy_id)
        tx.add(lambda items: key in items and items[key].stopped_at is None,
               lambda items: items.__setitem__(key, replace(items[key], stopped_at=stopped_at)), on_stopped)

    def list_group_buys(self, limit: int, cursor: dict | None):
        activities = [g for g in self.store.scan(("group_buy",)) if isinstance(g, GroupBuy)]
        page, next_cursor = _page(activities, lambda g: f"{g.created_at}#{g.group_buy_id}", limit, cursor)
        return [(g, self.remaining(g.group_buy_id)) for g in page], next_cursor

    def stage_give_back(self, tx: MemoryTx, group_buy_id: str, user_id: str) -> None:
        stock, buyer = ("group_buy_stock", group_buy_id), ("group_buyer", group_buy_id, user_id)
        tx.add(lambda items: ("group_buy", group_buy_id) in items,
               lambda items: items.__setitem__(stock, items.get(stock, 0) + 1))
        tx.add(lambda items: items.get(buyer, 0) >= 1, lambda items: items.__setitem__(buyer, items[buyer] - 1))


def _page(items: list, position, limit: int, cursor: dict | None):
    """Newest first by `position(item)`; the cursor is the last item's position."""
    items = sorted(items, key=position, reverse=True)
    if cursor:
        items = [i for i in items if position(i) < cursor["after"]]
    page = items[:limit]
    return page, ({"after": position(page[-1])} if len(items) > limit else None)


class MemoryGroupRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, group_id: str) -> Group | None:
        return self.store.get(("group", group_id))

    def member(self, group_id: str, user_id: str) -> Member | None:
        return self.store.get(("group_member", group_id, user_id))

    def members(self, group_id: str) -> list[Member]:
        return sorted(self.store.scan(("group_member", group_id)),
                      key=lambda m: (not m.leader, m.joined_at, m.user_id))

    def due(self, until_iso: str, limit: int = 100) -> list[Group]:
        due = []
        for g in self.store.scan(("group",)):
            if not isinstance(g, Group):
                continue
            if g.status == domain.OPEN and g.expires_at and g.expires_at <= until_iso:
                due.append((g.expires_at, g))
            elif g.status == domain.FAILED and not g.refunds_done:
                due.append((g.ended_at or g.created_at, g))
        return [g for _, g in sorted(due, key=lambda w: (w[0], w[1].group_id))][:limit]

    def list_groups(self, group_buy_id: str, limit: int, cursor: dict | None):
        groups = [g for g in self.store.scan(("group",)) if isinstance(g, Group)
                  and g.group_buy_id == group_buy_id]
        return _page(groups, lambda g: f"{g.created_at}#{g.group_id}", limit, cursor)

    def joinable_groups(self, group_buy_id: str, limit: int, cursor: dict | None):
        """OPEN groups, soonest to expire first."""
        position = lambda g: f"{g.expires_at}#{g.group_id}"  # noqa: E731
        groups = sorted((g for g in self.store.scan(("group",)) if isinstance(g, Group)
                         and g.group_buy_id == group_buy_id and g.status == domain.OPEN and g.expires_at
                         and (not cursor or position(g) > cursor["after"])), key=position)
        page = groups[:limit]
        return page, ({"after": position(page[-1])} if len(groups) > limit else None)

    def _put_member(self, tx: MemoryTx, member: Member, on_exists) -> None:
        key = ("group_member", member.group_id, member.user_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, member), on_exists)

    def stage_open(self, tx: MemoryTx, group: Group, leader: Member, on_exists) -> None:
        key = ("group", group.group_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, group), on_exists)
        self._put_member(tx, leader, on_exists)

    def stage_join(self, tx: MemoryTx, group_id: str, member: Member, now: str, on_unavailable, on_joined) -> None:
        key = ("group", group_id)

        def check(items):
            g = items.get(key)
            return (g is not None and g.status == domain.OPEN and g.seats_taken < g.group_size
                    and g.expires_at is not None and g.expires_at > now)

        def apply(items):
            g = items[key]
            items[key] = replace(g, seats_taken=g.seats_taken + 1, version=g.version + 1)

        tx.add(check, apply, on_unavailable)
        self._put_member(tx, member, on_joined)

    def stage_change(self, tx: MemoryTx, before: Group, after: Group, on_stale) -> None:
        key = ("group", before.group_id)
        tx.add(lambda items: items.get(key) is not None and items[key].version == before.version,
               lambda items: items.__setitem__(key, after), on_stale)

    def stage_seat_back(self, tx: MemoryTx, before: Group, after: Group, on_moved) -> None:
        key = ("group", before.group_id)

        def apply(items):
            g = items[key]
            items[key] = replace(g, seats_taken=g.seats_taken + after.seats_taken - before.seats_taken,
                                 paid_count=g.paid_count + after.paid_count - before.paid_count,
                                 status=after.status, refunds_done=after.refunds_done, version=g.version + 1)

        tx.add(lambda items: items.get(key) is not None and items[key].status == before.status, apply, on_moved)

    def stage_paid(self, tx: MemoryTx, group_id: str, user_id: str, order_id: str, on_stale) -> None:
        key = ("group_member", group_id, user_id)
        tx.add(lambda items: (m := items.get(key)) is not None and m.order_id == order_id and not m.paid,
               lambda items: items.__setitem__(key, replace(items[key], paid=True)), on_stale)

    def stage_leave(self, tx: MemoryTx, group_id: str, user_id: str, order_id: str) -> None:
        key = ("group_member", group_id, user_id)
        tx.add(lambda items: (m := items.get(key)) is not None and m.order_id == order_id,
               lambda items: items.pop(key))
