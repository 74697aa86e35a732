"""The shopper's address book: GET, POST, PUT and DELETE /me/addresses.

The rules (at most 20, exactly one default) are layers/domain/addresses.py; the book is one
stored value. Each write reads the book, asks the rules for the next one, and saves it
conditioned on the version it read; when another write of the same shopper landed first
(two phones, a double tap), it reads again and decides again, a few times at most.

What is logged names ids and versions only: never a name, a phone or an address.
"""

from __future__ import annotations

from collections.abc import Callable

from layers.clock import iso
from layers.domain import errors
from layers.domain.addresses import (
    FIELDS,
    AddressBook,
    AddressBookRepository,
    SavedAddress,
    new_address_id,
)
from layers.observability import logger

ATTEMPTS = 10


def address_view(a: SavedAddress) -> dict:
    """The shopper's own address, whole: they need it to check where an order goes."""
    return {"id": a.address_id, "name": a.name, "phone": a.phone, "province": a.province, "city": a.city,
            "district": a.district, "detail": a.detail, "is_default": a.is_default, "created_at": a.created_at,
            "updated_at": a.updated_at}


class AddressService:
    def __init__(self, *, books: AddressBookRepository, clock, new_id: Callable[[], str] = new_address_id):
        self.books = books
        self.clock = clock
        self.new_id = new_id

    def page(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """The default first, then the most recently updated. A book holds at most 20, one
        page at the default limit; a smaller `limit` pages on by position."""
        start = cursor.get("offset") if cursor else 0
        if not isinstance(start, int) or start < 0:
            raise errors.InvalidRequest("invalid cursor")
        listed = self.books.get(user_id).listed()
        items = [address_view(a) for a in listed[start:start + limit]]
        return items, ({"offset": start + limit} if start + limit < len(listed) else None)

    def add(self, user_id: str, body) -> dict:
        """`body`: the route's AddressInput. The new address as saved."""
        address_id = self.new_id()
        book = self._write(user_id, lambda book, now: book.add(address_id, _details(body),
                                                               is_default=body.is_default, now=now))
        logger.info("address added", extra={"address_id": address_id, "addresses": len(book.addresses)})
        return address_view(book.get(address_id))

    def update(self, user_id: str, address_id: str, body) -> dict:
        """The address's fields replaced by `body`'s; 404 for an id not in the caller's book."""
        book = self._write(user_id, lambda book, now: book.update(address_id, _details(body),
                                                                  is_default=body.is_default, now=now))
        logger.info("address updated", extra={"address_id": address_id})
        return address_view(book.get(address_id))

    def remove(self, user_id: str, address_id: str) -> None:
        book = self._write(user_id, lambda book, now: book.remove(address_id))
        logger.info("address removed", extra={"address_id": address_id, "addresses": len(book.addresses)})

    def _write(self, user_id: str, decide: Callable[[AddressBook, str], AddressBook]) -> AddressBook:
        """Read, decide, save conditioned on the version read; again while another write of
        this shopper's book lands in between. The rules' refusals (404, 409) change nothing."""
        for _ in range(ATTEMPTS):
            before = self.books.get(user_id)
            after = decide(before, iso(self.clock.now()))
            if self.books.save(before, after):
                return after
        raise errors.RateLimited("the address book is being changed elsewhere; try again in a moment")


def _details(body) -> dict:
    return {name: getattr(body, name) for name in FIELDS}
