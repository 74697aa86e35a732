"""Publishing outbox events to SQS: right after the transaction that wrote them, and
again from the `relay-outbox` job for any a crash left behind. Publishing twice is
fine (consumers are idempotent per event id); never publishing is not."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from layers.config import settings
from layers.observability import logger
from layers.storage import outbox as store


@lru_cache(maxsize=1)
def _sqs():
    import boto3

    # SQS_ENDPOINT points at moto's server locally; unset in AWS.
    return boto3.client("sqs", region_name=settings().aws_region, endpoint_url=os.environ.get("SQS_ENDPOINT"))


def sqs():
    return _sqs()


def send(queue_url: str | None, body: dict, delay_s: int = 0) -> None:
    if not queue_url:
        raise RuntimeError("queue URL not configured")
    sqs().send_message(QueueUrl=queue_url, MessageBody=json.dumps(body), DelaySeconds=max(0, min(900, delay_s)))


def publish(item: store.OutboxItem) -> bool:
    """Send one event and forget it; False (and the item stays) if SQS did not take it."""
    try:
        send(settings().events_queue_url,
             {"event_id": item.event_id, "type": item.type, "payload": item.payload,
              "created_at": item.created_at})
    except Exception:  # noqa: BLE001 - the relay job retries; the write is already durable
        logger.exception("outbox publish failed", extra={"event_id": item.event_id})
        return False
    item.delete()
    return True


def relay(limit: int = 500) -> dict:
    published = failed = 0
    for item in store.pending(limit=limit):
        if publish(item):
            published += 1
        else:
            failed += 1
    return {"published": published, "failed": failed}
