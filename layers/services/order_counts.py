"""The one-off `backfill-order-counts` job: the orders stored before the shoppers' order
counts existed (layers/domain/order_counts.py), counted in.

Run it once the deploy that brought the counts has reached every container (an old one
would still move orders without moving the counts), as often as it takes: each run works
for at most `budget_s` seconds (it fits behind `POST /admin/jobs/{name}/run` too), keeps
where it got to, and answers `done: true` at the end of a pass; the run after that
starts a new pass, which finds nothing left to count. Each order is counted by one
conditional write (its `counted` still absent and its version the one read), so a run
that dies halfway, two runs at once, or an order's own transition at the same moment
count it once.

Where the uncounted orders are found without a Scan (no function may scan the table):
- unpaid: the open-orders queue holds every unpaid order;
- a refund in flight: the open refunds' queues (an order paid after it closed and
  refunded at once is in no other index);
- paid, shipped, refunding: the paid-day index (every order paid as an order), walked
  from today back to the day of the shop's first product (no order is older; products
  are retired, never deleted). Each day's 16 shards are read together; the days are what
  a big shop's first pass spends its runs on.
An order in no counted status (completed, closed, refunded) counts for nothing: it is
left as it is, and its next transition, if any, counts it where it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta

from layers.clock import iso
from layers.domain import errors
from layers.domain import refund as refund_rules
from layers.domain.analytics import day_of
from layers.domain.order import Order
from layers.domain.order_counts import COUNTED
from layers.observability import logger

PROGRESS_KEY = "order-counts-backfill"
ATTEMPTS = 8
# a progress line at least this often while a run walks the days
LOG_EVERY_S = 5.0


class _Stale(Exception):
    """The order moved (or was counted) since it was read."""


class OrderCountsBackfill:
    def __init__(self, *, orders, refunds, progress, first_day: Callable[[], str | None], clock, new_tx,
                 budget_s: float = 20.0, monotonic: Callable[[], float] = time.monotonic):
        # `orders`: the order repository with `uncounted_unpaid` and `uncounted_paid_on`;
        # `progress`: a small key-value store (get, set) keeping where the pass got to;
        # `first_day()`: the Beijing day of the shop's first product, None without one.
        self.orders = orders
        self.refunds = refunds
        self.progress = progress
        self.first_day = first_day
        self.clock = clock
        self.new_tx = new_tx
        self.budget_s = budget_s
        self.monotonic = monotonic

    def run(self) -> dict:
        started = self.monotonic()
        now = iso(self.clock.now())
        state = self.progress.get(PROGRESS_KEY)
        if not state or state.get("finished_at"):
            state = {"phase": "in_flight", "day": day_of(now), "floor": self.first_day(), "counted": 0,
                     "started_at": now}
            logger.info("order counts backfill: a new pass", extra={"from_day": state["day"],
                                                                    "to_day": state["floor"]})
        counted = 0
        if state["phase"] == "in_flight":
            counted += self._count_all(self._in_flight())
            state.update(phase="days", counted=state["counted"] + counted)
            self.progress.set(PROGRESS_KEY, state)
            logger.info("order counts backfill: unpaid orders and refunds in flight counted",
                        extra={"counted": counted})
        logged = self.monotonic()
        while state["floor"] is not None and state["day"] >= state["floor"]:
            if self.monotonic() - started >= self.budget_s:
                break
            found = self._count_all(self.orders.uncounted_paid_on(state["day"]))
            counted += found
            state.update(day=(date.fromisoformat(state["day"]) - timedelta(days=1)).isoformat(),
                         counted=state["counted"] + found)
            self.progress.set(PROGRESS_KEY, state)
            if found or self.monotonic() - logged >= LOG_EVERY_S:
                logged = self.monotonic()
                logger.info("order counts backfill: walking the paid days",
                            extra={"next_day": state["day"], "to_day": state["floor"], "counted": found,
                                   "counted_in_pass": state["counted"]})
        done = state["floor"] is None or state["day"] < state["floor"]
        if done:
            state["finished_at"] = iso(self.clock.now())
            self.progress.set(PROGRESS_KEY, state)
        logger.info("order counts backfill: " + ("pass done" if done else "run ends; run it again to go on"),
                    extra={"counted": counted, "counted_in_pass": state["counted"], "next_day": state["day"]})
        return {"done": done, "counted": counted, "counted_in_pass": state["counted"],
                "next_day": None if done else state["day"], "to_day": state["floor"]}

    def _in_flight(self) -> list[str]:
        """The order ids of the unpaid orders not counted yet and of the open refunds."""
        ids = [o.order_id for o in self.orders.uncounted_unpaid()]
        for status in refund_rules.OPEN:
            ids += [r.order_id for r in self.refunds.waiting(status, limit=100_000)]
        return list(dict.fromkeys(ids))

    def _count_all(self, found: Iterable[Order | str]) -> int:
        return sum(self.count(o if isinstance(o, str) else o.order_id) for o in found)

    def count(self, order_id: str) -> bool:
        """Put one order in its shopper's counts, if it is in a counted status and not
        counted yet: read strongly, then write it counted, conditioned on that read.
        True when this call counted it."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None or order.counted or order.status not in COUNTED:
                return False
            tx = self.new_tx()
            self.orders.stage_change(tx, order, replace(order, counted=True), on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue  # it moved, or was counted, meanwhile: look again
            return True
        raise errors.RateLimited("the order is busy; run the job again in a moment")
