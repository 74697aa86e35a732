"""The shopper's "my orders" row in the mini-program (待付款, 待发货, 待收货, 售后): how many
of their orders wait for payment, for shipping, for receipt, and in after-sales.

`GET /me/orders/summary` must cost the same for a shopper with 5,000 completed orders as
for one with 5. So the figures are counters, one per counted status, on the shopper's
counter item (the one that already holds the unpaid-orders cap), and every write of an
order moves them in its own transaction: created (+1 on its status), changed (-1 on the
status it leaves, +1 on the one it enters), deleted (-1). The order repository does it
inside `stage_create`, `stage_change` and `stage_delete`, which every transition goes
through, so no caller can forget it, and the order's version condition makes each move
happen exactly once. Reading them is one strongly consistent GetItem.

Why counters, not a sparse index queried with Select=COUNT: the three GSIs of the table
are all taken on an order item (gsi1: the shopper's list; gsi2: the open and shipped
work queues; gsi3: the paid-day index), so an index would be a fourth GSI, eventually
consistent (an order just paid could still count as unpaid), read with four queries
that grow with the shopper's open orders. The counters add no item to the placement of
an unpaid order nor to leaving PENDING_PAYMENT (they ride on the unpaid-orders update
already there), and one small update to a balance-paid placement and to the later
transitions that change a counted status.

An order stored before the counters existed is not in them (`Order.counted` False).
Its next transition only adds it where it goes (nothing to take away), and sets it
counted, conditioned on it not being counted yet; the one-off `backfill-order-counts`
job (layers/services/order_counts.py) counts the others under the same condition. So
each order enters the counts exactly once, whichever comes first.

After-sales: an order whose refund is in flight (REFUNDING) is one of the shopper's
after-sales, and the after-sale aggregate keeps its own counter of open after-sales
(layers/storage/after_sales.py, its own item: a refund's transaction moves both) that
`summary` adds. An after-sale whose refund is in flight is not in that counter
(layers/domain/after_sale.py COUNTED): its order is REFUNDING then, counted here, so it
is counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from layers.domain.order import PAID, PENDING, REFUNDING, SHIPPED, Order

# The statuses the row shows, each a counter.
COUNTED = (PENDING, PAID, SHIPPED, REFUNDING)
# The counters `after_sales` sums; the after-sale aggregate adds its own here.
AFTER_SALES = (REFUNDING,)


def moves(before: Order | None, after: Order | None) -> dict[str, int]:
    """What writing `after` over `before` does to the shopper's counters: -1 on the
    counted status `before` leaves (only if `before` was counted), +1 on the one `after`
    enters. `before` None: the order is created; `after` None: it is deleted. Empty
    when nothing moves (the status stays, or neither is counted)."""
    deltas: dict[str, int] = {}
    if before is not None and before.counted and before.status in COUNTED:
        deltas[str(before.status)] = -1
    if after is not None and after.status in COUNTED:
        deltas[str(after.status)] = deltas.get(str(after.status), 0) + 1
    return {status: delta for status, delta in deltas.items() if delta}


def summary(counts: Mapping[str, int], open_after_sales: int = 0) -> dict:
    """The answer of `GET /me/orders/summary` from the counters as stored, and the
    shopper's open after-sales not refunding (their own counter). A counter is never
    below 0 when every write moved it; one that is (a bug, a hand edit) reads 0."""
    def n(name: str) -> int:
        return max(0, int(counts.get(name) or 0))

    return {PENDING.value: n(PENDING), PAID.value: n(PAID), SHIPPED.value: n(SHIPPED),
            "after_sales": sum(n(name) for name in AFTER_SALES) + max(0, int(open_after_sales))}


class UncountedOrders(Protocol):
    """Where the backfill finds the orders stored before the counts (the order
    repository): each eventually consistent, so it re-reads every one before counting."""

    def uncounted_unpaid(self) -> list[Order]:
        """Unpaid orders not counted yet."""

    def uncounted_paid_on(self, day: str) -> list[Order]:
        """Orders paid on a Beijing day, in a counted status, not counted yet."""
