"""Rate-limit counters. pk `RATE#<key>`, sk `W#<window start>`, one item per
key and window, deleted by TTL after the window."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import UpdateError

from layers.domain.rate_limit import window_start
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed


class RateItem(ShopModel):
    hits = NumberAttribute(null=True)


class DynamoRateLimiter:
    """layers.domain.rate_limit.RateLimiter: one conditional ADD per hit."""

    @staticmethod
    def _hit(key: str, limit: int, window_s: int, epoch_s: int) -> tuple[RateItem, dict]:
        start = window_start(epoch_s, window_s)
        return RateItem(f"RATE#{key}", f"W#{start}"), {
            "actions": [RateItem.hits.add(1), RateItem.ttl.set(start + window_s + 60)],
            "condition": RateItem.hits.does_not_exist() | (RateItem.hits < limit)}

    def stage_hit(self, tx, key: str, limit: int, window_s: int, epoch_s: int, on_full) -> None:
        item, update = self._hit(key, limit, window_s, epoch_s)
        tx.update(item, on_fail=on_full, **update)

    def hit(self, key: str, limit: int, window_s: int, epoch_s: int) -> bool:
        item, update = self._hit(key, limit, window_s, epoch_s)
        try:
            item.update(**update)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
