"""SQS record handlers, one per queue, with Powertools' partial batch responses: a
failing record is reported in `batchItemFailures` and retried alone (then dead-lettered);
the others are done. Each handler is idempotent per business id, not per messageId,
because the same fact can arrive as two messages (outbox relay + direct publish)."""

from __future__ import annotations

import json
from collections.abc import Callable

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from layers.observability import logger

# event type -> handlers; each handler takes (event_id, payload) and is idempotent.
EVENT_HANDLERS: dict[str, list[Callable[[str, dict], None]]] = {}


def on(event_type: str):
    def register(fn):
        EVENT_HANDLERS.setdefault(event_type, []).append(fn)
        return fn

    return register


def _load_subscribers() -> None:
    # Each family registers its handlers on import; importing here keeps cold starts of
    # the HTTP handler free of them.
    import importlib

    for module in ("layers.services.coupons", "layers.services.distribution",
                   "layers.services.notifications", "layers.services.refunds"):
        try:
            importlib.import_module(module)
        except ImportError:
            continue


def _event_record(record) -> None:
    message = json.loads(record.body)
    event_type, event_id, payload = message["type"], message["event_id"], message["payload"]
    logger.append_keys(event_id=event_id, order_id=payload.get("order_id"))
    try:
        for handler in EVENT_HANDLERS.get(event_type, []):
            handler(event_id, payload)
    finally:
        # Keys are per record: the next record (or invocation) must not inherit them.
        logger.remove_keys(["event_id", "order_id", "payout_id", "refund_id"])


def handle_event_batch(event: dict) -> dict:
    _load_subscribers()
    return process_partial_response(event=event, record_handler=_event_record,
                                    processor=BatchProcessor(event_type=EventType.SQS))


def _expiry_record(record) -> None:
    from layers.services import expiry

    message = json.loads(record.body)
    logger.append_keys(order_id=message.get("order_id"))
    try:
        expiry.handle(message)
    finally:
        logger.remove_keys(["order_id"])


def handle_expiry_batch(event: dict) -> dict:
    return process_partial_response(event=event, record_handler=_expiry_record,
                                    processor=BatchProcessor(event_type=EventType.SQS))


def _settlement_record(record) -> None:
    from layers.services import settlement

    try:
        settlement.handle_message(json.loads(record.body))
    finally:
        logger.remove_keys(["payout_id"])


def handle_settlement_batch(event: dict) -> dict:
    return process_partial_response(event=event, record_handler=_settlement_record,
                                    processor=BatchProcessor(event_type=EventType.SQS))
