"""In-memory twin of layers/storage/stores.py, with the same conditions: a store is
created only under a free id and changed only at the version it was read at; a
person's one staff place is written only while it is what the service read, and
removed only from the store it is in.

Keys: ("store", store_id) -> Store, ("staff", kind, staff_id) -> Staff.
"""

from __future__ import annotations

from layers.domain.stores import Staff, StaffKind, Store
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryStoreRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, store_id: str) -> Store | None:
        return self.store.get(("store", store_id))

    def list(self, limit: int, cursor: dict | None) -> tuple[list[Store], dict | None]:
        rows = sorted(self.store.scan(("store",)), key=lambda s: (s.created_at, s.store_id), reverse=True)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(rows)
        return rows[start:start + limit], ({"offset": start + limit} if more else None)

    def all(self) -> list[Store]:
        return list(self.store.scan(("store",)))

    def put(self, store: Store) -> None:
        with self.store.lock:
            self.store.items[("store", store.store_id)] = store

    def stage_create(self, tx: MemoryTx, store: Store, on_exists) -> None:
        key = ("store", store.store_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, store), on_exists)

    def stage_change(self, tx: MemoryTx, before: Store, after: Store, on_stale) -> None:
        key = ("store", before.store_id)

        def check(items) -> bool:
            stored = items.get(key)
            return stored is not None and stored.version == before.version

        tx.add(check, lambda items: items.__setitem__(key, after), on_stale)

    # -- staff --

    def staff(self, store_id: str) -> list[Staff]:
        rows = [s for s in self.store.scan(("staff",)) if s.store_id == store_id]
        return sorted(rows, key=lambda s: (s.kind != StaffKind.OPERATOR, s.staff_id))

    def place(self, kind: StaffKind, staff_id: str) -> Staff | None:
        return self.store.get(("staff", str(kind), staff_id))

    def staff_of_operator(self, operator_id: str) -> str | None:
        place = self.place(StaffKind.OPERATOR, operator_id)
        return place.store_id if place else None

    def store_of_guide(self, user_id: str) -> str | None:
        place = self.place(StaffKind.GUIDE, user_id)
        return place.store_id if place else None

    def stage_add_staff(self, tx: MemoryTx, staff: Staff, current: Staff | None, on_raced) -> None:
        key = ("staff", str(staff.kind), staff.staff_id)

        def check(items) -> bool:
            stored = items.get(key)
            return stored is None if current is None else stored is not None and stored.store_id == current.store_id

        tx.add(check, lambda items: items.__setitem__(key, staff), on_raced)

    def stage_remove_staff(self, tx: MemoryTx, staff: Staff, on_raced) -> None:
        key = ("staff", str(staff.kind), staff.staff_id)

        def check(items) -> bool:
            stored = items.get(key)
            return stored is not None and stored.store_id == staff.store_id

        tx.add(check, lambda items: items.pop(key, None), on_raced)
