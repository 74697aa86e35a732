"""Bargains (砍价) in the shop table, and the repositories that alone know their keys.

- Bargain: pk `BARGAIN#<id>`, sk `BARGAIN`; `remaining` is its stock, taken (>= 1, by
  condition) in the placement transaction of the order that buys an instance.
- Instances a shopper started: pk `BARGAIN#<id>`, sk `USER#<user_id>`, `started`
  (< per_user_limit, by condition, in the instance's creating transaction).
- Instance: pk `BARGAIN_INSTANCE#<id>`, sk `INSTANCE`, its cut sequence stored with it.
  gsi2 is a sparse work queue while ACTIVE or SUCCEEDED: `BARGAINS_EXPIRING#<nn>` /
  `<expires_at>#<id>` (the expire-campaigns sweep), removed in the write that leaves
  those states and put back when a closed order returns the instance.
- The console lists bargains by gsi1 `BARGAINS` / `<created_at>#<id>`.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.domain import bargain as domain
from layers.domain.bargain import Bargain, BargainInstance
from layers.storage import queues
from layers.storage.base import Listed, Queued, ShopModel, changed, requeued, values_of

EXPIRING = "BARGAINS_EXPIRING"
BARGAINS = "BARGAINS"  # gsi1, every bargain


class BargainItem(Listed):  # listed
    bargain_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    start_price = NumberAttribute()
    floor_price = NumberAttribute()
    helpers_needed = NumberAttribute()
    ttl_s = NumberAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    stock = NumberAttribute()
    remaining = NumberAttribute()
    per_user_limit = NumberAttribute()
    helps_per_user_per_day = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    commission = JSONAttribute(null=True)
    stopped_at = UnicodeAttribute(null=True)


class StartedItem(ShopModel):
    started = NumberAttribute(default=0)


class BargainInstanceItem(Queued):
    instance_id = UnicodeAttribute()
    bargain_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    start_price = NumberAttribute()
    floor_price = NumberAttribute()
    helpers_needed = NumberAttribute()
    cuts = JSONAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    helps = NumberAttribute(default=0)
    cut_total = NumberAttribute(default=0)
    order_id = UnicodeAttribute(null=True)
    succeeded_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


def bargain_key(bargain_id: str) -> tuple[str, str]:
    return f"BARGAIN#{bargain_id}", "BARGAIN"


def started_key(bargain_id: str, user_id: str) -> tuple[str, str]:
    return f"BARGAIN#{bargain_id}", f"USER#{user_id}"


def instance_key(instance_id: str) -> tuple[str, str]:
    return f"BARGAIN_INSTANCE#{instance_id}", "INSTANCE"


_BARGAIN_FIELDS = [f.name for f in fields(Bargain)]
_INSTANCE_FIELDS = [f.name for f in fields(BargainInstance)]
_TRANSITION_FIELDS = ["status", "helps", "cut_total", "order_id", "succeeded_at"]
_INT = {"start_price", "floor_price", "helpers_needed", "ttl_s", "stock", "per_user_limit",
        "helps_per_user_per_day", "helps", "cut_total", "version"}


def _bargain(item: BargainItem) -> Bargain:
    return Bargain(**values_of(item, _BARGAIN_FIELDS, _INT))


def _instance(item: BargainInstanceItem) -> BargainInstance:
    values = values_of(item, _INSTANCE_FIELDS, _INT)
    values["cuts"] = tuple(int(c) for c in item.cuts)
    values["helps"] = values["helps"] or 0
    values["cut_total"] = values["cut_total"] or 0
    values["version"] = values["version"] or 0
    return BargainInstance(**values)


def _queue(instance: BargainInstance) -> tuple[str, str] | None:
    if instance.status in domain.EXPIRING:
        return queues.key(EXPIRING, instance.instance_id), f"{instance.expires_at}#{instance.instance_id}"
    return None


class DynamoBargainRepository:
    """`layers.domain.bargain.BargainRepository` on the shop table."""

    def get(self, bargain_id: str) -> Bargain | None:
        try:
            return _bargain(BargainItem.get(*bargain_key(bargain_id)))
        except BargainItem.DoesNotExist:
            return None

    def remaining(self, bargain_id: str) -> int:
        try:
            return int(BargainItem.get(*bargain_key(bargain_id), consistent_read=True).remaining)
        except BargainItem.DoesNotExist:
            return 0

    def stage_create(self, tx, bargain: Bargain, on_exists) -> None:
        item = BargainItem(*bargain_key(bargain.bargain_id), **{n: getattr(bargain, n) for n in _BARGAIN_FIELDS},
                           remaining=bargain.stock,
                           gsi1pk=BARGAINS, gsi1sk=f"{bargain.created_at}#{bargain.bargain_id}")
        tx.put(item, condition=BargainItem.pk.does_not_exist(), on_fail=on_exists)

    def list_bargains(self, limit: int, cursor: dict | None) -> tuple[list[tuple[Bargain, int]], dict | None]:
        """Every bargain, newest first, each with its remaining stock."""
        result = BargainItem.gsi1.query(BARGAINS, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        return [(_bargain(i), int(i.remaining)) for i in result], result.last_evaluated_key

    def stage_count_start(self, tx, bargain_id: str, user_id: str, limit: int, on_limit) -> None:
        tx.update(StartedItem(*started_key(bargain_id, user_id)), actions=[StartedItem.started.add(1)],
                  condition=StartedItem.started.does_not_exist() | (StartedItem.started < limit),
                  on_fail=on_limit)

    def stage_check_running(self, tx, bargain_id: str, on_stopped) -> None:
        tx.check(BargainItem, *bargain_key(bargain_id),
                 condition=BargainItem.pk.exists() & BargainItem.stopped_at.does_not_exist(), on_fail=on_stopped)

    def stage_stop(self, tx, bargain_id: str, stopped_at: str, on_stopped) -> None:
        tx.update(BargainItem(*bargain_key(bargain_id)), actions=[BargainItem.stopped_at.set(stopped_at)],
                  condition=BargainItem.pk.exists() & BargainItem.stopped_at.does_not_exist(), on_fail=on_stopped)

    def stage_take_stock(self, tx, bargain_id: str, on_empty) -> None:
        tx.update(BargainItem(*bargain_key(bargain_id)), actions=[BargainItem.remaining.add(-1)],
                  condition=BargainItem.remaining >= 1, on_fail=on_empty)

    def stage_return_stock(self, tx, bargain_id: str) -> None:
        tx.update(BargainItem(*bargain_key(bargain_id)), actions=[BargainItem.remaining.add(1)],
                  condition=BargainItem.pk.exists())


class DynamoBargainInstanceRepository:
    """`layers.domain.bargain.BargainInstanceRepository` on the shop table."""

    def get(self, instance_id: str) -> BargainInstance | None:
        try:
            return _instance(BargainInstanceItem.get(*instance_key(instance_id), consistent_read=True))
        except BargainInstanceItem.DoesNotExist:
            return None

    def due(self, until_iso: str, limit: int = 100) -> list[BargainInstance]:
        found = queues.merged(
            EXPIRING,
            lambda k: BargainInstanceItem.gsi2.query(k, BargainInstanceItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda i: i.gsi2sk, limit)
        return [_instance(i) for i in found]

    def stage_create(self, tx, instance: BargainInstance, on_exists) -> None:
        values = {n: getattr(instance, n) for n in _INSTANCE_FIELDS}
        values["cuts"] = list(instance.cuts)
        queue = _queue(instance)
        item = BargainInstanceItem(*instance_key(instance.instance_id), **values,
                                   gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None)
        tx.put(item, condition=BargainInstanceItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx, before: BargainInstance, after: BargainInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        actions = [*changed(BargainInstanceItem, before, after, _TRANSITION_FIELDS,
                            lambda name, value: str(value) if name == "status" else value),
                   *requeued(BargainInstanceItem, _queue(before), _queue(after)),
                   BargainInstanceItem.version.set(after.version)]
        condition = (BargainInstanceItem.pk.exists() & (BargainInstanceItem.version == before.version)
                     & (BargainInstanceItem.helps == before.helps))
        if unexpired_at is not None:
            condition &= BargainInstanceItem.expires_at > unexpired_at
        tx.update(BargainInstanceItem(*instance_key(before.instance_id)), actions=actions, condition=condition,
                  on_fail=on_stale)

    def stage_order(self, tx, instance_id: str, user_id: str, order_id: str, now: str, on_unavailable) -> None:
        tx.update(BargainInstanceItem(*instance_key(instance_id)),
                  actions=[BargainInstanceItem.status.set(str(domain.ORDERED)),
                           BargainInstanceItem.order_id.set(order_id),
                           BargainInstanceItem.version.add(1),
                           BargainInstanceItem.gsi2pk.remove(), BargainInstanceItem.gsi2sk.remove()],
                  condition=((BargainInstanceItem.status == str(domain.SUCCEEDED))
                             & (BargainInstanceItem.user_id == user_id)
                             & (BargainInstanceItem.expires_at > now)),
                  on_fail=on_unavailable)
