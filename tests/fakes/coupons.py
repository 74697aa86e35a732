"""In-memory twins of layers/storage/coupons.py, with the same conditional semantics:

- a template's issue shard takes one more while `issued < cap` (else the part's error);
- a shopper's count of a template takes one more while below the limit (or absent);
- a coupon is created only if its id is free;
- a coupon changes only while it still has the status, owner and holding order it was
  read with (`stage_change`), or is HELD by the order that consumes it (`stage_consume`).

Keys in the store: ("coupon_template", tid) -> CouponTemplate,
("coupon_shard", tid, k) -> (cap, issued), ("coupon_claims", tid, user_id) -> int,
("user_coupon", coupon_id) -> UserCoupon.
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain import user_coupon as domain
from layers.domain.coupon_template import CouponTemplate
from layers.domain.user_coupon import UserCoupon
from tests.fakes.memory import MemoryStore, MemoryTx


def _page(items: list, limit: int, cursor: dict | None):
    start = int((cursor or {}).get("offset", 0))
    more = start + limit < len(items)
    return items[start:start + limit], ({"offset": start + limit} if more else None)


class MemoryCouponTemplates:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(template_id: str) -> tuple:
        return ("coupon_template", template_id)

    def get(self, template_id: str) -> CouponTemplate | None:
        return self.store.get(self._key(template_id))

    def _listed(self) -> list[CouponTemplate]:
        return sorted((t for t in self.store.scan(("coupon_template",)) if not t.post_payment),
                      key=lambda t: f"{t.claim_ends_at}#{t.template_id}")

    def claimable(self, now_iso: str, limit: int, cursor: dict | None):
        open_now = [t for t in self._listed()
                    if f"{t.claim_ends_at}#{t.template_id}" > now_iso and t.claim_starts_at <= now_iso]
        return _page(open_now, limit, cursor)

    def listed(self, limit: int, cursor: dict | None):
        return _page(list(reversed(self._listed())), limit, cursor)

    def post_payment(self) -> list[CouponTemplate]:
        return sorted((t for t in self.store.scan(("coupon_template",)) if t.post_payment),
                      key=lambda t: t.template_id)

    def issued_total(self, template_id: str) -> int:
        return sum(issued for _, issued in self.store.scan(("coupon_shard", template_id)))

    def stage_create(self, tx: MemoryTx, template: CouponTemplate, shard_caps: list[int], on_exists) -> None:
        key = self._key(template.template_id)

        def apply(items):
            items[key] = template
            for k, cap in enumerate(shard_caps):
                items[("coupon_shard", template.template_id, k)] = (cap, 0)

        tx.add(lambda items: key not in items, apply, on_exists)

    def stage_count_claim(self, tx: MemoryTx, template_id: str, user_id: str, limit: int, on_limit) -> None:
        key = ("coupon_claims", template_id, user_id)
        tx.add(lambda items: key not in items or items[key] < limit,
               lambda items: items.__setitem__(key, items.get(key, 0) + 1), on_limit)

    def stage_take_from_shard(self, tx: MemoryTx, template_id: str, shard: int, on_empty) -> None:
        key = ("coupon_shard", template_id, shard)

        def apply(items):
            cap, issued = items[key]
            items[key] = (cap, issued + 1)

        tx.add(lambda items: key in items and items[key][1] < items[key][0], apply, on_empty)


class MemoryUserCoupons:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(coupon_id: str) -> tuple:
        return ("user_coupon", coupon_id)

    def get(self, coupon_id: str, consistent: bool = True) -> UserCoupon | None:
        return self.store.get(self._key(coupon_id))

    def for_user(self, user_id: str, limit: int, cursor: dict | None):
        mine = sorted((c for c in self.store.scan(("user_coupon",)) if c.user_id == user_id),
                      key=lambda c: f"{c.claimed_at}#{c.coupon_id}", reverse=True)
        return _page(mine, limit, cursor)

    def expiring(self, from_iso: str, until_iso: str, limit: int = 1000) -> list[UserCoupon]:
        due = sorted((c for c in self.store.scan(("user_coupon",)) if c.status == domain.UNUSED
                      and from_iso <= f"{c.valid_until}#{c.coupon_id}" <= f"{until_iso}#~"),
                     key=lambda c: f"{c.valid_until}#{c.coupon_id}")
        return due[:limit]

    def stage_issue(self, tx: MemoryTx, coupon: UserCoupon, on_exists) -> None:
        key = self._key(coupon.coupon_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, coupon), on_exists)

    def stage_change(self, tx: MemoryTx, before: UserCoupon, after: UserCoupon, on_stale) -> None:
        key = self._key(before.coupon_id)
        changed = {name: getattr(after, name) for name in ("status", "held_by", "used_by", "used_at")
                   if getattr(before, name) != getattr(after, name)}
        if not changed:
            return

        def check(items):
            stored = items.get(key)
            return (stored is not None and stored.status == before.status and stored.user_id == before.user_id
                    and (before.held_by is None or stored.held_by == before.held_by)
                    and (before.used_by is None or stored.used_by == before.used_by))

        tx.add(check, lambda items: items.__setitem__(key, replace(items[key], **changed)), on_stale)

    def stage_consume(self, tx: MemoryTx, coupon_id: str, order_id: str, now: str, on_stale=None) -> None:
        key = self._key(coupon_id)

        def check(items):
            stored = items.get(key)
            return stored is not None and stored.status == domain.HELD and stored.held_by == order_id

        tx.add(check, lambda items: items.__setitem__(key, domain.consume(items[key], order_id, now)), on_stale)
