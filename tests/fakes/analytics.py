"""In-memory twin of layers/storage/analytics.py: the same marker and slot conditions."""

from __future__ import annotations

from layers.domain import analytics as domain
from layers.domain.analytics import Increment, Key
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryAnalyticsRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def buyer_position(self, user_id: str, period: str, order_id: str, most: int = 2) -> int:
        key = ("analytics-buyer", user_id, period)
        with self.store.lock:
            slots = list(self.store.items.get(key, ()))
            if order_id in slots[:most]:
                return slots.index(order_id) + 1
            if len(slots) < most:
                slots.append(order_id)
                self.store.items[key] = tuple(slots)
                return len(slots)
            return most + 1

    def visitor_first(self, distributor_id: str, visitor_id: str, period: str, event_id: str) -> bool:
        key = ("analytics-visitor", distributor_id, visitor_id, period)
        with self.store.lock:
            holder = self.store.items.setdefault(key, event_id)
            return holder == event_id

    def channel_first(self, channel: str, role: str, who: str, period: str, holder: str) -> bool:
        key = ("analytics-channel", role, channel, who, period)
        with self.store.lock:
            return self.store.items.setdefault(key, holder) == holder

    def distributors(self, distributor_ids: list[str], period: str) -> dict[str, dict]:
        found = {d: self._get(Key(domain.DISTRIBUTOR, period, d)) for d in distributor_ids}
        return {d: dict(c) for d, c in found.items() if c}

    def stage_counted(self, tx: MemoryTx, event_id: str, on_counted) -> None:
        key = ("analytics-counted", event_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, True),
               lambda: on_counted(event_id))

    def stage_increment(self, tx: MemoryTx, inc: Increment) -> None:
        key = ("analytics", inc.key)

        def apply(items):
            counters = dict(items.get(key) or {"kind": inc.key.kind, "period": inc.key.period,
                                               "subject": inc.key.subject})
            for name, value in inc.add.items():
                counters[name] = counters.get(name, 0) + value
            if inc.labels.get("title"):
                counters["title"] = inc.labels["title"]
            items[key] = counters

        tx.add(lambda items: True, apply)

    def _get(self, key: Key) -> dict | None:
        return self.store.get(("analytics", key))

    def days(self, days: list[str]) -> dict[str, dict]:
        found = {d: self._get(Key(domain.DAY, d)) for d in days}
        return {d: dict(c) for d, c in found.items() if c}

    def set_visitors(self, day: str, visitors: int) -> None:
        key = ("analytics", Key(domain.DAY, day))
        with self.store.lock:
            counters = dict(self.store.items.get(key) or {"kind": domain.DAY, "period": day, "subject": "-"})
            counters["visitors"] = visitors
            self.store.items[key] = counters

    def ranking(self, kind: str, period: str, limit: int | None) -> list[dict]:
        by = domain.RANKED_BY[kind]
        found = [dict(c) for c in self.store.scan(("analytics",))
                 if c["kind"] == kind and c["period"] == period]
        found.sort(key=lambda c: c.get(by, 0), reverse=True)
        return found[:limit] if limit is not None else found

    def coupons(self) -> list[dict]:
        return sorted((dict(c) for c in self.store.scan(("analytics",)) if c["kind"] == domain.COUPON),
                      key=lambda c: c["subject"])

    def promotions(self, promotion_ids: list[str]) -> dict[str, dict]:
        found = {pid: self._get(Key(domain.PROMOTION, "-", pid)) for pid in promotion_ids}
        return {pid: dict(c) for pid, c in found.items() if c}

    def paid_orders(self, day: str) -> list:
        return [o for o in self.store.scan(("order",))
                if domain.counts_as_sale(o) and domain.day_of(o.paid_at) == day]

    def participant_first(self, ref: str, user_id: str, event_id: str) -> bool:
        key = ("analytics-participant", ref, user_id)
        with self.store.lock:
            return self.store.items.setdefault(key, event_id) == event_id

    def campaign(self, ref: str) -> tuple[dict | None, list[dict]]:
        counters = self._get(Key(domain.CAMPAIGN, "-", ref))
        return (dict(counters) if counters else None), self.ranking(domain.CAMPAIGN_CHANNEL, ref, None)

    def campaign_records(self, ref: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"order": [], "instance": []}
        for c in self.store.scan(("analytics",)):
            if c["kind"] == domain.CAMPAIGN_RECORD and c["period"] == ref:
                what, _, record_id = c["subject"].partition("#")
                out.setdefault(what, []).append(record_id)
        return out

    def first_orders(self, user_ids: list[str]) -> dict[str, str]:
        out = {}
        for user_id in user_ids:
            slots = self.store.items.get(("analytics-buyer", user_id, "ALL"))
            if slots:
                out[user_id] = slots[0]
        return out
