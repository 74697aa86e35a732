"""A small shared key-value store with expiry in the shop table (pk `KV#<key>`, sk `KV`).

It backs wechatpy's `SessionStorage` seam so that the mini-program access token is
fetched once and shared by every Lambda container, instead of wechatpy's default
per-process MemoryStorage (which would fetch a token per container and invalidate the
others' tokens)."""

from __future__ import annotations

import json
import time

from pynamodb.attributes import UnicodeAttribute

from layers.storage.base import ShopModel


class KvItem(ShopModel):
    value = UnicodeAttribute()


class DynamoSessionStorage:
    """wechatpy.session.SessionStorage: get / set / delete, values JSON-encoded."""

    def get(self, key, default=None):
        try:
            item = KvItem.get(f"KV#{key}", "KV")
        except KvItem.DoesNotExist:
            return default
        if item.ttl is not None and item.ttl <= time.time():
            return default  # DynamoDB's TTL deletes lazily; expired is gone to us
        return json.loads(item.value)

    def set(self, key, value, ttl=None):
        expires = int(time.time() + ttl) if ttl else None
        KvItem(f"KV#{key}", "KV", value=json.dumps(value), ttl=expires).save()

    def delete(self, key):
        KvItem(f"KV#{key}", "KV").delete()

    # wechatpy calls these through item syntax in places
    def __getitem__(self, key):
        return self.get(key)

    def __setitem__(self, key, value):
        self.set(key, value)

    def __delitem__(self, key):
        self.delete(key)
