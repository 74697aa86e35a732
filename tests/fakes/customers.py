"""Customer records in memory, with the DynamoDB repository's semantics: an event applied
once by its id, tags' members kept with the record's tags, the list newest last order
first. The phone is kept as the storage keeps it for lookups (by whole number and last
four), without sealing: nothing of it is persisted."""

from __future__ import annotations

import threading
from dataclasses import replace

from layers.domain import errors
from layers.domain.customers import Customer, Delta, Filters, Tag, applied


class MemoryCustomerRepository:
    """`layers.domain.customers.CustomerRepository` in memory."""

    def __init__(self):
        self.records: dict[str, Customer] = {}
        self.applied_events: set[str] = set()
        self.numbers: dict[str, str] = {}
        self.tag_defs: dict[str, Tag] = {}
        self.members: dict[str, set[str]] = {}
        self.lock = threading.RLock()

    def get(self, user_id: str) -> Customer | None:
        return self.records.get(user_id)

    def apply(self, event_id: str, delta: Delta) -> bool:
        with self.lock:
            if event_id in self.applied_events:
                return False
            self.applied_events.add(event_id)
            before = self.records.get(delta.user_id) or Customer(user_id=delta.user_id)
            self.records[delta.user_id] = applied(before, delta)
            return True

    def set_phone(self, user_id: str, phone: str, masked: str) -> None:
        with self.lock:
            self.records[user_id] = replace(self.records.get(user_id) or Customer(user_id), phone_masked=masked)
            self.numbers[user_id] = phone

    def remove_phone(self, user_id: str) -> bool:
        with self.lock:
            if user_id not in self.numbers:
                return False
            del self.numbers[user_id]
            self.records[user_id] = replace(self.records[user_id], phone_masked=None)
            return True

    def phone(self, user_id: str) -> str | None:
        return self.numbers.get(user_id)

    def find_by_phone(self, kind: str, digits: str) -> list[Customer]:
        return [self.records[u] for u, n in sorted(self.numbers.items())
                if (n == digits if kind == "phone" else n[-4:] == digits)]

    def page(self, filters: Filters, limit: int, cursor: dict | None) -> tuple[list[Customer], dict | None]:
        found = sorted((c for c in self.records.values() if filters.matches(c)),
                       key=lambda c: (c.last_order_at or "", c.user_id), reverse=True)
        start = int((cursor or {}).get("at", 0))
        rest = found[start:start + limit]
        return rest, ({"at": start + limit} if start + limit < len(found) else None)

    def scan_all(self, cursor: dict | None, size: int = 100) -> tuple[list[Customer], dict | None]:
        every = sorted(self.records.values(), key=lambda c: c.user_id)
        start = int((cursor or {}).get("at", 0))
        return every[start:start + size], ({"at": start + size} if start + size < len(every) else None)

    def create_tag(self, tag: Tag) -> Tag:
        with self.lock:
            if tag.name in self.tag_defs:
                raise errors.InvalidState(f"a tag named {tag.name} exists")
            self.tag_defs[tag.name] = tag
            return tag

    def tags(self) -> list[Tag]:
        return list(self.tag_defs.values())

    def set_tags(self, user_id: str, manual=None, rule=None) -> Customer:
        with self.lock:
            before = self.records.get(user_id) or Customer(user_id)
            after = replace(before, manual_tags=tuple(sorted(set(before.manual_tags if manual is None else manual))),
                            rule_tags=tuple(sorted(set(before.rule_tags if rule is None else rule))))
            for name in set(before.tags) - set(after.tags):
                self.members.get(name, set()).discard(user_id)
            for name in set(after.tags):
                self.members.setdefault(name, set()).add(user_id)
            self.records[user_id] = after
            return after

    def users_with_tag(self, tag: str, limit: int = 100, cursor: dict | None = None):
        every = sorted(self.members.get(tag, ()))
        start = int((cursor or {}).get("at", 0))
        return every[start:start + limit], ({"at": start + limit} if start + limit < len(every) else None)
