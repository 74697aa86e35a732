"""In-memory twin of layers/storage/promotions.py: each promotion under ("promotion", id),
the live ones under ("promotions-live",) as (promotions, version); a create or a stop is one
transaction of both, the live value conditioned on the version read, a lost write redone."""

from __future__ import annotations

from datetime import datetime

from layers.clock import iso
from layers.domain import errors
from layers.domain.promotion import ACTIVE, MAX_LIVE, Promotion
from layers.domain.promotion import stop as stopped
from tests.fakes.memory import MemoryStore

_LIVE = ("promotions-live",)


class _Lost(Exception):
    pass


def _key(promotion_id: str) -> tuple:
    return ("promotion", promotion_id)


class MemoryPromotionRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _live(self) -> tuple[list[Promotion], int | None]:
        found = self.store.get(_LIVE)
        return (list(found[0]), found[1]) if found is not None else ([], None)

    def _stage_live(self, tx, promotions: list[Promotion], read_version: int | None) -> None:
        def version(items):
            found = items.get(_LIVE)
            return found[1] if found is not None else None

        tx.add(lambda items: version(items) == read_version,
               lambda items: items.__setitem__(_LIVE, (tuple(promotions), (read_version or 0) + 1)), _Lost)

    def create(self, promotion: Promotion, now: datetime) -> Promotion:
        key = _key(promotion.promotion_id)
        for _ in range(10):
            live, version = self._live()
            kept = [p for p in live if not p.has_ended(now)]
            if not promotion.has_ended(now):
                if len(kept) >= MAX_LIVE:
                    raise errors.LimitExceeded(f"at most {MAX_LIVE} promotions not ended at once")
                kept.append(promotion)
            tx = self.store.tx().add(lambda items: key not in items,
                                     lambda items: items.__setitem__(key, promotion),
                                     lambda: errors.InvalidState(f"promotion {promotion.promotion_id} exists"))
            self._stage_live(tx, kept, version)
            try:
                tx.commit()
            except _Lost:
                continue
            return promotion
        raise errors.RateLimited("the promotions are being changed; try again", retry_after=1)

    def get(self, promotion_id: str) -> Promotion | None:
        return self.store.get(_key(promotion_id))

    def stop(self, promotion_id: str, now: datetime) -> Promotion:
        key = _key(promotion_id)
        for _ in range(10):
            current = self.get(promotion_id)
            if current is None:
                raise errors.NotFound("no such promotion")
            if current.status != ACTIVE:
                return current
            after = stopped(current, iso(now))
            live, version = self._live()
            kept = [p for p in live if p.promotion_id != promotion_id and not p.has_ended(now)]

            def unchanged(items, read=current):
                found = items.get(key)
                return found is not None and found.status == ACTIVE and found.version == read.version

            tx = self.store.tx().add(unchanged, lambda items, a=after: items.__setitem__(key, a), _Lost)
            self._stage_live(tx, kept, version)
            try:
                tx.commit()
            except _Lost:
                continue
            return after
        raise errors.RateLimited("the promotions are being changed; try again", retry_after=1)

    def live(self) -> list[Promotion]:
        return self._live()[0]

    def page(self, limit: int, cursor: dict | None) -> tuple[list[Promotion], dict | None]:
        """Newest first by (created_at, id), as the table's index sorts them."""
        every = sorted((v for v in self.store.scan(("promotion",)) if isinstance(v, Promotion)),
                       key=lambda p: f"{p.created_at}#{p.promotion_id}", reverse=True)
        after = (cursor or {}).get("after")
        if after is not None:
            every = [p for p in every if f"{p.created_at}#{p.promotion_id}" < after]
        page = every[:limit]
        more = len(every) > limit
        return page, ({"after": f"{page[-1].created_at}#{page[-1].promotion_id}"} if more else None)
