"""Channels (渠道): where a visit came from, and which channel an order counts for.

A channel is the tag a merchant gives a link or code (a poster, an SMS link, a 公众号
article); the mini-program passes it on when it opens (`POST /visits`) and when it
orders. The shopper's last visit that named a channel is kept (one small item per
shopper, written only forward in time), so an order that names no channel takes that
visit's channel while it is recent: within the shop's `share_binding_ttl_s`, the same
window that keeps a guide's share binding. A channel the order names always wins.

What analytics counts per channel and Beijing day is in layers/domain/analytics.py
(`CHANNEL` counters) and docs/channels.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from layers.clock import parse_iso


@dataclass(frozen=True)
class LastVisit:
    """The shopper's latest visit that named a channel: its channel, time (RFC 3339,
    UTC) and WeChat's launch scene."""

    channel: str
    at: str
    scene: int | None = None


def order_channel(named: str | None, last_visit: LastVisit | None, now: str, window_s: int) -> str | None:
    """The channel an order placed at `now` counts for: the one it names, else the last
    visit's while `now - at <= window_s` (the boundary itself included), else none. A
    visit stamped after `now` (clocks of two machines) counts as just now."""
    if named:
        return named
    if last_visit is None or not last_visit.channel:
        return None
    age = parse_iso(now) - parse_iso(last_visit.at)
    return last_visit.channel if age <= timedelta(seconds=window_s) else None


def visit_subject(user_id: str, channel: str, key: str | None, day: str) -> str:
    """The visit's event subject: one visit per Idempotency-Key (a retried call is the
    same visit), else one per visitor, channel and Beijing day."""
    return f"{user_id}#{channel}#{key if key is not None else day}"


class LastVisits(Protocol):
    def record(self, user_id: str, visit: LastVisit) -> bool:
        """Keep `visit` as the shopper's last unless a later one is kept already (a
        conditional write): False when it was older and so not kept."""

    def get(self, user_id: str) -> LastVisit | None: ...
