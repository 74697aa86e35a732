"""In-memory twin of layers/storage/operators.py. Keys: ("operator", name) ->
Operator, ("session", name, sid) -> StoredSession, ("signin", name, window[, address]) / ("signin_addr", address, window) -> attempts, ("audit", day, at, n) -> AuditEntry."""

from __future__ import annotations

import dataclasses
import itertools

from layers.domain.analytics import day_of
from layers.domain.operators import AuditEntry, Operator, SignInCount, StoredSession
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

    def _count(self, key: tuple) -> int:
        self.store.items[key] = self.store.items.get(key, 0) + 1
        return self.store.items[key]

    def count_sign_in(self, name: str, address: str, window: int, expires_at: int) -> SignInCount:
        with self.store.lock:
            return SignInCount(pair=self._count(("signin", name, window, address)),
                               address=self._count(("signin_addr", address, window)))

    def count_name_sign_in(self, name: str, window: int, expires_at: int) -> int:
        with self.store.lock:
            return self._count(("signin", name, window))

    def forgive_sign_in(self, name: str, address: str, window: int, name_counted: bool = True) -> None:
        with self.store.lock:
            keys = [("signin", name, window, address), ("signin_addr", address, window)]
            if name_counted:
                keys.append(("signin", name, window))
            for key in keys:
                if self.store.items.get(key, 0) > 0:
                    self.store.items[key] -= 1

    def clear_sign_in_locks(self, name: str) -> int:
        with self.store.lock:
            keys = [k for k in self.store.items if k[:2] == ("signin", name)]
            for key in keys:
                if len(key) == 4:
                    self.store.items.pop(("signin_addr", key[3], key[2]), None)
                del self.store.items[key]
            return len(keys)

    def set_password_hash(self, name: str, old_hash: str, new_hash: str) -> bool:
        with self.store.lock:
            current = self.store.items.get(("operator", name))
            if current is None or current.password_hash != old_hash:
                return False
            self.store.items[("operator", name)] = dataclasses.replace(current, password_hash=new_hash)
            return True

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
