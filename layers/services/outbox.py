"""Publishing outbox events to SQS: right after the transaction that wrote them, and
again from the `relay-outbox` job for any a crash left behind. Publishing twice is
fine (consumers are idempotent per event id); never publishing is not."""

from __future__ import annotations

from collections.abc import Callable

from layers.observability import logger


class CampaignStepEvents:
    """For a campaign's service (group buys, bargains, assistance): its steps' events
    (layers/domain/campaign_events.py) staged in the step's own transaction, then
    published once it committed. Uses the service's `outbox` and `publisher`; either may
    be None (a service built without them writes and sends nothing more)."""

    outbox = None
    publisher: OutboxPublisher | None = None

    def _stage_events(self, tx, events, now: str) -> None:
        if self.outbox is not None:
            for event in events:
                self.outbox.stage(tx, event, now)

    def _publish(self, events, now: str) -> None:
        if self.publisher is not None:
            for event in events:
                self.publisher.publish_written(event, now)


class OutboxPublisher:
    def __init__(self, *, outbox, send: Callable[..., None], queue_url: str | None, new_tx=None, clock=None):
        self.outbox = outbox
        self.new_tx = new_tx
        self.clock = clock
        self.send = send
        self.queue_url = queue_url

    def publish(self, event_id: str) -> bool:
        """Send one stored event and forget it; False (and it stays) if SQS did not take it."""
        message = self.outbox.get(event_id)
        if message is None:
            return True  # already sent (by the relay, or a concurrent publish)
        return self._send(message)

    # -- an event the caller has just written, sent without reading it back --
    def publish_written(self, event, now: str) -> bool:
        """`event` (layers.domain.order.Event) as the outbox stored it at `now` in the caller's
        committed transaction: one DynamoDB read fewer than `publish`."""
        return self._send({"event_id": event.event_id, "type": event.type, "payload": event.payload,
                           "created_at": now})

    def emit(self, event) -> None:
        """An event that reports no state change of its own (a share made, a share opened):
        written to the outbox alone, then published. Its id names the fact, so writing it
        again is the same event, counted once downstream."""
        from layers.clock import iso

        now = iso(self.clock.now())
        tx = self.new_tx()
        self.outbox.stage(tx, event, now)
        tx.commit()
        self.publish_written(event, now)

    def _send(self, message: dict) -> bool:
        try:
            self.send(self.queue_url, message)
        except Exception:  # noqa: BLE001 - the relay job retries; the write is already durable
            logger.exception("outbox publish failed", extra={"event_id": message["event_id"]})
            return False
        self.outbox.delete(message["event_id"])
        return True

    def relay(self, limit: int = 500) -> dict:
        published = failed = 0
        for message in self.outbox.pending(limit=limit):
            if self._send(message):
                published += 1
            else:
                failed += 1
        return {"published": published, "failed": failed}
