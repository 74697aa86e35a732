"""Stores: the operators' list and edits, the shoppers' nearest-first list, and a store's
staff (the rules: layers/domain/stores.py).

- An edit is conditioned on the version it was decided from. `PUT /admin/stores/{id}`
  sends the whole store: without `version` it is last-writer-wins (the contract's body
  has none, and a whole-store write from an API client means "this is the store now"),
  with `version` (the console's edit form always sends the one it showed) a store
  changed since is 409 STORE_CHANGED instead of silently overwriting someone's edit.
- Staff: one place per person. Adding someone already elsewhere moves them, in one
  conditioned write (the answer says `moved_from`); a race re-reads and decides again.
"""

from __future__ import annotations

from typing import Any

from layers.clock import iso
from layers.domain import errors
from layers.domain import stores as rules
from layers.domain.stores import Staff, Store, StoreRepository

ATTEMPTS = 5


class _Raced(Exception):
    """A condition failed: someone else wrote first."""


def store_view(s: Store) -> dict:
    return {"id": s.store_id, "store_id": s.store_id, "name": s.name, "address": s.address,
            "location": {"lat": s.lat, "lng": s.lng}, "phone": s.phone, "hours": s.hours, "pickup": s.pickup,
            "created_at": s.created_at, "updated_at": s.updated_at, "version": s.version}


def shopper_view(s: Store, distance: int | None) -> dict:
    out = {"id": s.store_id, "store_id": s.store_id, "name": s.name, "address": s.address,
           "location": {"lat": s.lat, "lng": s.lng}, "phone": s.phone, "hours": s.hours, "pickup": s.pickup}
    if distance is not None:
        out["distance_m"] = distance
    return out


def staff_view(s: Staff) -> dict:
    out = {"store_id": s.store_id, "kind": str(s.kind), "added_at": s.added_at, "added_by": s.added_by}
    out["operator_id" if s.kind == rules.OPERATOR else "user_id"] = s.staff_id
    return out


def _page(rows: list, limit: int, cursor: dict | None) -> tuple[list, dict | None]:
    """A page of an in-process list: the cursor is the offset (the list is the shop's
    every store, sorted here, so there is no DynamoDB key to carry)."""
    start = (cursor or {}).get("offset", 0)
    if not isinstance(start, int) or start < 0:
        raise errors.InvalidRequest("invalid cursor")
    end = start + limit
    return rows[start:end], ({"offset": end} if end < len(rows) else None)


class StoreService:
    """`operators` reads console operators (`get(name)`); `distributors` reads distributor
    profiles (`get(user_id)`)."""

    def __init__(self, *, stores: StoreRepository, operators, distributors, clock, new_tx):
        self.stores = stores
        self.operators = operators
        self.distributors = distributors
        self.clock = clock
        self.new_tx = new_tx

    def _now(self) -> str:
        return iso(self.clock.now())

    @staticmethod
    def _fields(body: Any) -> rules.StoreFields:
        loc = body.location
        return rules.fields(body.name, body.address, loc.lat, loc.lng, body.phone, body.hours, body.pickup)

    # -- operators --------------------------------------------------------------------------------

    def create(self, body: Any) -> dict:
        store = rules.new(rules.new_store_id(), self._fields(body), self._now())
        tx = self.new_tx()
        self.stores.stage_create(tx, store, on_exists=lambda: errors.InvalidState("store id taken; try again"))
        tx.commit()
        return store_view(store)

    def edit(self, store_id: str, body: Any) -> dict:
        f = self._fields(body)
        expected = getattr(body, "version", None)
        for _ in range(ATTEMPTS):
            before = self.get_store(store_id)
            after = rules.edit(before, f, self._now(), expected)
            tx = self.new_tx()
            self.stores.stage_change(tx, before, after, on_stale=_Raced)
            try:
                tx.commit()
            except _Raced:
                if expected is not None:
                    raise errors.StoreChanged("the store changed since it was read; reload and edit again") from None
                continue  # last writer wins: write over the newer version
            return store_view(after)
        raise errors.RateLimited("the store is being edited by others; try again")

    def get_store(self, store_id: str) -> Store:
        store = self.stores.get(store_id)
        if store is None:
            raise errors.NotFound("no such store")
        return store

    def get(self, store_id: str) -> dict:
        return store_view(self.get_store(store_id))

    def list(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        rows, nxt = self.stores.list(limit, cursor)
        return [store_view(s) for s in rows], nxt

    def names(self) -> dict[str, str]:
        """Every store's name by id (the console's pickers and figures)."""
        return {s.store_id: s.name for s in rules.by_name(self.stores.all())}

    # -- shoppers ---------------------------------------------------------------------------------

    def nearby(self, lat: float | None, lng: float | None, limit: int, cursor: dict | None
               ) -> tuple[list[dict], dict | None]:
        """The shop's stores nearest first with `distance_m` from (lat, lng); both absent:
        by name, without distances. One given without the other, or out of range: 400."""
        stores = self.stores.all()
        if lat is None and lng is None:
            return _page([shopper_view(s, None) for s in rules.by_name(stores)], limit, cursor)
        if lat is None or lng is None:
            raise errors.InvalidRequest("lat and lng: both, or neither")
        lat_f, lng_f = rules.check_location(lat, lng)
        return _page([shopper_view(s, d) for s, d in rules.nearest_first(stores, lat_f, lng_f)], limit, cursor)

    # -- staff ------------------------------------------------------------------------------------

    def staff(self, store_id: str) -> list[dict]:
        self.get_store(store_id)
        return [staff_view(s) for s in self.stores.staff(store_id)]

    def add_staff(self, store_id: str, *, operator_id: str | None, user_id: str | None, by: str) -> dict:
        """Place a console operator or a guide in the store, moving them from another."""
        if bool(operator_id) == bool(user_id):
            raise errors.InvalidRequest("operator_id or user_id: exactly one")
        self.get_store(store_id)
        if operator_id:
            kind, staff_id = rules.OPERATOR, operator_id
            operator = self.operators.get(operator_id)
            if operator is None or getattr(operator, "disabled", False):
                raise errors.UnknownOperator("no such console operator")
        else:
            kind, staff_id = rules.GUIDE, user_id
            if self.distributors.get(user_id, consistent=True) is None:
                raise errors.NotADistributor("only a distributor can be a store's guide")
        for _ in range(ATTEMPTS):
            current = self.stores.place(kind, staff_id)
            if current is not None and current.store_id == store_id:
                return {**staff_view(current), "moved_from": None}
            staff = Staff(store_id=store_id, kind=kind, staff_id=staff_id, added_at=self._now(), added_by=by)
            tx = self.new_tx()
            self.stores.stage_add_staff(tx, staff, current, on_raced=_Raced)
            try:
                tx.commit()
            except _Raced:
                continue
            return {**staff_view(staff), "moved_from": current.store_id if current else None}
        raise errors.RateLimited("this person is being placed by others; try again")

    def remove_staff(self, store_id: str, kind: str, staff_id: str) -> None:
        """Take a person out of the store; 404 when they are not staff of it."""
        try:
            parsed = rules.StaffKind(kind)
        except ValueError as exc:
            raise errors.NotFound("no such staff") from exc
        current = self.stores.place(parsed, staff_id)
        if current is None or current.store_id != store_id:
            raise errors.NotFound("not staff of this store")
        tx = self.new_tx()
        self.stores.stage_remove_staff(tx, current, on_raced=lambda: errors.NotFound("not staff of this store"))
        tx.commit()

    def store_of_guide(self, user_id: str) -> str | None:
        return self.stores.store_of_guide(user_id)

    def staff_of_operator(self, operator_id: str) -> str | None:
        return self.stores.staff_of_operator(operator_id)
