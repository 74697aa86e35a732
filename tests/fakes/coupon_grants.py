"""In-memory twin of layers/storage/coupon_grants.py: a grant is created only if its id
is free; a progress write lands only while the stored grant is RUNNING at the step it
was read at. Keys: ("coupon_grant", gid) -> CouponGrant, ("coupon_grant_targets", gid,
index) -> tuple of user ids."""

from __future__ import annotations

from layers.domain import errors
from layers.domain.coupon_grant import RUNNING, CouponGrant
from tests.fakes.memory import MemoryStore


class MemoryCouponGrants:
    def __init__(self, store: MemoryStore):
        self.store = store

    def create(self, grant: CouponGrant, target_batches: list[list[str]]) -> None:
        with self.store.lock:
            if ("coupon_grant", grant.grant_id) in self.store.items:
                raise errors.InvalidState("a grant with this id exists")
            for index, user_ids in enumerate(target_batches):
                self.store.items[("coupon_grant_targets", grant.grant_id, index)] = tuple(user_ids)
            self.store.items[("coupon_grant", grant.grant_id)] = grant

    def get(self, grant_id: str) -> CouponGrant | None:
        return self.store.get(("coupon_grant", grant_id))

    def listed_batch(self, grant_id: str, index: int) -> list[str] | None:
        batch = self.store.get(("coupon_grant_targets", grant_id, index))
        return None if batch is None else list(batch)

    def save_progress(self, before: CouponGrant, after: CouponGrant) -> bool:
        key = ("coupon_grant", before.grant_id)
        with self.store.lock:
            stored = self.store.items.get(key)
            if stored is None or stored.step != before.step or stored.status != RUNNING:
                return False
            self.store.items[key] = after
            return True

    def listed(self, limit: int, cursor: dict | None):
        grants = sorted(self.store.scan(("coupon_grant",)), key=lambda g: f"{g.created_at}#{g.grant_id}",
                        reverse=True)
        grants = [g for g in grants if isinstance(g, CouponGrant)]
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(grants)
        return grants[start:start + limit], ({"offset": start + limit} if more else None)

    def running(self, updated_before: str, limit: int) -> list[CouponGrant]:
        grants = [g for g in self.store.scan(("coupon_grant",))
                  if isinstance(g, CouponGrant) and g.status == RUNNING
                  and f"{g.updated_at}#{g.grant_id}" < updated_before]
        return sorted(grants, key=lambda g: g.updated_at)[:limit]


class FakeTagMembers:
    """`TagMembers` over a dict tag -> member ids, paged by offset, as the customers'
    storage will answer (a stable order, a cursor that resumes)."""

    def __init__(self, tags: dict[str, list[str]] | None = None):
        self.tags = tags or {}

    def count(self, tag: str) -> int | None:
        members = self.tags.get(tag)
        return None if members is None else len(members)

    def user_ids(self, tag: str, cursor: dict | None, limit: int):
        members = self.tags.get(tag, [])
        start = int((cursor or {}).get("offset", 0))
        page = members[start:start + limit]
        return page, ({"offset": start + limit} if start + limit < len(members) else None)
