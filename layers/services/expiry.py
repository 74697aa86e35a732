"""Each unpaid order closes itself when its payment time runs out: a delayed SQS message
per order (SQS delays at most 15 minutes, so a longer wait is re-sent in steps), and
the close-expired-orders sweep behind it for anything a message missed."""

from __future__ import annotations

from collections.abc import Callable

from layers.clock import parse_iso
from layers.observability import logger

MAX_DELAY_S = 900


class ExpiryScheduler:
    def __init__(self, *, send: Callable[..., None], queue_url: str | None, clock):
        self.send = send
        self.queue_url = queue_url
        self.clock = clock

    def schedule(self, order_id: str, expires_at: str) -> None:
        delay = (parse_iso(expires_at) - self.clock.now()).total_seconds()
        try:
            self.send(self.queue_url, {"order_id": order_id, "expires_at": expires_at},
                      delay_s=int(min(MAX_DELAY_S, max(0, delay)) + 1))
        except Exception:  # noqa: BLE001 - the sweep closes it; the order is already durable
            logger.exception("could not schedule order expiry", extra={"order_id": order_id})

    def due(self, message: dict) -> bool:
        """True when the message's order should close now; otherwise it is sent again."""
        if parse_iso(message["expires_at"]) > self.clock.now():
            self.schedule(message["order_id"], message["expires_at"])
            return False
        return True
