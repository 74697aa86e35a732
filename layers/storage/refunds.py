"""Refunds, kept in their order's partition: pk `ORDER#<order_id>`, sk `REFUND#<refund_id>`.

The refund id is WeChat's `out_refund_no`: fixed when the refund is asked for and used
for every call about it, so a retry can never become a second refund.
gsi2 is a work queue while a refund waits: `REFUNDS#REQUESTED` (an operator must
approve it) or `REFUNDS#PROCESSING` (sent, or to be sent, to WeChat Pay).
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.domain.refund import Refund
from layers.storage.base import Queued, changed, requeued
from layers.storage.errors import condition_failed
from layers.storage.tx import Tx


class RefundItem(Queued):
    refund_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    amount = NumberAttribute()
    reason = UnicodeAttribute()
    status = UnicodeAttribute()
    automatic = BooleanAttribute(default=False)
    request_hash = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    wechat_refund_id = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    accepted_at = UnicodeAttribute(null=True)
    lines = JSONAttribute(null=True)  # a refund of lines: [{"line", "sku_id", "units", "amount", "held"?}]
    after_sale_id = UnicodeAttribute(null=True)  # the after-sale it refunds


def refund_key(order_id: str, refund_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"REFUND#{refund_id}"


_FIELDS = [f.name for f in fields(Refund)]


def to_refund(item: RefundItem) -> Refund:
    values = {name: getattr(item, name) for name in _FIELDS}
    values["amount"] = int(values["amount"])
    values["automatic"] = bool(values["automatic"])
    values["lines"] = tuple(values["lines"] or ())
    return Refund(**values)


def _queue(refund: Refund) -> tuple[str, str] | None:
    if refund.open:
        return f"REFUNDS#{refund.status}", f"{refund.created_at}#{refund.refund_id}"
    return None


class DynamoRefundRepository:
    """`layers.domain.refund.RefundRepository` on the shop table."""

    def get(self, order_id: str, refund_id: str) -> Refund | None:
        try:
            return to_refund(RefundItem.get(*refund_key(order_id, refund_id), consistent_read=True))
        except RefundItem.DoesNotExist:
            return None

    def for_order(self, order_id: str) -> list[Refund]:
        return [to_refund(i) for i in RefundItem.query(f"ORDER#{order_id}", RefundItem.sk.startswith("REFUND#"))]

    def waiting(self, status: str, limit: int = 100) -> list[Refund]:
        return [to_refund(i) for i in RefundItem.gsi2.query(f"REFUNDS#{status}", limit=limit)]

    def stage_create(self, tx: Tx, refund: Refund, on_exists) -> None:
        queue = _queue(refund)
        values = {name: getattr(refund, name) for name in _FIELDS}
        values["lines"] = list(refund.lines) or None
        item = RefundItem(*refund_key(refund.order_id, refund.refund_id), **values,
                          gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None)
        tx.put(item, condition=RefundItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx: Tx, before: Refund, after: Refund, on_stale) -> None:
        actions = [*changed(RefundItem, before, after, _FIELDS),
                   *requeued(RefundItem, _queue(before), _queue(after))]
        tx.update(RefundItem(*refund_key(before.order_id, before.refund_id)), actions=actions,
                  condition=RefundItem.status == before.status, on_fail=on_stale)

    def set_wechat_refund_id(self, refund: Refund, wechat_refund_id: str, accepted_at: str | None = None) -> None:
        actions = [RefundItem.wechat_refund_id.set(wechat_refund_id)]
        if accepted_at:
            actions.append(RefundItem.accepted_at.set(accepted_at))
        try:
            RefundItem(*refund_key(refund.order_id, refund.refund_id)).update(
                actions=actions, condition=RefundItem.pk.exists())
        except UpdateError as exc:
            if not condition_failed(exc):
                raise

