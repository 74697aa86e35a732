"""What an order holds until it is paid or closed, and how it is taken and given back.

An order records its reservations (`[{"kind": "sku", "sku_id", "quantity"}, ...]`);
taking them is part of the order's creating transaction, giving them back part of the
closing one, whose condition on the order's version makes it happen once. Each kind
(`sku`: a SKU's stock; `flash`: a flash sale's shard and the shopper's limit) has its
repository, which stages the conditional writes.
"""

from __future__ import annotations

from typing import Protocol


class ReservationKind(Protocol):
    def stage_take(self, tx, reservation: dict) -> None: ...

    def stage_release(self, tx, reservation: dict) -> None: ...


class Reservations:
    def __init__(self, kinds: dict[str, ReservationKind]):
        self.kinds = kinds

    def _kind(self, reservation: dict) -> ReservationKind:
        kind = self.kinds.get(reservation["kind"])
        if kind is None:
            raise LookupError(f"no reservation kind {reservation['kind']!r}")
        return kind

    def stage_take(self, tx, reservation: dict) -> None:
        self._kind(reservation).stage_take(tx, reservation)

    def stage_release(self, tx, reservation: dict) -> None:
        self._kind(reservation).stage_release(tx, reservation)
