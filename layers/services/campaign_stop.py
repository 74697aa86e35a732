"""Stopping a campaign (a group buy, a bargain, an assistance campaign), shared by their services.

A stop is written once, conditioned on the campaign not being stopped yet, in its own
transaction; the campaign's start (or opening) transactions carry the opposite condition, so
a stop and a start never both win. Stopping a stopped campaign changes nothing and answers it.
"""

from __future__ import annotations

from collections.abc import Callable

from layers.domain import errors


class _Stopped(Exception):
    """Stopped by another write since it was read."""


def stop_campaign(read: Callable, stop_rule: Callable, stage_stop: Callable, new_tx: Callable, now: str,
                  what: str):
    """The campaign after the stop. `read()` gives it as stored; `stop_rule(campaign, now)`
    the domain's stopped campaign; `stage_stop(tx, stopped_at, on_stopped)` the conditioned
    write. A write that finds it stopped meanwhile reads again (at most 3 times)."""
    for _ in range(3):
        current = read()
        after = stop_rule(current, now)
        if after == current:
            return current
        tx = new_tx()
        stage_stop(tx, after.stopped_at, _Stopped)
        try:
            tx.commit()
        except _Stopped:
            continue
        return after
    raise errors.InvalidState(f"the {what} keeps changing; try again")
