"""The in-memory store every fake repository shares, and its transaction.

Items are kept as immutable values (the domain's frozen dataclasses, or plain tuples
and ints for counters) under a key the fake chooses. A transaction is a list of parts,
each a condition over the current items, the change it makes, and the domain error it
stands for; `commit` checks every condition and then applies every change under one
lock, so two threads see the same all-or-nothing behaviour as DynamoDB's
TransactWriteItems.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class ConditionFailed(Exception):
    """A part without a domain error of its own failed its condition."""


@dataclass
class MemoryStore:
    items: dict[tuple, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    commits: int = 0

    def tx(self) -> MemoryTx:
        return MemoryTx(self)

    def get(self, key: tuple, default=None):
        with self.lock:
            return self.items.get(key, default)

    def scan(self, prefix: tuple) -> list:
        """Every value whose key starts with `prefix`, in key order."""
        with self.lock:
            return [v for k, v in sorted(self.items.items(), key=lambda kv: str(kv[0]))
                    if k[:len(prefix)] == prefix]


@dataclass
class _Part:
    check: Callable[[dict], bool]
    apply: Callable[[dict], None]
    on_fail: Callable[[], Exception] | None


@dataclass
class MemoryTx:
    store: MemoryStore
    parts: list[_Part] = field(default_factory=list)

    def add(self, check: Callable[[dict], bool], apply: Callable[[dict], None],
            on_fail: Callable[[], Exception] | None = None) -> MemoryTx:
        self.parts.append(_Part(check, apply, on_fail))
        return self

    def commit(self) -> None:
        if not self.parts:
            return
        with self.store.lock:
            for part in self.parts:
                if not part.check(self.store.items):
                    raise part.on_fail() if part.on_fail else ConditionFailed()
            for part in self.parts:
                part.apply(self.store.items)
            self.store.commits += 1


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None):
        self.current = start or datetime(2026, 11, 29, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
