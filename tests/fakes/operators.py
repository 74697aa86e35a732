"""In-memory twin of layers/storage/operators.py (issue 21). Keys: ("operator", name) ->
Operator, ("session", name, sid) -> StoredSession, ("signin", name, window) -> attempts, ("audit", day, at, n) -> AuditEntry."""

from __future__ import annotations

import dataclasses
import itertools

from layers.domain.analytics import day_of
from layers.domain.operators import AuditEntry, Operator, StoredSession
from tests.fakes.memory import MemoryStore


class MemoryOperatorRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._seq = itertools.count()

    def get(self, name: str) -> Operator | None:
        return self.store.get(("operator", name))

    def create(self, operator: Operator) -> bool:
        with self.store.lock:
            key = ("operator", operator.name)
            if key in self.store.items:
                return False
            self.store.items[key] = operator
            return True

    def list(self) -> list[Operator]:
        return self.store.scan(("operator",))

    def update(self, name: str, *, disabled: bool | None = None, password_hash: str | None = None) -> bool:
        with self.store.lock:
            key = ("operator", name)
            current = self.store.items.get(key)
            if current is None:
                return False
            changes = {"epoch": current.epoch + 1}
            if disabled is not None:
                changes["disabled"] = disabled
            if password_hash is not None:
                changes["password_hash"] = password_hash
            self.store.items[key] = dataclasses.replace(current, **changes)
            return True

    def create_session(self, session: StoredSession) -> None:
        with self.store.lock:
            self.store.items[("session", session.name, session.sid)] = session

    def get_session(self, name: str, sid: str) -> StoredSession | None:
        return self.store.get(("session", name, sid))

    def delete_session(self, name: str, sid: str) -> None:
        with self.store.lock:
            self.store.items.pop(("session", name, sid), None)

    def sign_in_failures(self, name: str, window: int) -> int:
        return self.store.get(("signin", name, window), 0)

    def record_sign_in_failure(self, name: str, window: int, expires_at: int) -> None:
        with self.store.lock:
            key = ("signin", name, window)
            self.store.items[key] = self.store.items.get(key, 0) + 1

    def audit(self, entry: AuditEntry) -> str:
        with self.store.lock:
            n = next(self._seq)
            self.store.items[("audit", day_of(entry.at), entry.at, n)] = entry
        return f"{entry.at}#{n}"

    def finish_audit(self, entry_id: str, outcome: str, amount: int | None, detail: str | None) -> None:
        at, n = entry_id.rsplit("#", 1)
        key = ("audit", day_of(at), at, int(n))
        with self.store.lock:
            if key not in self.store.items:
                raise LookupError(f"no audit line {entry_id}")  # as the DynamoDB condition: only a line begun
            self.store.items[key] = dataclasses.replace(self.store.items[key], outcome=outcome, amount=amount, detail=detail)

    def audit_log(self, day: str, limit: int = 100) -> list[AuditEntry]:
        return list(reversed(self.store.scan(("audit", day))))[:limit]
