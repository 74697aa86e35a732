"""In-memory twin of layers/storage/addresses.py. Key: ("addresses", user_id) -> AddressBook
(kept as the domain value: the fake has no table to leak, so nothing is sealed here)."""

from __future__ import annotations

from layers.domain.addresses import AddressBook
from tests.fakes.memory import MemoryStore


class MemoryAddressBookRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get(self, user_id: str) -> AddressBook:
        return self.store.get(("addresses", user_id)) or AddressBook(user_id)

    def save(self, before: AddressBook, after: AddressBook) -> bool:
        if after.user_id != before.user_id or after.version != before.version + 1:
            raise ValueError("a book is saved as the next version of the one it was read as")
        key = ("addresses", before.user_id)
        with self.store.lock:
            stored = self.store.items.get(key)
            if (stored.version if stored is not None else 0) != before.version:
                return False
            self.store.items[key] = after
            return True
