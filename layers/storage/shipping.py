"""Shipping uploads and the trade-management flag, and the repositories that alone know
their keys.

- ShippingUpload: pk `ORDER#<order_id>`, sk `SHIPPING` (beside its order). While PENDING it
  sits in the gsi2 work queue `SHIPPING_UPLOADS#<nn>` / `<next_attempt_at>#<order_id>` (the
  retry sweep); the index attributes go in the same write that leaves PENDING. A WeChat Pay
  payment's upload skipped as NOT_REQUIRED (not trade-managed) sits in
  `SHIPPING_UNMANAGED#<nn>` / `<created_at>#<order_id>`, to be uploaded if WeChat enrols
  the merchant.
- Trade management: pk `KV#trade_managed`, sk `KV` (`{"managed", "checked_at"}`).
"""

from __future__ import annotations

import json
from dataclasses import fields

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.domain import shipping as domain
from layers.domain.shipping import ShippingUpload, UploadStatus
from layers.storage import queues
from layers.storage.base import Queued, changed, requeued
from layers.storage.kv import KvItem
from layers.storage.tx import Tx


class ShippingUploadItem(Queued):
    order_id = UnicodeAttribute()
    mchid = UnicodeAttribute()
    openid = UnicodeAttribute()
    logistics_type = UnicodeAttribute()
    item_desc = UnicodeAttribute()
    created_at = UnicodeAttribute()
    express_company = UnicodeAttribute(null=True)
    tracking_no = UnicodeAttribute(null=True)
    receiver_contact = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    revision = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    next_attempt_at = UnicodeAttribute(null=True)
    error_code = NumberAttribute(null=True)
    error_message = UnicodeAttribute(null=True)
    uploaded_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    accepted = NumberAttribute(null=True)
    retrying_since = UnicodeAttribute(null=True)


def _key(order_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", "SHIPPING"


_FIELDS = [f.name for f in fields(ShippingUpload)]
_CHANGED = [n for n in _FIELDS if n not in ("order_id", "version")]
_INTS = {"revision", "attempts", "error_code", "version", "accepted"}


def _upload(item: ShippingUploadItem) -> ShippingUpload:
    values = {}
    for name in _FIELDS:
        value = getattr(item, name)
        if name in _INTS and value is not None:
            value = int(value)
        values[name] = value
    for name in ("revision", "attempts", "version"):
        values[name] = values[name] or 0
    if values["accepted"] is None:  # written before WeChat's acceptances were counted
        values["accepted"] = values["revision"] + (1 if values["status"] == UploadStatus.UPLOADED else 0)
    return ShippingUpload(**values)


def _queue(upload: ShippingUpload) -> tuple[str, str] | None:
    if upload.status == UploadStatus.PENDING and upload.next_attempt_at:
        return (queues.key(domain.QUEUE, upload.order_id), f"{upload.next_attempt_at}#{upload.order_id}")
    if upload.status == UploadStatus.NOT_REQUIRED and domain.needs_upload(upload):
        return (queues.key(domain.UNMANAGED_QUEUE, upload.order_id), f"{upload.created_at}#{upload.order_id}")
    return None


class DynamoShippingUploads:
    """layers.domain.shipping.ShippingUploadRepository on the shop table."""

    def get(self, order_id: str) -> ShippingUpload | None:
        try:
            return _upload(ShippingUploadItem.get(*_key(order_id), consistent_read=True))
        except ShippingUploadItem.DoesNotExist:
            return None

    def due(self, until_iso: str, limit: int = 100) -> list[ShippingUpload]:
        found = queues.merged(
            domain.QUEUE,
            lambda k: ShippingUploadItem.gsi2.query(k, ShippingUploadItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda i: i.gsi2sk, limit)
        return [_upload(i) for i in found]

    def unmanaged(self, limit: int = 100) -> list[ShippingUpload]:
        found = queues.merged(domain.UNMANAGED_QUEUE, lambda k: ShippingUploadItem.gsi2.query(k, limit=limit),
                              lambda i: i.gsi2sk, limit)
        return [_upload(i) for i in found]

    def stage_create(self, tx: Tx, upload: ShippingUpload, on_exists) -> None:
        queue = _queue(upload)
        item = ShippingUploadItem(*_key(upload.order_id), **{n: getattr(upload, n) for n in _FIELDS},
                                  gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None)
        tx.put(item, condition=ShippingUploadItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx: Tx, before: ShippingUpload, after: ShippingUpload, on_stale) -> None:
        actions = [*changed(ShippingUploadItem, before, after, _CHANGED),
                   *requeued(ShippingUploadItem, _queue(before), _queue(after)),
                   ShippingUploadItem.version.set(after.version)]
        tx.update(ShippingUploadItem(*_key(before.order_id)), actions=actions,
                  condition=ShippingUploadItem.pk.exists() & (ShippingUploadItem.version == before.version),
                  on_fail=on_stale)


class DynamoTradeManagementCache:
    """layers.domain.shipping.TradeManagementCache in the shop table's KV items."""

    KEY = ("KV#trade_managed", "KV")

    def get(self) -> tuple[bool, str] | None:
        try:
            item = KvItem.get(*self.KEY)
        except KvItem.DoesNotExist:
            return None
        value = json.loads(item.value)
        return bool(value["managed"]), value["checked_at"]

    def put(self, managed: bool, checked_at: str) -> None:
        KvItem(*self.KEY, value=json.dumps({"managed": managed, "checked_at": checked_at})).save()
