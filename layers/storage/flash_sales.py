"""Flash sales in the shop table.

- Sale: pk `FLASH#<sale_id>`, sk `SALE`; listed by gsi1 `FLASH_SALES` / `<starts_at>#<id>`.
- Stock shards: pk `FLASH#<sale_id>`, sk `SHARD#<k>`, `remaining` (>= 0 by condition).
- What a shopper holds in the sale: pk `FLASH#<sale_id>`, sk `USER#<user_id>`, `bought`
  (<= per_user_limit by condition; an unpaid order that closes gives its units back).
- Admission counter: pk `FLASHRATE#<sale_id>#<user_id>`, sk `<10 s window>`, with a TTL:
  one shopper's own item, so it never becomes a hot key.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.storage.base import Listed, ShopModel


class SaleItem(Listed):
    sale_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    product_id = UnicodeAttribute()
    title = UnicodeAttribute()
    category = UnicodeAttribute(null=True)
    price = NumberAttribute()
    stock = NumberAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    per_user_limit = NumberAttribute()
    shards = NumberAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | STOPPED
    created_at = UnicodeAttribute()


class FlashShardItem(ShopModel):
    remaining = NumberAttribute()


class FlashUserItem(ShopModel):
    bought = NumberAttribute(default=0)


class RateItem(ShopModel):
    attempts = NumberAttribute(default=0)


def sale_key(sale_id: str) -> tuple[str, str]:
    return f"FLASH#{sale_id}", "SALE"


def shard_key(sale_id: str, k: int) -> tuple[str, str]:
    return f"FLASH#{sale_id}", f"SHARD#{k:03d}"


def user_key(sale_id: str, user_id: str) -> tuple[str, str]:
    return f"FLASH#{sale_id}", f"USER#{user_id}"


def get_sale(sale_id: str) -> SaleItem | None:
    try:
        return SaleItem.get(*sale_key(sale_id))
    except SaleItem.DoesNotExist:
        return None


def remaining(sale_id: str) -> int:
    return sum(max(0, int(s.remaining)) for s in
               FlashShardItem.query(f"FLASH#{sale_id}", FlashShardItem.sk.startswith("SHARD#")))


def list_sales(limit: int, cursor: dict | None):
    result = SaleItem.gsi1.query("FLASH_SALES", scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key
