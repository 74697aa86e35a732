"""The shopper's address book: at most MAX_ADDRESSES addresses, exactly one default once
there is one.

- The first address becomes the default, whatever it asks.
- An address added or updated with `is_default: true` becomes the default; the old one stops
  being it.
- The default is moved, never left empty: removing it, or updating it with
  `is_default: false`, makes the most recently updated other address the default (ties:
  the one added last). The only address stays the default.
- `updated_at` is when the shopper last saved that address; a default moved by these rules
  does not touch it.

The whole book is one value, written at once (`version` + 1 per write): the cap and the
one-default rule are then decided on what one read saw, and the write is conditioned on
that version (layers/storage/addresses.py). Everything here is pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from layers.domain import errors

MAX_ADDRESSES = 20
# What a shopper types for an address, and what an order keeps of it.
FIELDS = ("name", "phone", "province", "city", "district", "detail")


@dataclass(frozen=True)
class SavedAddress:
    address_id: str
    name: str
    phone: str
    province: str | None
    city: str | None
    district: str | None
    detail: str
    is_default: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class AddressBook:
    user_id: str
    addresses: tuple[SavedAddress, ...] = ()  # in the order they were added
    version: int = 0

    def get(self, address_id: str) -> SavedAddress | None:
        return next((a for a in self.addresses if a.address_id == address_id), None)

    def default(self) -> SavedAddress | None:
        return next((a for a in self.addresses if a.is_default), None)

    def listed(self) -> list[SavedAddress]:
        """As the shopper sees them: the default first, then the most recently updated."""
        listed = list(reversed(self.addresses))                  # ties: the one added last first
        listed.sort(key=lambda a: a.updated_at, reverse=True)    # (stable, reversed or not)
        listed.sort(key=lambda a: not a.is_default)
        return listed

    def add(self, address_id: str, details: Mapping[str, str | None], *, is_default: bool | None,
            now: str) -> AddressBook:
        """The book with a new address; LimitExceeded once it holds MAX_ADDRESSES."""
        if len(self.addresses) >= MAX_ADDRESSES:
            raise errors.LimitExceeded(f"an address book holds at most {MAX_ADDRESSES} addresses")
        if self.get(address_id) is not None:
            raise errors.InvalidState("an address with this id exists")
        first = not self.addresses
        new = SavedAddress(address_id=address_id, **_fields(details), is_default=first or bool(is_default),
                           created_at=now, updated_at=now)
        kept = tuple(replace(a, is_default=False) if new.is_default and a.is_default else a
                     for a in self.addresses)
        return self._next(kept + (new,))

    def update(self, address_id: str, details: Mapping[str, str | None], *, is_default: bool | None,
               now: str) -> AddressBook:
        """The book with that address's fields replaced; `is_default` None leaves its place
        as it is. NotFound for an id the book does not hold."""
        current = self._existing(address_id)
        default = current.is_default if is_default is None else is_default
        changed = replace(current, **_fields(details), updated_at=now)
        if default:
            return self._next(tuple(replace(changed, is_default=True) if a.address_id == address_id
                                    else replace(a, is_default=False) if a.is_default else a
                                    for a in self.addresses))
        addresses = tuple(replace(changed, is_default=False) if a.address_id == address_id else a
                          for a in self.addresses)
        return self._next(_with_a_default(addresses, prefer_not=address_id))

    def remove(self, address_id: str) -> AddressBook:
        """The book without that address. NotFound for an id the book does not hold."""
        self._existing(address_id)
        return self._next(_with_a_default(tuple(a for a in self.addresses if a.address_id != address_id)))

    def _existing(self, address_id: str) -> SavedAddress:
        found = self.get(address_id)
        if found is None:
            raise errors.NotFound("no such address")
        return found

    def _next(self, addresses: tuple[SavedAddress, ...]) -> AddressBook:
        return replace(self, addresses=addresses, version=self.version + 1)


def _fields(details: Mapping[str, str | None]) -> dict:
    return {name: details.get(name) for name in FIELDS}


def _with_a_default(addresses: tuple[SavedAddress, ...], prefer_not: str | None = None) -> tuple[SavedAddress, ...]:
    """`addresses` with exactly one default when there is any: the current one kept; else
    the most recently updated (ties: the one added last), other than `prefer_not` while
    there is another."""
    if not addresses or any(a.is_default for a in addresses):
        return addresses
    candidates = [(a.updated_at, n) for n, a in enumerate(addresses) if a.address_id != prefer_not]
    if not candidates:
        candidates = [(a.updated_at, n) for n, a in enumerate(addresses)]
    chosen = max(candidates)[1]
    return tuple(replace(a, is_default=True) if n == chosen else a for n, a in enumerate(addresses))


def new_address_id() -> str:
    return "a" + uuid.uuid4().hex[:20]


def order_address(a: SavedAddress) -> dict:
    """What an order keeps of an address: the same dict POST /orders keeps for an address
    given inline (functions/schemas.Address dumped), `{"name", "phone", "province", "city",
    "district", "detail"}`, a part not given being None."""
    return {name: getattr(a, name) for name in FIELDS}


class AddressBookRepository(Protocol):
    def get(self, user_id: str) -> AddressBook:
        """The shopper's book as stored now (strongly consistent); an empty book of version
        0 when they never saved one."""

    def save(self, before: AddressBook, after: AddressBook) -> bool:
        """Store `after` while the stored book is still at `before.version`; False (nothing
        written) when another write landed since `before` was read."""
