"""In-memory twins of layers/storage/ledger.py and layers/storage/anomalies.py.
Keys: ("ledger", day, kind, ref) -> amount, ("report", day) -> Report,
("anomaly", order_id, created_at, n) -> Anomaly."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from layers.clock import iso
from layers.domain.reconcile import Anomaly, Report, beijing_day
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryLedgerRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def stage_payment(self, tx: MemoryTx, order_id: str, amount: int, transaction_id: str | None,
                      success_time: str | None, now: datetime) -> None:
        key = ("ledger", beijing_day(success_time, now), "PAY", order_id)
        tx.add(lambda items: True, lambda items: items.__setitem__(key, amount))

    def stage_refund(self, tx: MemoryTx, refund_id: str, amount: int, now: datetime,
                     requested_at: str | None = None) -> None:
        key = ("ledger", beijing_day(requested_at, now), "REFUND", refund_id)
        tx.add(lambda items: True, lambda items: items.__setitem__(key, amount))

    def refs(self, day: date, kind: str) -> set[str]:
        with self.store.lock:
            return {k[3] for k in self.store.items if k[:3] == ("ledger", day.isoformat(), kind)}

    def save_report(self, day: date, summary: dict, differences: list[dict], now: str) -> None:
        with self.store.lock:
            self.store.items[("report", day.isoformat())] = Report(day.isoformat(), summary, differences, now)

    def get_report(self, day: date) -> Report | None:
        return self.store.get(("report", day.isoformat()))


class MemoryAnomalyRepository:
    _n = itertools.count()

    def __init__(self, store: MemoryStore, clock) -> None:
        self.store = store
        self.clock = clock

    def record(self, order_id: str, kind: str, detail: dict) -> None:
        now = iso(self.clock.now())
        with self.store.lock:
            self.store.items[("anomaly", order_id, now, next(self._n))] = Anomaly(order_id, kind, detail, now)

    def for_order(self, order_id: str) -> list[Anomaly]:
        return self.store.scan(("anomaly", order_id))

    def recent(self, limit: int = 100) -> list[Anomaly]:
        every = self.store.scan(("anomaly",))
        return sorted(every, key=lambda a: (a.created_at, a.order_id), reverse=True)[:limit]
