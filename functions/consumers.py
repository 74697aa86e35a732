"""SQS consumers: each record handler calls one service and is idempotent per business
key (a duplicate can arrive as a new message). Failures are reported per record
(`batchItemFailures`), so one bad message neither replays nor blocks the batch."""

from __future__ import annotations

from chalice import Blueprint

from functions import wiring
from layers import queues

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=queues.EVENTS_QUEUE, batch_size=10, name="events_consumer")
def events_consumer(event):
    # Here, not at import: the HTTP handler shares this module and never loads Powertools' batch.
    from layers.events import handle_event_batch

    return handle_event_batch(event.to_dict(), wiring.event_handlers())


@bp.on_sqs_message(queue=queues.ORDER_EXPIRY_QUEUE, batch_size=10, name="order_expiry_consumer")
def order_expiry_consumer(event):
    from layers.events import handle_message_batch  # as above: only the consumers load it

    return handle_message_batch(event.to_dict(), wiring.orders().on_expiry_message, log_key="order_id")


# At most 2 consumers at once, each pacing itself to 50 transfers/s: WeChat allows
# about 100 merchant transfers per second.
@bp.on_sqs_message(queue=queues.SETTLEMENT_QUEUE, batch_size=5, name="settlement_consumer",
                   maximum_concurrency=2)
def settlement_consumer(event):
    from layers.events import handle_message_batch  # as above: only the consumers load it

    return handle_message_batch(event.to_dict(), wiring.settlement().handle_message, log_key="payout_id")


# -- analytics ------------------------------------------------------------------------
# A whole batch is merged into one write per counter; with at most 5 consumers at once, no
# counter takes more than 5 transactions at a time (docs/analytics.md).
@bp.on_sqs_message(queue=queues.ANALYTICS_QUEUE, batch_size=100, maximum_batching_window_in_seconds=1,
                   name="analytics_consumer", maximum_concurrency=5)
def analytics_consumer(event):
    from functions.analytics import consume_batch

    return consume_batch(event.to_dict())
