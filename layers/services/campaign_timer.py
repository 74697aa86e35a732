"""Exact-time expiry of bargain and assistance instances: a delayed message per instance
on the events queue (SQS delays at most 15 minutes, so a longer wait is sent again in
steps), whose handler expires the instance when its time has come; the expire-campaigns
sweep behind it for anything a message missed. The instance already refuses helps and
purchases from the second it expires (conditions on `expires_at`); this only writes the
status."""

from __future__ import annotations

from collections.abc import Callable

from layers.clock import parse_iso
from layers.observability import logger

MAX_DELAY_S = 900


class ExpiryTimer:
    def __init__(self, *, send: Callable[..., None], queue_url: str | None, clock, event_type: str):
        self.send = send
        self.queue_url = queue_url
        self.clock = clock
        self.event_type = event_type  # e.g. "bargain_instance.expiry_due"

    def schedule(self, instance_id: str, expires_at: str) -> None:
        delay = (parse_iso(expires_at) - self.clock.now()).total_seconds()
        message = {"event_id": f"{self.event_type}:{instance_id}", "type": self.event_type,
                   "payload": {"instance_id": instance_id, "expires_at": expires_at}}
        try:
            self.send(self.queue_url, message, delay_s=int(min(MAX_DELAY_S, max(0, delay)) + 1))
        except Exception:  # noqa: BLE001 - the sweep expires it; the instance is already durable
            logger.exception("could not schedule instance expiry", extra={"instance_id": instance_id})

    def due(self, payload: dict) -> bool:
        """True when the instance's time has come; otherwise the message is sent again."""
        if parse_iso(payload["expires_at"]) > self.clock.now():
            self.schedule(payload["instance_id"], payload["expires_at"])
            return False
        return True
