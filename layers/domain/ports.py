"""What services need from the world, as Protocols: the domain names them, storage and
wechat implement them, `functions/wiring.py` plugs the implementations in, and the
tests plug in the in-memory ones of `tests/fakes/`.

Aggregate repositories are declared beside their aggregate (`layers/domain/order.py`,
...); the collaborators every service shares are here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol


class Transaction(Protocol):
    """All-or-nothing writes. Repositories stage their parts into it (each part carries
    its condition and the domain error it stands for); `commit` applies every part or
    none and raises the domain error of the first part whose condition failed."""

    def commit(self) -> None: ...


NewTransaction = Callable[[], Transaction]


class Clock(Protocol):
    def now(self) -> datetime: ...


class Publisher(Protocol):
    """Sends an event that is already durable in the outbox (best effort: the relay job
    sends whatever this could not)."""

    def publish(self, event_id: str) -> None: ...
