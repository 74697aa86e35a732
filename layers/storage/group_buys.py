"""Group buys (拼团) in the shop table, and the repositories that alone know their keys.

- Activity: pk `GROUP_BUY#<id>`, sk `GROUP_BUY`; `remaining` is its stock, taken (>= 1,
  by condition) in the placement transaction of every group order, given back when one
  closes unpaid or is refunded in full before shipping.
- A shopper's orders in it: pk `GROUP_BUY#<id>`, sk `USER#<user_id>`, `orders`
  (< per_user_limit, by condition), given back with the stock.
- Group: pk `GROUP#<id>`, sk `GROUP`: the seat counter (`seats_taken`, `paid_count`,
  `version`). gsi2 is a sparse work queue, `GROUPS_DUE#<nn>` / `<when>#<id>`: while OPEN
  by its expiry, while FAILED with refunds still to ask for by when it failed (the
  expire-groups sweep); removed by the write that leaves those states.
- Member: pk `GROUP#<id>`, sk `MEMBER#<user_id>`: the seat of one shopper's order,
  put if absent (one seat per shopper), `paid` once its payment is counted.

For the console, activities are listed by gsi1 `GROUP_BUYS` / `<created_at>#<id>`;
an activity's groups while PENDING or OPEN by gsi1 `GROUP_BUY_GROUPS#<activity id>` /
`<created_at>#<group id>` (sparse: removed by the write that ends the group). While OPEN, a
group is also in gsi3 `GROUP_BUY_OPEN#<activity id>` / its expiry in epoch seconds: the
groups a stranger can join, soonest to expire first (sparse, kept by the same transitions).
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.domain import group_buy as domain
from layers.domain.group_buy import Group, GroupBuy, Member
from layers.storage import queues
from layers.storage.base import (
    Listed,
    ListedAndQueued,
    Numbered,
    ShopModel,
    changed,
    requeued,
    values_of,
)

DUE = "GROUPS_DUE"
GROUP_BUYS = "GROUP_BUYS"  # gsi1, every activity


class GroupBuyItem(Listed):  # listed
    group_buy_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    price = NumberAttribute()
    group_size = NumberAttribute()
    group_ttl_s = NumberAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    stock = NumberAttribute()
    remaining = NumberAttribute()
    per_user_limit = NumberAttribute()
    created_at = UnicodeAttribute()
    success_min_paid = NumberAttribute(null=True)
    commission = JSONAttribute(null=True)
    stopped_at = UnicodeAttribute(null=True)


class GroupBuyerItem(ShopModel):
    orders = NumberAttribute(default=0)


class GroupItem(ListedAndQueued, Numbered):  # listed under its activity; joinable while OPEN
    group_id = UnicodeAttribute()
    group_buy_id = UnicodeAttribute()
    leader_id = UnicodeAttribute()
    group_size = NumberAttribute()
    group_ttl_s = NumberAttribute()
    ends_at = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    seats_taken = NumberAttribute(default=0)
    paid_count = NumberAttribute(default=0)
    success_min_paid = NumberAttribute(null=True)
    expires_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    refunds_done = BooleanAttribute(default=False)
    version = NumberAttribute(default=0)


class MemberItem(ShopModel):
    group_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    leader = BooleanAttribute(default=False)
    joined_at = UnicodeAttribute()
    paid = BooleanAttribute(default=False)


def group_buy_key(group_buy_id: str) -> tuple[str, str]:
    return f"GROUP_BUY#{group_buy_id}", "GROUP_BUY"


def buyer_key(group_buy_id: str, user_id: str) -> tuple[str, str]:
    return f"GROUP_BUY#{group_buy_id}", f"USER#{user_id}"


def group_key(group_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", "GROUP"


def member_key(group_id: str, user_id: str) -> tuple[str, str]:
    return f"GROUP#{group_id}", f"MEMBER#{user_id}"


_GROUP_BUY_FIELDS = [f.name for f in fields(GroupBuy)]
_GROUP_FIELDS = [f.name for f in fields(Group)]
_MEMBER_FIELDS = [f.name for f in fields(Member)]
_TRANSITION_FIELDS = ["status", "seats_taken", "paid_count", "expires_at", "ended_at", "refunds_done"]
_INT = {"price", "group_size", "group_ttl_s", "stock", "per_user_limit", "success_min_paid", "seats_taken",
        "paid_count", "version"}


def _group_buy(item: GroupBuyItem) -> GroupBuy:
    return GroupBuy(**values_of(item, _GROUP_BUY_FIELDS, _INT))


def _group(item: GroupItem) -> Group:
    values = values_of(item, _GROUP_FIELDS, _INT)
    values["refunds_done"] = bool(values["refunds_done"])
    values["version"] = values["version"] or 0
    return Group(**values)


def _member(item: MemberItem) -> Member:
    values = values_of(item, _MEMBER_FIELDS, _INT)
    values["leader"], values["paid"] = bool(values["leader"]), bool(values["paid"])
    return Member(**values)


def _queue(group: Group) -> tuple[str, str] | None:
    if group.status == domain.OPEN and group.expires_at:
        return queues.key(DUE, group.group_id), f"{group.expires_at}#{group.group_id}"
    if group.status == domain.FAILED and not group.refunds_done:
        return queues.key(DUE, group.group_id), f"{group.ended_at or group.created_at}#{group.group_id}"
    return None


# -- the console's lists --
def _listed(group: Group) -> tuple[str, str]:
    """Where a group is listed under its activity (gsi1): from its opening on, whatever its
    status, so the console shows the groups that succeeded (to ship) and failed (refunded)
    beside those still filling."""
    return f"GROUP_BUY_GROUPS#{group.group_buy_id}", f"{group.created_at}#{group.group_id}"


def _relisted(group: Group) -> list:
    """Set on every change (not only when it moves), which lists again a group that ended
    while only unfinished groups were listed."""
    pk, sk = _listed(group)
    return [GroupItem.gsi1pk.set(pk), GroupItem.gsi1sk.set(sk)]


def _joinable(group: Group) -> tuple[str, int] | None:
    """Where an OPEN group waits for strangers to join (gsi3, by its expiry); None otherwise."""
    if group.status == domain.OPEN and group.expires_at:
        return f"GROUP_BUY_OPEN#{group.group_buy_id}", _epoch(group.expires_at)
    return None


def _epoch(at: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())


def _rejoinable(before: tuple[str, int] | None, after: tuple[str, int] | None) -> list:
    if after == before:
        return []
    if after is None:
        return [GroupItem.gsi3pk.remove(), GroupItem.gsi3n.remove()]
    return [GroupItem.gsi3pk.set(after[0]), GroupItem.gsi3n.set(after[1])]


class DynamoGroupBuyRepository:
    """`layers.domain.group_buy.GroupBuyRepository` on the shop table."""

    def get(self, group_buy_id: str) -> GroupBuy | None:
        try:
            return _group_buy(GroupBuyItem.get(*group_buy_key(group_buy_id)))
        except GroupBuyItem.DoesNotExist:
            return None

    def remaining(self, group_buy_id: str) -> int:
        try:
            return int(GroupBuyItem.get(*group_buy_key(group_buy_id), consistent_read=True).remaining)
        except GroupBuyItem.DoesNotExist:
            return 0

    def stage_create(self, tx, group_buy: GroupBuy, on_exists) -> None:
        item = GroupBuyItem(*group_buy_key(group_buy.group_buy_id),
                            **{n: getattr(group_buy, n) for n in _GROUP_BUY_FIELDS}, remaining=group_buy.stock,
                            gsi1pk=GROUP_BUYS, gsi1sk=f"{group_buy.created_at}#{group_buy.group_buy_id}")
        tx.put(item, condition=GroupBuyItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_stop(self, tx, group_buy_id: str, stopped_at: str, on_stopped) -> None:
        tx.update(GroupBuyItem(*group_buy_key(group_buy_id)), actions=[GroupBuyItem.stopped_at.set(stopped_at)],
                  condition=GroupBuyItem.pk.exists() & GroupBuyItem.stopped_at.does_not_exist(), on_fail=on_stopped)

    def list_group_buys(self, limit: int, cursor: dict | None) -> tuple[list[tuple[GroupBuy, int]], dict | None]:
        """Every activity, newest first, each with its remaining stock."""
        result = GroupBuyItem.gsi1.query(GROUP_BUYS, scan_index_forward=False, limit=limit,
                                         last_evaluated_key=cursor)
        return [(_group_buy(i), int(i.remaining)) for i in result], result.last_evaluated_key

    def stage_take(self, tx, group_buy_id: str, user_id: str, limit: int, on_empty, on_limit,
                   opening: bool = False) -> None:
        condition = GroupBuyItem.remaining >= 1
        if opening:  # a stopped activity opens no group
            condition = condition & GroupBuyItem.stopped_at.does_not_exist()
        tx.update(GroupBuyItem(*group_buy_key(group_buy_id)), actions=[GroupBuyItem.remaining.add(-1)],
                  condition=condition, on_fail=on_empty)
        tx.update(GroupBuyerItem(*buyer_key(group_buy_id, user_id)), actions=[GroupBuyerItem.orders.add(1)],
                  condition=GroupBuyerItem.orders.does_not_exist() | (GroupBuyerItem.orders < limit),
                  on_fail=on_limit)

    def stage_give_back(self, tx, group_buy_id: str, user_id: str) -> None:
        tx.update(GroupBuyItem(*group_buy_key(group_buy_id)), actions=[GroupBuyItem.remaining.add(1)],
                  condition=GroupBuyItem.pk.exists())
        tx.update(GroupBuyerItem(*buyer_key(group_buy_id, user_id)), actions=[GroupBuyerItem.orders.add(-1)],
                  condition=GroupBuyerItem.orders >= 1)


class DynamoGroupRepository:
    """`layers.domain.group_buy.GroupRepository` on the shop table."""

    def get(self, group_id: str) -> Group | None:
        try:
            return _group(GroupItem.get(*group_key(group_id), consistent_read=True))
        except GroupItem.DoesNotExist:
            return None

    def member(self, group_id: str, user_id: str) -> Member | None:
        try:
            return _member(MemberItem.get(*member_key(group_id, user_id), consistent_read=True))
        except MemberItem.DoesNotExist:
            return None

    def members(self, group_id: str) -> list[Member]:
        pk, _ = group_key(group_id)
        found = MemberItem.query(pk, MemberItem.sk.startswith("MEMBER#"), consistent_read=True)
        return sorted((_member(i) for i in found), key=lambda m: (not m.leader, m.joined_at, m.user_id))

    def due(self, until_iso: str, limit: int = 100) -> list[Group]:
        found = queues.merged(
            DUE, lambda k: GroupItem.gsi2.query(k, GroupItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda i: i.gsi2sk, limit)
        return [_group(i) for i in found]

    def list_groups(self, group_buy_id: str, limit: int, cursor: dict | None) -> tuple[list[Group], dict | None]:
        """The activity's groups, newest first, whatever their status."""
        result = GroupItem.gsi1.query(f"GROUP_BUY_GROUPS#{group_buy_id}", scan_index_forward=False, limit=limit,
                                      last_evaluated_key=cursor)
        return [_group(i) for i in result], result.last_evaluated_key

    def joinable_groups(self, group_buy_id: str, limit: int, cursor: dict | None) -> tuple[list[Group], dict | None]:
        """The activity's OPEN groups, soonest to expire first."""
        result = GroupItem.gsi3.query(f"GROUP_BUY_OPEN#{group_buy_id}", scan_index_forward=True, limit=limit,
                                      last_evaluated_key=cursor)
        return [_group(i) for i in result], result.last_evaluated_key

    def stage_open(self, tx, group: Group, leader: Member, on_exists) -> None:
        queue, listed, joinable = _queue(group), _listed(group), _joinable(group)
        item = GroupItem(*group_key(group.group_id), **{n: getattr(group, n) for n in _GROUP_FIELDS},
                         gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None,
                         gsi1pk=listed[0], gsi1sk=listed[1],
                         gsi3pk=joinable[0] if joinable else None, gsi3n=joinable[1] if joinable else None)
        item.status = str(group.status)
        tx.put(item, condition=GroupItem.pk.does_not_exist(), on_fail=on_exists)
        self._put_member(tx, leader, on_exists)

    @staticmethod
    def _put_member(tx, member: Member, on_exists) -> None:
        item = MemberItem(*member_key(member.group_id, member.user_id),
                          **{n: getattr(member, n) for n in _MEMBER_FIELDS})
        tx.put(item, condition=MemberItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_join(self, tx, group_id: str, member: Member, now: str, on_unavailable, on_joined) -> None:
        tx.update(GroupItem(*group_key(group_id)),
                  actions=[GroupItem.seats_taken.add(1), GroupItem.version.add(1)],
                  condition=((GroupItem.status == str(domain.OPEN)) & (GroupItem.seats_taken < GroupItem.group_size)
                             & (GroupItem.expires_at > now)),
                  on_fail=on_unavailable)
        self._put_member(tx, member, on_joined)

    def stage_change(self, tx, before: Group, after: Group, on_stale) -> None:
        actions = [*changed(GroupItem, before, after, _TRANSITION_FIELDS,
                            lambda name, value: str(value) if name == "status" else value),
                   *requeued(GroupItem, _queue(before), _queue(after)),
                   *_relisted(after),
                   *_rejoinable(_joinable(before), _joinable(after)),
                   GroupItem.version.set(after.version)]
        tx.update(GroupItem(*group_key(before.group_id)), actions=actions,
                  condition=GroupItem.pk.exists() & (GroupItem.version == before.version), on_fail=on_stale)

    def stage_seat_back(self, tx, before: Group, after: Group, on_moved) -> None:
        """A seat given back: the counters moved by their difference (joins may land
        meanwhile), conditioned on the group still being `before.status`."""
        actions = [GroupItem.seats_taken.add(after.seats_taken - before.seats_taken), GroupItem.version.add(1)]
        if after.paid_count != before.paid_count:
            actions.append(GroupItem.paid_count.add(after.paid_count - before.paid_count))
        if after.status != before.status:
            actions.append(GroupItem.status.set(str(after.status)))
        if after.refunds_done != before.refunds_done:
            actions.append(GroupItem.refunds_done.set(after.refunds_done))
        actions += requeued(GroupItem, _queue(before), _queue(after))
        actions += _relisted(after)
        actions += _rejoinable(_joinable(before), _joinable(after))
        tx.update(GroupItem(*group_key(before.group_id)), actions=actions,
                  condition=GroupItem.status == str(before.status), on_fail=on_moved)

    def stage_paid(self, tx, group_id: str, user_id: str, order_id: str, on_stale) -> None:
        tx.update(MemberItem(*member_key(group_id, user_id)), actions=[MemberItem.paid.set(True)],
                  condition=(MemberItem.order_id == order_id) & (MemberItem.paid != True),  # noqa: E712
                  on_fail=on_stale)

    def stage_leave(self, tx, group_id: str, user_id: str, order_id: str) -> None:
        tx.delete(MemberItem(*member_key(group_id, user_id)), condition=MemberItem.order_id == order_id)
