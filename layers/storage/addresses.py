"""The shopper's address book: pk `USER#<id>`, sk `ADDRESSES`, the whole book in ONE item.

One item so the book's rules (at most 20, exactly one default) are decided on one read and
written by one conditional put: `version` compare-and-set (`version = <read>`, or no item
yet), so two concurrent writes never both land on the same read, and neither the cap nor
the default can be broken by interleaving. Placing an order reads the book in its one
BatchGetItem (`book_key`, `to_address_book`).

The addresses are personal information: the item holds them only sealed
(`sealed`: AES-256-GCM, layers/storage/pii.py), bound to this item's key, so a table
export, a backup or a copy of the item elsewhere shows no name, phone or address. Only the
key and the version are in the clear.
"""

from __future__ import annotations

import json

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain.addresses import AddressBook, SavedAddress
from layers.storage import pii
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed


class AddressBookItem(ShopModel):
    version = NumberAttribute()
    sealed = UnicodeAttribute()       # the addresses as JSON, sealed (pii.seal)


def book_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "ADDRESSES"


def _context(user_id: str) -> str:
    """The associated data: the item's key. A sealed book opens only in its own item."""
    pk, sk = book_key(user_id)
    return f"{pk}|{sk}"


_STORED = ("address_id", "name", "phone", "province", "city", "district", "detail", "is_default",
           "created_at", "updated_at")


def to_address_book(user_id: str, item: AddressBookItem | None) -> AddressBook:
    """The book an item holds, opened; an empty book of version 0 without one. A book that
    does not open (altered, or sealed under a key we no longer hold) raises: never read as
    empty, or the next write would replace it."""
    if item is None:
        return AddressBook(user_id)
    rows = json.loads(pii.open_(item.sealed, _context(user_id)))
    return AddressBook(user_id, tuple(SavedAddress(**{k: row[k] for k in _STORED}) for row in rows),
                       version=int(item.version))


def _item(book: AddressBook) -> AddressBookItem:
    rows = [{k: getattr(a, k) for k in _STORED} for a in book.addresses]
    plaintext = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    return AddressBookItem(*book_key(book.user_id), version=book.version,
                           sealed=pii.seal(plaintext, _context(book.user_id)))


class DynamoAddressBookRepository:
    """layers.domain.addresses.AddressBookRepository."""

    def get(self, user_id: str) -> AddressBook:
        try:
            item = AddressBookItem.get(*book_key(user_id), consistent_read=True)
        except AddressBookItem.DoesNotExist:
            item = None
        return to_address_book(user_id, item)

    def save(self, before: AddressBook, after: AddressBook) -> bool:
        """One conditional put of the whole book (no transaction: nothing is written with it,
        and a put costs half a transactional write)."""
        if after.user_id != before.user_id or after.version != before.version + 1:
            raise ValueError("a book is saved as the next version of the one it was read as")
        unchanged = (AddressBookItem.pk.does_not_exist() if before.version == 0
                     else AddressBookItem.version == before.version)
        try:
            _item(after).save(condition=unchanged)
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
