"""The outbox: events written in the same transaction as the state change they report.

pk `OUTBOX#<event_id>`, sk `EVENT`; gsi2 `OUTBOX#<nn>` / `<created_at>#<event_id>` until
published (16 shards: layers/storage/queues.py). The event id is deterministic (`order.paid:<order_id>`), so the same fact
written twice is one item, and consumers deduplicate on it.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from layers.storage import queues
from layers.storage.base import Queued

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
