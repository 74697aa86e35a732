"""The promotion pool in the shop table: one item, pk `DISTPOOL`, sk `POOL`: `all` (bool),
`product_ids` (a JSON list, at most 2,000 ids: ~50 KB), `updated_at`, `version` (each
write conditioned on the one before: `version = n - 1`, or no item for the first). No item: every
product (the default of a shop that never chose).

Every share reads it, and an operator changes it a few times a month, so each instance
keeps what it read for CACHE_S seconds: a share costs no read while the memo is fresh,
and the instance that writes forgets its memo at once. Another container may still
allow a share of a product just removed for those few seconds; that is harmless, since
the pool governs sharing only and an older share keeps earning anyway
(layers/domain/distribution_pool.py).
"""

from __future__ import annotations

import time

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain.distribution_pool import Pool
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed

POOL_KEY = ("DISTPOOL", "POOL")


class PoolItem(ShopModel):
    all = BooleanAttribute(default=True)
    product_ids = JSONAttribute(default=list)
    updated_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class DynamoPoolRepository:
    """layers.domain.distribution_pool.PoolRepository; one instance per container
    (functions/wiring.py), so its memo is the container's."""

    CACHE_S = 5.0

    def __init__(self) -> None:
        self._memo: tuple[float, Pool | None] | None = None

    def get(self, fresh: bool = False) -> Pool | None:
        now = time.monotonic()
        if not fresh and self._memo is not None and now - self._memo[0] < self.CACHE_S:
            return self._memo[1]
        try:
            item = PoolItem.get(*POOL_KEY, consistent_read=fresh)
            pool: Pool | None = Pool(all=bool(item.all), product_ids=tuple(item.product_ids or ()),
                                     updated_at=item.updated_at, version=int(item.version or 0))
        except PoolItem.DoesNotExist:
            pool = None
        self._memo = (now, pool)
        return pool

    def put(self, pool: Pool, on_stale) -> None:
        condition = (PoolItem.pk.does_not_exist() if pool.version <= 1
                     else PoolItem.version == pool.version - 1)
        self._memo = None
        try:
            PoolItem(*POOL_KEY, all=pool.all, product_ids=[] if pool.all else list(pool.product_ids),
                     updated_at=pool.updated_at, version=pool.version).save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                raise on_stale() from exc
            raise
