"""In-memory twins of layers/storage/distribution.py: distributors (templates, managers,
groups, shares, bindings) and commissions with their distributor's totals, with the same
conditions (a commission change needs the stored status and rev it was decided from; a
binding is not overwritten by an older touch).

Keys: ("template", id), ("distributor", user_id), ("manager", user_id),
("member", manager_id, distributor_id), ("share", token), ("binding", customer_id),
("guide_customer", distributor_id, customer_id) -> GuideCustomer (written with the binding),
("commission", distributor_id, commission_id) -> Commission, ("stats", distributor_id) -> Stats,
("debt", distributor_id, entry_id) -> DebtEntry (a deduction needs the debt to cover it).
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain import commission_debt as debts
from layers.domain import commission_entry as domain
from layers.domain.attribution import Binding
from layers.domain.commission_entry import Commission, Stats
from layers.domain.distributor import Distributor, Manager, Share, Template
from layers.domain.guide_customers import GuideCustomer, ended_at
from tests.fakes.memory import ConditionFailed, MemoryStore, MemoryTx


def _page(rows: list, limit: int, cursor: dict | None):
    start = int((cursor or {}).get("offset", 0))
    more = start + limit < len(rows)
    return rows[start:start + limit], ({"offset": start + limit} if more else None)


class MemoryDistributorRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get_template(self, template_id: str) -> Template | None:
        return self.store.get(("template", template_id))

    def create_template(self, template: Template) -> None:
        key = ("template", template.template_id)
        with self.store.lock:
            if key in self.store.items:
                raise ConditionFailed(key)
            self.store.items[key] = template

    def list_templates(self, limit: int, cursor: dict | None):
        rows = sorted(self.store.scan(("template",)), key=lambda t: (t.created_at, t.template_id), reverse=True)
        return _page(rows, limit, cursor)

    def get(self, user_id: str, consistent: bool = False) -> Distributor | None:
        return self.store.get(("distributor", user_id))

    def get_many(self, user_ids: list[str]) -> dict[str, Distributor]:
        return {u: d for u in dict.fromkeys(user_ids) if (d := self.get(u)) is not None}

    def list(self, limit: int, cursor: dict | None):
        rows = sorted(self.store.scan(("distributor",)), key=lambda d: (d.created_at, d.user_id), reverse=True)
        return _page(rows, limit, cursor)

    def stage_save(self, tx: MemoryTx, distributor: Distributor, previous: Distributor | None,
                   on_stale=None) -> None:
        d = distributor
        key = ("distributor", d.user_id)

        def still(items) -> bool:
            if on_stale is None:
                return True
            stored = items.get(key)
            return stored is None if previous is None else (
                stored is not None and (stored.updated_at, stored.template_id, stored.manager_id)
                == (previous.updated_at, previous.template_id, previous.manager_id))

        def apply(items):
            items[("distributor", d.user_id)] = d
            old = previous.manager_id if previous else None
            if old and old != d.manager_id:
                items.pop(("member", old, d.user_id), None)
            if d.manager_id:
                items[("member", d.manager_id, d.user_id)] = d.user_id
                items.setdefault(("manager", d.manager_id), Manager(d.manager_id, d.updated_at))

        tx.add(still, apply, on_stale)

    def get_manager(self, user_id: str) -> Manager | None:
        return self.store.get(("manager", user_id))

    def upsert_manager(self, user_id: str, name: str | None, now: str, template_id: str | None = None) -> Manager:
        with self.store.lock:
            before = self.store.items.get(("manager", user_id)) or Manager(user_id, now)
            after = replace(before, name=name) if name else before
            after = replace(after, template_id=template_id) if template_id else after
            self.store.items[("manager", user_id)] = after
            return after

    def list_managers(self, limit: int, cursor: dict | None):
        rows = sorted(self.store.scan(("manager",)), key=lambda m: (m.created_at, m.user_id), reverse=True)
        return _page(rows, limit, cursor)

    def group(self, manager_id: str, limit: int, cursor: dict | None):
        return _page(self.store.scan(("member", manager_id)), limit, cursor)

    def create_share(self, share: Share) -> None:
        with self.store.lock:
            if ("share", share.token) in self.store.items:
                raise ConditionFailed(share.token)
            self.store.items[("share", share.token)] = share

    def get_share(self, token: str) -> Share | None:
        return self.store.get(("share", token))

    def get_binding(self, customer_id: str) -> Binding | None:
        return self.store.get(("binding", customer_id))

    def put_binding(self, binding: Binding, ttl_epoch: int) -> bool:
        b = binding
        with self.store.lock:
            items = self.store.items
            current = items.get(("binding", b.customer_id))
            if current is not None and current.bound_at > b.bound_at:
                return False
            mine = items.get(("guide_customer", b.distributor_id, b.customer_id))
            if mine is not None and mine.bound_at > b.bound_at:
                return False
            items[("binding", b.customer_id)] = b
            items[("guide_customer", b.distributor_id, b.customer_id)] = GuideCustomer(
                b.distributor_id, b.customer_id, mine.first_bound_at if mine else b.bound_at, b.bound_at, b.expires_at)
            moved_at = ended_at(current, b)
            if moved_at is not None:
                key = ("guide_customer", current.distributor_id, b.customer_id)
                old = items.get(key) or GuideCustomer(current.distributor_id, b.customer_id, current.bound_at,
                                                      current.bound_at, moved_at)
                items[key] = replace(old, binding_expires_at=moved_at)
            return True

    def guide_records(self, distributor_id: str, limit: int, cursor: dict | None):
        """The guide's records, the latest bound first (the storage's gsi1 order)."""
        rows = sorted(self.store.scan(("guide_customer", distributor_id)), key=lambda r: (r.bound_at, r.customer_id),
                      reverse=True)
        return _page(rows, limit, cursor)

    def count_customers(self, distributor_id: str, now: str) -> int:
        return sum(1 for b in self.store.scan(("binding",)) if b.distributor_id == distributor_id
                   and b.expires_at > now)


class MemoryCommissionRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(distributor_id: str, commission_id: str) -> tuple:
        return ("commission", distributor_id, commission_id)

    def get(self, distributor_id: str, commission_id: str) -> Commission | None:
        return self.store.get(self._key(distributor_id, commission_id))

    def get_many(self, distributor_id: str, commission_ids: list[str]) -> list[Commission]:
        return [c for i in dict.fromkeys(commission_ids) if (c := self.get(distributor_id, i)) is not None]

    def _all(self) -> list[Commission]:
        return self.store.scan(("commission",))

    def due(self, until_iso: str, limit: int = 100) -> list[Commission]:
        due = [c for c in self._all() if c.status == domain.PENDING and c.settleable_at
               and c.settleable_at <= until_iso]
        return sorted(due, key=lambda c: (c.settleable_at, c.distributor_id, c.order_id))[:limit]

    def settleable(self, distributor_id: str) -> list[Commission]:
        return sorted((c for c in self.store.scan(("commission", distributor_id)) if c.status == domain.SETTLEABLE),
                      key=lambda c: (c.settleable_at or c.created_at, c.commission_id))

    def distributors_with_settleable(self) -> list[str]:
        return list(dict.fromkeys(c.distributor_id for c in self._all() if c.status == domain.SETTLEABLE))

    def stats(self, distributor_id: str) -> Stats | None:
        return self.store.get(("stats", distributor_id))

    def stats_many(self, distributor_ids: list[str]) -> dict[str, Stats]:
        return {d: s for d in dict.fromkeys(distributor_ids) if (s := self.stats(d)) is not None}

    def stage_create(self, tx: MemoryTx, commission: Commission, on_exists) -> None:
        key = self._key(commission.distributor_id, commission.commission_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, commission), on_exists)

    def stage_change(self, tx: MemoryTx, before: Commission, after: Commission, on_stale) -> None:
        key = self._key(before.distributor_id, before.commission_id)
        tx.add(lambda items: key in items and items[key].status == before.status and items[key].rev == before.rev,
               lambda items: items.__setitem__(key, after), on_stale)

    def stage_stats(self, tx: MemoryTx, distributor_id: str, deltas: dict[str, int]) -> None:
        deltas = {k: v for k, v in deltas.items() if v}
        if not deltas:
            return
        key = ("stats", distributor_id)

        def apply(items):
            current = items.get(key) or Stats()
            items[key] = replace(current, **{k: getattr(current, k) + v for k, v in deltas.items()})

        tx.add(lambda items: True, apply)

    def stage_debt(self, tx: MemoryTx, entry: debts.DebtEntry, on_exists) -> None:
        if entry.kind != debts.DEBT:
            raise ValueError("stage_debt puts DEBT entries")
        key = ("debt", entry.distributor_id, entry.entry_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, entry), on_exists)

    def stage_deduction(self, tx: MemoryTx, entry: debts.DebtEntry, on_short) -> None:
        if entry.kind != debts.DEDUCTION:
            raise ValueError("stage_deduction puts DEDUCTION entries")
        key, stats = ("debt", entry.distributor_id, entry.entry_id), ("stats", entry.distributor_id)

        def apply(items):
            items[key] = entry
            current = items[stats]
            items[stats] = replace(current, debt=current.debt - entry.amount,
                                   deducted=current.deducted + entry.amount)

        tx.add(lambda items: key not in items and stats in items and items[stats].debt >= entry.amount,
               apply, on_short)

    def debt_entries(self, distributor_id: str) -> list[debts.DebtEntry]:
        return sorted(self.store.scan(("debt", distributor_id)), key=lambda e: (e.created_at, e.entry_id))
