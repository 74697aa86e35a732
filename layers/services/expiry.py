"""Each unpaid order closes itself when its payment time runs out: a delayed SQS message
per order (SQS delays at most 15 minutes, so a longer wait is re-sent in steps), and
the close-expired-orders sweep behind it for anything a message missed."""

from __future__ import annotations

from layers import clock
from layers.config import settings
from layers.observability import logger
from layers.services.outbox import send

MAX_DELAY_S = 900


def schedule(order_id: str, expires_at: str) -> None:
    delay = (clock.parse_iso(expires_at) - clock.now()).total_seconds()
    try:
        send(settings().order_expiry_queue_url, {"order_id": order_id, "expires_at": expires_at},
             delay_s=int(min(MAX_DELAY_S, max(0, delay)) + 1))
    except Exception:  # noqa: BLE001 - the sweep closes it; the order is already durable
        logger.exception("could not schedule order expiry", extra={"order_id": order_id})


def handle(message: dict) -> str:
    """One expiry message: close the order if its time has come, or wait again."""
    from layers.services import orders

    order_id = message["order_id"]
    expires_at = message["expires_at"]
    if clock.parse_iso(expires_at) > clock.now():
        schedule(order_id, expires_at)
        return "rescheduled"
    result = orders.close_unpaid(order_id, reason="EXPIRED")
    return result.status if result is not None else "gone"
