"""The outbox: events written in the same transaction as the state change they report.

pk `OUTBOX#<event_id>`, sk `EVENT`; gsi2 `OUTBOX#<nn>` / `<created_at>#<event_id>` until
published (16 shards: layers/storage/queues.py). The event id is deterministic (`order.paid:<order_id>`), so the same fact
written twice is one item, and consumers deduplicate on it.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from layers.domain.order import Event
from layers.storage import queues
from layers.storage.base import Queued
from layers.storage.tx import Tx

OUTBOX = "OUTBOX"


class OutboxItem(Queued):
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    payload = JSONAttribute()
    created_at = UnicodeAttribute()


def outbox_key(event_id: str) -> tuple[str, str]:
    return f"OUTBOX#{event_id}", "EVENT"


def new_event(event_type: str, subject_id: str, payload: dict, now: str) -> OutboxItem:
    event_id = f"{event_type}:{subject_id}"
    return OutboxItem(*outbox_key(event_id), event_id=event_id, type=event_type,
                      payload=payload, created_at=now, gsi2pk=queues.key(OUTBOX, event_id),
                      gsi2sk=f"{now}#{event_id}")


def pending(limit: int = 100):
    return queues.merged(OUTBOX, lambda k: OutboxItem.gsi2.query(k, limit=limit), lambda i: i.gsi2sk, limit)


class DynamoOutbox:
    """Events staged into the transaction of the change they report; deleted once sent."""

    def stage(self, tx: Tx, event: Event, now: str) -> None:
        tx.put(new_event(event.type, event.subject_id, event.payload, now))

    def get(self, event_id: str) -> dict | None:
        try:
            item = OutboxItem.get(*outbox_key(event_id))
        except OutboxItem.DoesNotExist:
            return None
        return _message(item)

    def pending(self, limit: int = 100) -> list[dict]:
        return [_message(i) for i in pending(limit)]

    def delete(self, event_id: str) -> None:
        OutboxItem(*outbox_key(event_id)).delete()


def _message(item: OutboxItem) -> dict:
    return {"event_id": item.event_id, "type": item.type, "payload": item.payload, "created_at": item.created_at}
