"""SQS record handling, with Powertools' partial batch responses: a failing record is
reported in `batchItemFailures` and retried alone (then dead-lettered); the others are
done. Handlers are idempotent per business id, not per messageId, because the same
fact can arrive as two messages (outbox relay + direct publish).

Which handlers consume which event is declared once, in `functions/wiring.py`
(`event_handlers()`); this module only runs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from layers.observability import logger

EventHandler = Callable[[str, dict], None]
# Keys a record's handling may add to the log context; removed after each record.
_RECORD_KEYS = ["event_id", "order_id", "payout_id", "refund_id"]


def _batch(event: dict, handle_record: Callable) -> dict:
    def record_handler(record) -> None:
        try:
            handle_record(json.loads(record.body))
        finally:
            # Keys are per record: the next record (or invocation) must not inherit them.
            logger.remove_keys(_RECORD_KEYS)

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS))


def handle_event_batch(event: dict, handlers: Mapping[str, Sequence[EventHandler]]) -> dict:
    """Outbox events: each record is `{"event_id", "type", "payload"}`."""

    def handle(message: dict) -> None:
        event_type, event_id, payload = message["type"], message["event_id"], message["payload"]
        logger.append_keys(event_id=event_id, order_id=payload.get("order_id"))
        for handler in handlers.get(event_type, ()):
            handler(event_id, payload)

    return _batch(event, handle)


def handle_message_batch(event: dict, handler: Callable[[dict], object], log_key: str | None = None) -> dict:
    """A queue whose every record is one message for one handler (order expiry, settlement)."""

    def handle(message: dict) -> None:
        if log_key and message.get(log_key):
            logger.append_keys(**{log_key: message[log_key]})
        handler(message)

    return _batch(event, handle)
