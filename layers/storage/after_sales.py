"""After-sales in the shop table, and the repository that alone knows their keys.

- After-sale: pk `ORDER#<order_id>`, sk `AFTERSALE#<after_sale_id>` (in its order's
  partition: the order's after-sales are one query, and the id names its order).
  gsi1 `AFTER_SALES#<status>` / `<created_at>#<id>`: the operators' list by status,
  oldest first (moved by every write that changes the status).
  gsi2 a timer queue (layers/storage/queues.py, 16 shards): `AFTER_SALES_APPROVE#<nn>` /
  `<auto_approve_at>#<id>` while REQUESTED, `AFTER_SALES_RETURN#<nn>` / `<return_due_at>#<id>`
  while AWAITING_RETURN; removed by the write that leaves the state.
  gsi3 `USER#<user_id>#AFTER_SALES` / created epoch seconds: the shopper's, newest first.
- A line's lock: pk `ORDER#<order_id>`, sk `AFTERSALE_LOCK#<line index>`, put by the
  transaction that creates an after-sale, conditioned on not existing (one open after-sale
  per order line), deleted by the write that ends it, conditioned on being its own.
- The shopper's open after-sales counter: pk `USER#<user_id>`, sk `AFTER_SALES`, `n`:
  moved by the writes that enter or leave a counted status (layers/domain/after_sale.py
  COUNTED). Its own item, not the order counts' item: a refund's transaction moves both
  the order's counts and the after-sale's, and a transaction touches an item once.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.clock import parse_iso
from layers.domain import after_sale as domain
from layers.domain.after_sale import AfterSale
from layers.storage import queues
from layers.storage.base import ListedAndQueued, Numbered, ShopModel, changed, requeued
from layers.storage.tx import Tx


class AfterSaleItem(ListedAndQueued, Numbered):
    after_sale_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    items = JSONAttribute()
    lines = JSONAttribute()
    amount = NumberAttribute()
    reason_code = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    images = JSONAttribute(null=True)
    history = JSONAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    return_address = JSONAttribute(null=True)
    return_due_at = UnicodeAttribute(null=True)
    auto_approve_at = UnicodeAttribute(null=True)
    return_shipping = JSONAttribute(null=True)
    received_at = UnicodeAttribute(null=True)
    restocked = BooleanAttribute(default=False)
    replacement_shipping = JSONAttribute(null=True)
    refund_id = UnicodeAttribute(null=True)
    refund_attempts = NumberAttribute(default=0)
    refunded_from = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class AfterSaleLockItem(ShopModel):
    after_sale_id = UnicodeAttribute()


class AfterSaleCountItem(ShopModel):
    n = NumberAttribute(null=True)


def after_sale_key(order_id: str, after_sale_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"AFTERSALE#{after_sale_id}"


def lock_key(order_id: str, line: int) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"AFTERSALE_LOCK#{int(line)}"


def count_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "AFTER_SALES"


_FIELDS = [f.name for f in fields(AfterSale)]
_TUPLES = ("items", "lines", "images", "history")
_INTS = ("amount", "refund_attempts", "version")


def to_after_sale(item: AfterSaleItem) -> AfterSale:
    values = {name: getattr(item, name) for name in _FIELDS}
    for name in _TUPLES:
        values[name] = tuple(values[name] or ())
    for name in _INTS:
        values[name] = int(values[name] or 0)
    values["restocked"] = bool(values["restocked"])
    return AfterSale(**values)


def _encode(name: str, value):
    return list(value) if name in _TUPLES else value


def _queue(a: AfterSale) -> tuple[str, str] | None:
    timer = domain.queue_of(a)
    if timer is None:
        return None
    return queues.key(timer[0], a.after_sale_id), f"{timer[1]}#{a.after_sale_id}"


def _listed(a: AfterSale) -> tuple[str, str]:
    return f"AFTER_SALES#{a.status}", f"{a.created_at}#{a.after_sale_id}"


def _stage_count(tx: Tx, user_id: str, delta: int) -> None:
    if delta:
        tx.update(AfterSaleCountItem(*count_key(user_id)), actions=[AfterSaleCountItem.n.add(delta)])


class DynamoAfterSaleRepository:
    """`layers.domain.after_sale.AfterSaleRepository` on the shop table."""

    def get(self, order_id: str, after_sale_id: str) -> AfterSale | None:
        try:
            return to_after_sale(AfterSaleItem.get(*after_sale_key(order_id, after_sale_id), consistent_read=True))
        except AfterSaleItem.DoesNotExist:
            return None

    def for_order(self, order_id: str) -> list[AfterSale]:
        return [to_after_sale(i) for i in AfterSaleItem.query(
            f"ORDER#{order_id}", AfterSaleItem.sk.startswith("AFTERSALE#"), consistent_read=True)]

    def for_user(self, user_id: str, limit: int, cursor: dict | None):
        result = AfterSaleItem.gsi3.query(f"USER#{user_id}#AFTER_SALES", scan_index_forward=False, limit=limit,
                                          last_evaluated_key=cursor)
        return [to_after_sale(i) for i in result], result.last_evaluated_key

    def by_status(self, status: str, kind: str | None, limit: int, cursor: dict | None):
        result = AfterSaleItem.gsi1.query(f"AFTER_SALES#{status}", limit=limit, last_evaluated_key=cursor,
                                          filter_condition=(AfterSaleItem.kind == kind) if kind else None)
        return [to_after_sale(i) for i in result], result.last_evaluated_key

    def due(self, queue: str, until_iso: str, limit: int = 100) -> list[AfterSale]:
        found = queues.merged(
            queue, lambda k: AfterSaleItem.gsi2.query(k, AfterSaleItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda i: i.gsi2sk, limit)
        return [to_after_sale(i) for i in found]

    def open_count(self, user_id: str) -> int:
        try:
            return max(0, int(AfterSaleCountItem.get(*count_key(user_id), consistent_read=True).n or 0))
        except AfterSaleCountItem.DoesNotExist:
            return 0

    def stage_create(self, tx: Tx, a: AfterSale, on_exists, on_line_busy) -> None:
        values = {name: _encode(name, getattr(a, name)) for name in _FIELDS}
        queue, listed = _queue(a), _listed(a)
        item = AfterSaleItem(*after_sale_key(a.order_id, a.after_sale_id), **values,
                             gsi1pk=listed[0], gsi1sk=listed[1],
                             gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None,
                             gsi3pk=f"USER#{a.user_id}#AFTER_SALES", gsi3n=int(parse_iso(a.created_at).timestamp()))
        tx.put(item, condition=AfterSaleItem.pk.does_not_exist(), on_fail=on_exists)
        for line in sorted({int(ln["line"]) for ln in a.lines}):
            tx.put(AfterSaleLockItem(*lock_key(a.order_id, line), after_sale_id=a.after_sale_id),
                   condition=AfterSaleLockItem.pk.does_not_exist(), on_fail=on_line_busy)
        _stage_count(tx, a.user_id, domain.counted_moves(None, a))

    def stage_change(self, tx: Tx, before: AfterSale, after: AfterSale, on_stale) -> None:
        actions = [*changed(AfterSaleItem, before, after, _FIELDS, encode=_encode),
                   *requeued(AfterSaleItem, _queue(before), _queue(after))]
        if before.status != after.status:
            listed = _listed(after)
            actions += [AfterSaleItem.gsi1pk.set(listed[0]), AfterSaleItem.gsi1sk.set(listed[1])]
        tx.update(AfterSaleItem(*after_sale_key(before.order_id, before.after_sale_id)), actions=actions,
                  condition=AfterSaleItem.pk.exists() & (AfterSaleItem.version == before.version), on_fail=on_stale)
        if before.open and not after.open:
            for line in sorted({int(ln["line"]) for ln in before.lines}):
                tx.delete(AfterSaleLockItem(*lock_key(before.order_id, line)),
                          condition=AfterSaleLockItem.after_sale_id == before.after_sale_id, on_fail=on_stale)
        _stage_count(tx, before.user_id, domain.counted_moves(before, after))
