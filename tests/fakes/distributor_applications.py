"""In-memory twin of layers/storage/distributor_applications.py, with the same conditions:
an application is put with the applicant's pointer only while the pointer is what the
service read; a decision only while the application is PENDING.

Keys: ("distapp", application_id) -> Application, ("applicant", user_id) -> Applicant.
"""

from __future__ import annotations

from layers.domain.distributor_application import Applicant, Application, Status
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryApplicationRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, application_id: str) -> Application | None:
        return self.store.get(("distapp", application_id))

    def applicant(self, user_id: str) -> Applicant | None:
        return self.store.get(("applicant", user_id))

    def list(self, status: Status | None, limit: int, cursor: dict | None, oldest_first: bool = False):
        rows = sorted((a for a in self.store.scan(("distapp",)) if status is None or a.status == status),
                      key=lambda a: (a.created_at, a.application_id), reverse=not oldest_first)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(rows)
        return rows[start:start + limit], ({"offset": start + limit} if more else None)

    def stage_create(self, tx: MemoryTx, app: Application, latest: Applicant | None, on_raced) -> None:
        key, pointer = ("distapp", app.application_id), ("applicant", app.user_id)

        def check(items) -> bool:
            return key not in items and items.get(pointer) == latest

        def apply(items) -> None:
            items[key] = app
            items[pointer] = Applicant(app.user_id, app.application_id, app.status)

        tx.add(check, apply, on_raced)

    def stage_decide(self, tx: MemoryTx, before: Application, after: Application, on_stale) -> None:
        key, pointer = ("distapp", before.application_id), ("applicant", before.user_id)

        def check(items) -> bool:
            stored, latest = items.get(key), items.get(pointer)
            return (stored is not None and stored.status == before.status and latest is not None
                    and latest.application_id == before.application_id)

        def apply(items) -> None:
            items[key] = after
            items[pointer] = Applicant(after.user_id, after.application_id, after.status)

        tx.add(check, apply, on_stale)
