"""Stores and their staff in the shop table (layers/domain/stores.py).

- Store: pk `STORE#<store_id>`, sk `STORE`: the fields, `version`. gsi1 `STORES` /
  `<created_at>#<store_id>`: every store of the shop, newest first, in one partition, so
  the shopper's nearest-first list reads them all with one query (paged by DynamoDB's
  1 MB, a few hundred stores a page) and sorts by distance in the process.
- Staff: pk `STAFF#<kind>#<id>` (`operator` and a console operator's name, `guide` and a
  distributor's user id), sk `STORE`: `store_id`, who added them and when. One item per
  person is what makes "staff of one store at most": adding them elsewhere writes the
  same item over, conditioned on it being what the service read (absent, or the same
  store), so two operators moving one guide at once leave one store and one answer.
  gsi1 `STORE#<store_id>#STAFF` / `<kind>#<id>`: a store's staff list, moved with the item.
  `store_of_guide` and `staff_of_operator` are one GetItem each (the pickup's redemption
  and the analytics consumer ask them).
"""

from __future__ import annotations

import time

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from layers.domain.stores import Staff, StaffKind, Store
from layers.storage.base import Listed
from layers.storage.tx import Tx

ALL = "STORES"


class StoreItem(Listed):
    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    address = UnicodeAttribute()
    lat = NumberAttribute()
    lng = NumberAttribute()
    phone = UnicodeAttribute()
    hours = UnicodeAttribute()
    pickup = BooleanAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()


class StaffItem(Listed):
    store_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    staff_id = UnicodeAttribute()
    added_at = UnicodeAttribute()
    added_by = UnicodeAttribute()


def store_key(store_id: str) -> tuple[str, str]:
    return f"STORE#{store_id}", "STORE"


def _staff_key(kind: str, staff_id: str) -> tuple[str, str]:
    return f"STAFF#{kind}#{staff_id}", "STORE"


def _staff_list(store_id: str) -> str:
    return f"STORE#{store_id}#STAFF"


def to_store(i: StoreItem) -> Store:
    return Store(store_id=i.store_id, name=i.name, address=i.address, lat=float(i.lat), lng=float(i.lng),
                 phone=i.phone, hours=i.hours, pickup=bool(i.pickup), created_at=i.created_at,
                 updated_at=i.updated_at, version=int(i.version))


def _item(s: Store) -> StoreItem:
    return StoreItem(*store_key(s.store_id), store_id=s.store_id, name=s.name, address=s.address, lat=s.lat, lng=s.lng,
                     phone=s.phone, hours=s.hours, pickup=s.pickup, created_at=s.created_at,
                     updated_at=s.updated_at, version=s.version, gsi1pk=ALL, gsi1sk=f"{s.created_at}#{s.store_id}")


def _staff(i: StaffItem) -> Staff:
    return Staff(store_id=i.store_id, kind=StaffKind(i.kind), staff_id=i.staff_id, added_at=i.added_at,
                 added_by=i.added_by)


class DynamoStoreRepository:
    """`layers.domain.stores.StoreRepository` on the shop table. `all()` is cached a few
    seconds per instance (one per container, functions/wiring.py), as the shop's settings
    are: the shoppers' store list is read on every pickup checkout and changes rarely;
    this instance's own writes drop the cache."""

    CACHE_S = 10.0

    def __init__(self) -> None:
        self._cache: tuple[float, list[Store]] | None = None

    def get(self, store_id: str) -> Store | None:
        try:
            return to_store(StoreItem.get(*store_key(store_id), consistent_read=True))
        except StoreItem.DoesNotExist:
            return None

    def list(self, limit: int, cursor: dict | None) -> tuple[list[Store], dict | None]:
        result = StoreItem.gsi1.query(ALL, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        return [to_store(i) for i in result], result.last_evaluated_key

    def all(self) -> list[Store]:
        now = time.monotonic()
        if self._cache and now - self._cache[0] < self.CACHE_S:
            return list(self._cache[1])
        stores = [to_store(i) for i in StoreItem.gsi1.query(ALL)]  # pynamodb pages through every page
        self._cache = (now, stores)
        return list(stores)

    def put(self, store: Store) -> None:
        _item(store).save()
        self._cache = None

    def stage_create(self, tx: Tx, store: Store, on_exists) -> None:
        tx.put(_item(store), condition=StoreItem.pk.does_not_exist(), on_fail=on_exists)
        self._cache = None

    def stage_change(self, tx: Tx, before: Store, after: Store, on_stale) -> None:
        tx.put(_item(after), condition=StoreItem.version == before.version, on_fail=on_stale)
        self._cache = None

    # -- staff --

    def staff(self, store_id: str) -> list[Staff]:
        rows = [_staff(i) for i in StaffItem.gsi1.query(_staff_list(store_id))]
        return sorted(rows, key=lambda s: (s.kind != StaffKind.OPERATOR, s.staff_id))

    def place(self, kind: StaffKind, staff_id: str) -> Staff | None:
        try:
            return _staff(StaffItem.get(*_staff_key(kind, staff_id), consistent_read=True))
        except StaffItem.DoesNotExist:
            return None

    def staff_of_operator(self, operator_id: str) -> str | None:
        place = self.place(StaffKind.OPERATOR, operator_id)
        return place.store_id if place else None

    def store_of_guide(self, user_id: str) -> str | None:
        place = self.place(StaffKind.GUIDE, user_id)
        return place.store_id if place else None

    def stage_add_staff(self, tx: Tx, staff: Staff, current: Staff | None, on_raced) -> None:
        s = staff
        condition = (StaffItem.pk.does_not_exist() if current is None
                     else StaffItem.store_id == current.store_id)
        tx.put(StaffItem(*_staff_key(s.kind, s.staff_id), store_id=s.store_id, kind=str(s.kind),
                         staff_id=s.staff_id, added_at=s.added_at, added_by=s.added_by,
                         gsi1pk=_staff_list(s.store_id), gsi1sk=f"{s.kind}#{s.staff_id}"),
               condition=condition, on_fail=on_raced)

    def stage_remove_staff(self, tx: Tx, staff: Staff, on_raced) -> None:
        tx.delete(StaffItem(*_staff_key(staff.kind, staff.staff_id)),
                  condition=StaffItem.store_id == staff.store_id, on_fail=on_raced)
