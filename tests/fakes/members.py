"""In-memory twins of layers/storage/members.py: the same conditions (a part a
movement takes must be there; a cause is written once; a top-up changes from the version
it was read at)."""

from __future__ import annotations

from dataclasses import replace

from layers.domain import errors
from layers.domain.members import (
    BALANCE,
    UNPAID_TOP_UPS_CAP,
    Book,
    Movement,
    Plan,
    TopUp,
    TopUpStatus,
)
from tests.fakes.memory import MemoryStore, MemoryTx

_PARTS = {BALANCE: ("principal", "bonus"), "points": ("available", "frozen", "growth")}


class MemoryMemberRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get_book(self, user_id: str, book: str, consistent: bool = True) -> Book:
        return self.store.get(("book", user_id, book)) or Book(user_id)

    def stage_move(self, tx: MemoryTx, movement: Movement, on_short, on_duplicate) -> None:
        book_key = ("book", movement.user_id, movement.book)
        entry_key = ("entry", movement.user_id, movement.book, movement.cause)

        def enough(items) -> bool:
            book = items.get(book_key) or Book(movement.user_id)
            for name in _PARTS[movement.book]:
                delta = getattr(movement, name)
                if delta < 0 and name != "growth" and (name != "available" or movement.guard_available) \
                        and getattr(book, name) < -delta:
                    return False
            return True

        def add(items) -> None:
            book = items.get(book_key) or Book(movement.user_id)
            items[book_key] = replace(book, **{n: getattr(book, n) + getattr(movement, n)
                                               for n in _PARTS[movement.book]})

        tx.add(enough, add, on_short)
        tx.add(lambda items: entry_key not in items, lambda items: items.__setitem__(entry_key, movement),
               on_duplicate)

    def get_levels(self) -> list[dict]:
        return list(self.store.get(("member_levels",)) or [])

    def save_levels(self, levels: list[dict]) -> None:
        with self.store.lock:
            self.store.items[("member_levels",)] = list(levels)

    def _all(self, user_id: str, book: str) -> list[Movement]:
        return self.store.scan(("entry", user_id, book))

    def entries(self, user_id: str, book: str, limit: int, cursor: dict | None):
        mine = self._all(user_id, book)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(mine)
        return mine[start:start + limit], ({"offset": start + limit} if more else None)

    def entries_for(self, user_id: str, book: str, cause_prefix: str) -> list[Movement]:
        return [m for m in self._all(user_id, book) if m.cause.startswith(cause_prefix)]


def _counted(top_up: TopUp) -> bool:
    return top_up.status == TopUpStatus.PENDING_PAYMENT and top_up.expires_at is not None


class MemoryTopUpRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, top_up_id: str) -> TopUp | None:
        return self.store.get(("top_up", top_up_id))

    def stage_create(self, tx: MemoryTx, top_up: TopUp, on_exists, on_open=None) -> None:
        key = ("top_up", top_up.top_up_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, top_up), on_exists)
        if not _counted(top_up):
            return
        slot, unpaid = ("open_top_up", top_up.user_id, top_up.plan_id), ("unpaid_top_ups", top_up.user_id)
        tx.add(lambda items: slot not in items, lambda items: items.__setitem__(slot, top_up.top_up_id),
               on_open or on_exists)
        tx.add(lambda items: items.get(unpaid, 0) < UNPAID_TOP_UPS_CAP,
               lambda items: items.__setitem__(unpaid, items.get(unpaid, 0) + 1),
               lambda: errors.LimitExceeded("too many unpaid top-ups", unpaid_cap=UNPAID_TOP_UPS_CAP))

    def stage_change(self, tx: MemoryTx, before: TopUp, after: TopUp, on_stale) -> None:
        key = ("top_up", before.top_up_id)
        tx.add(lambda items: key in items and items[key].version == before.version
               and items[key].status == before.status,
               lambda items: items.__setitem__(key, replace(after, prepay_id=items[key].prepay_id,
                                                            prepay_at=items[key].prepay_at)), on_stale)
        if _counted(before) and not _counted(after):
            slot, unpaid = ("open_top_up", before.user_id, before.plan_id), ("unpaid_top_ups", before.user_id)

            def release(items) -> None:
                items.pop(slot, None)
                items[unpaid] = items.get(unpaid, 0) - 1

            tx.add(lambda items: True, release, None)

    def open_for(self, user_id: str, plan_id: str) -> TopUp | None:
        top_up_id = self.store.get(("open_top_up", user_id, plan_id))
        return self.get(top_up_id) if top_up_id else None

    def unpaid_count(self, user_id: str) -> int:
        return self.store.get(("unpaid_top_ups", user_id), 0)

    def set_prepay_id(self, top_up_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        with self.store.lock:
            key = ("top_up", top_up_id)
            if self.store.items[key].status != TopUpStatus.PENDING_PAYMENT:
                return False
            self.store.items[key] = replace(self.store.items[key], prepay_id=prepay_id,
                                            prepay_at=prepay_at or self.store.items[key].prepay_at)
            return True

    def refunding(self, limit: int) -> list[TopUp]:
        return [t for t in self.store.scan(("top_up",)) if t.status == TopUpStatus.REFUNDING][:limit]

    def due_unpaid(self, now: str, limit: int) -> list[TopUp]:
        return sorted((t for t in self.store.scan(("top_up",)) if _counted(t) and t.expires_at <= now),
                      key=lambda t: (t.expires_at, t.top_up_id))[:limit]

    def save_plan(self, plan: Plan) -> None:
        with self.store.lock:
            self.store.items[("plan", plan.plan_id)] = plan

    def plans(self) -> list[Plan]:
        return self.store.scan(("plan",))

    def get_plan(self, plan_id: str) -> Plan | None:
        return self.store.get(("plan", plan_id))
