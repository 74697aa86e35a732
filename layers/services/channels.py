"""`POST /visits`: the mini-program opened, through a channel, perhaps a guide's share.

One call does three things, each idempotent on its own:

- with a `channel`: the shopper's last visit with a channel moves forward (one
  conditional write; an order that names no channel takes it within the binding window,
  layers/domain/channels.py), and a `channel.visited` event goes through the outbox
  (`channel.visited:<visitor>#<channel>#<Idempotency-Key, else the Beijing day>`), which
  analytics counts once per event id: the channel's distinct visitors of the day;
- with a `share_token`: what `POST /shares/{token}/visits` does (binding, the guide's
  visit), through the distribution service's own method. A token that names no share
  (a guide removed, a mistyped link) is logged and ignored: the open is real and counts
  for its channel; a launch call the mini-program cannot correct should not fail on it;
- with neither: nothing is written (WeChat's datacube already counts the day's opens).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

from layers.clock import iso
from layers.domain import channels as rules
from layers.domain import errors
from layers.domain.order import Event
from layers.observability import logger


class ChannelService:
    def __init__(self, *, last_visits: rules.LastVisits, emit: Callable[[Event], None],
                 share_visit: Callable[..., None], clock):
        self.last_visits = last_visits
        self.emit = emit  # writes the event to the outbox and publishes it
        self.share_visit = share_visit  # DistributionService.visit(user_id, token, key)
        self.clock = clock

    def visit(self, user_id: str, body, key: str | None) -> None:
        """`body`: functions/schemas.VisitInput (path, scene, channel?, share_token?)."""
        now_dt = self.clock.now()
        now = iso(now_dt)
        if body.share_token:
            try:
                self.share_visit(user_id, body.share_token, key)
            except errors.NotFound:
                logger.info("a visit named no share: its share part is ignored", extra={"path": body.path})
        if not body.channel:
            return
        self.last_visits.record(user_id, rules.LastVisit(body.channel, now, body.scene))
        day = (now_dt.astimezone(UTC) + timedelta(hours=8)).date().isoformat()  # Beijing: UTC+8 all year
        self.emit(Event("channel.visited", rules.visit_subject(user_id, body.channel, key, day),
                        {"channel": body.channel, "visitor_id": user_id, "at": now, "scene": body.scene,
                         "path": body.path}))
