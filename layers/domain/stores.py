"""Stores (门店): where shoppers collect pickup orders, and the staff who serve there.

- A store: `name`, `address`, a location (`lat`, `lng`, WGS-84 degrees), a business
  `phone`, opening `hours` (free text such as `10:00-22:00`, or `周一至周五 9:00-21:00`:
  shops write their hours in too many shapes for a structure to hold them, and nothing
  computes with them) and `pickup` (whether orders may be collected there). Versioned:
  every change is `version + 1`.
- Staff: a store's operators (console operators, by name) and guides (distributors, by
  user id). A person is staff of at most one store: adding them to another store moves
  them (the answer says `moved_from`). A console operator of role `store` sees only their
  own store's pages; an owner or operator who is also staff keeps their own role.
- Nearest first: the haversine distance on a sphere of the Earth's mean radius, in whole
  metres. Good to a few metres at a city's scale, which is all a list of stores needs.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from layers.domain import errors

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
NAME_MAX, ADDRESS_MAX, HOURS_MAX = 40, 120, 60
# A business number as a person writes it: digits with optional `+` country code, and
# `-`, spaces or parentheses between groups; 5 to 20 digits (95555, 400-820-8820,
# 021-6321 1234, +86 138 0013 8000, 13800138000).
_PHONE = re.compile(r"\+?[0-9(][0-9\- ()]{3,28}[0-9]")


class StaffKind(StrEnum):
    OPERATOR = "operator"  # a console operator, by name
    GUIDE = "guide"  # a distributor, by user id


OPERATOR, GUIDE = StaffKind.OPERATOR, StaffKind.GUIDE


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    address: str
    lat: float
    lng: float
    phone: str
    hours: str
    pickup: bool
    created_at: str
    updated_at: str
    version: int = 1


@dataclass(frozen=True)
class Staff:
    """One person's place in a store (one at most per person)."""

    store_id: str
    kind: StaffKind
    staff_id: str  # the operator's name, or the guide's user id
    added_at: str
    added_by: str


def new_store_id() -> str:
    return f"st_{uuid.uuid4().hex[:20]}"


def _text(value: str | None, field: str, most: int) -> str:
    text = " ".join((value or "").split())
    if not text or len(text) > most:
        raise errors.InvalidRequest(f"{field}: 1 to {most} characters")
    return text


def check_phone(phone: str | None) -> str:
    text = (phone or "").strip()
    digits = sum(c.isdigit() for c in text)
    if not _PHONE.fullmatch(text) or not 5 <= digits <= 20 or not text.isascii():
        raise errors.InvalidRequest("phone: a telephone number, 5 to 20 digits (e.g. 021-6321 1234)")
    return text


def check_location(lat: float | None, lng: float | None) -> tuple[float, float]:
    """WGS-84 degrees: latitude -90..90, longitude -180..180, finite numbers."""
    try:
        lat_f, lng_f = float(lat), float(lng)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise errors.InvalidRequest("location: lat and lng in degrees") from exc
    if not (math.isfinite(lat_f) and math.isfinite(lng_f)) or not -90 <= lat_f <= 90 or not -180 <= lng_f <= 180:
        raise errors.InvalidRequest("location: lat -90..90, lng -180..180")
    return lat_f, lng_f


@dataclass(frozen=True)
class StoreFields:
    """What an operator writes; checked by `fields`."""

    name: str
    address: str
    lat: float
    lng: float
    phone: str
    hours: str
    pickup: bool


def fields(name: str | None, address: str | None, lat, lng, phone: str | None, hours: str | None,
           pickup: bool) -> StoreFields:
    lat_f, lng_f = check_location(lat, lng)
    return StoreFields(name=_text(name, "name", NAME_MAX), address=_text(address, "address", ADDRESS_MAX),
                       lat=lat_f, lng=lng_f, phone=check_phone(phone), hours=_text(hours, "hours", HOURS_MAX),
                       pickup=bool(pickup))


def new(store_id: str, f: StoreFields, now: str) -> Store:
    return Store(store_id=store_id, name=f.name, address=f.address, lat=f.lat, lng=f.lng, phone=f.phone,
                 hours=f.hours, pickup=f.pickup, created_at=now, updated_at=now, version=1)


def edit(store: Store, f: StoreFields, now: str, expected_version: int | None = None) -> Store:
    """The store with `f`; `expected_version` given and not the store's: 409 STALE_VERSION."""
    if expected_version is not None and expected_version != store.version:
        raise errors.StoreChanged("the store changed since it was read; reload and edit again")
    return replace(store, name=f.name, address=f.address, lat=f.lat, lng=f.lng, phone=f.phone, hours=f.hours,
                   pickup=f.pickup, updated_at=now, version=store.version + 1)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Haversine great-circle distance in whole metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a))))


def nearest_first(stores: list[Store], lat: float, lng: float) -> list[tuple[Store, int]]:
    """Every store with its distance from (lat, lng), nearest first (ties by name, then id)."""
    pairs = [(s, distance_m(lat, lng, s.lat, s.lng)) for s in stores]
    return sorted(pairs, key=lambda p: (p[1], p[0].name, p[0].store_id))


def by_name(stores: list[Store]) -> list[Store]:
    return sorted(stores, key=lambda s: (s.name, s.store_id))


def check_pickup(store: Store | None) -> Store:
    """A store an order may be collected at: it exists (404) and takes pickups (422)."""
    if store is None:
        raise errors.NotFound("no such store")
    if not store.pickup:
        raise errors.PickupNotOffered("this store does not offer pickup")
    return store


class StoreRepository(Protocol):
    def get(self, store_id: str) -> Store | None:
        """Read consistently."""

    def list(self, limit: int, cursor: dict | None) -> tuple[list[Store], dict | None]:
        """A page of stores, newest first."""

    def all(self) -> list[Store]:
        """Every store of the shop (tens to hundreds): one query, paged through; may be a
        few seconds old (cached per process)."""

    def put(self, store: Store) -> None:
        """Create (absent) or write over (last writer wins); `stage_*` for conditioned writes."""

    def stage_create(self, tx, store: Store, on_exists) -> None:
        """Put a new store, if its id is free; else `on_exists()`."""

    def stage_change(self, tx, before: Store, after: Store, on_stale) -> None:
        """Write `after` if the store is still at `before.version`; else `on_stale()`."""

    # -- staff --
    def staff(self, store_id: str) -> list[Staff]:
        """The store's operators and guides (operators first, then by id)."""

    def place(self, kind: StaffKind, staff_id: str) -> Staff | None:
        """Where this person is staff now (consistent), or None."""

    def staff_of_operator(self, operator_id: str) -> str | None:
        """The store a console operator belongs to, or None."""

    def store_of_guide(self, user_id: str) -> str | None:
        """The store a guide (distributor) belongs to, or None."""

    def stage_add_staff(self, tx, staff: Staff, current: Staff | None, on_raced) -> None:
        """Make `staff` the person's one place, if it is still `current` (absent for None)."""

    def stage_remove_staff(self, tx, staff: Staff, on_raced) -> None:
        """Remove the person from `staff.store_id`, if they are still there."""
