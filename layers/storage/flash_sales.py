"""Flash sales in the shop table.

- Sale: pk `FLASH#<sale_id>`, sk `SALE`; listed by gsi1 `FLASH_SALES` / `<starts_at>#<id>`.
- Stock shards: pk `FLASH#<sale_id>`, sk `SHARD#<k>`, `remaining` (>= 0 by condition).
- What a shopper holds in the sale: pk `FLASH#<sale_id>`, sk `USER#<user_id>`, `bought`
  (<= per_user_limit by condition; an unpaid order that closes gives its units back).
- Admission counter: pk `FLASHRATE#<sale_id>#<user_id>`, sk `<10 s window>`, with a TTL:
  one shopper's own item, so it never becomes a hot key.

`DynamoFlashSales` is the sale's repository and the handler of reservations of kind
"flash" (`stage_take` / `stage_release`).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.domain import errors
from layers.domain.flash_sale import FlashSale, ShardEmpty
from layers.storage.base import Listed, ShopModel
from layers.storage.errors import condition_failed

SALES = "FLASH_SALES"  # gsi1: every sale, by start


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


def rate_key(sale_id: str, user_id: str, window: int) -> tuple[str, str]:
    return f"FLASHRATE#{sale_id}#{user_id}", str(window)


def _sale(s: SaleItem) -> FlashSale:
    return FlashSale(sale_id=s.sale_id, sku_id=s.sku_id, product_id=s.product_id, title=s.title,
                     category=s.category, price=int(s.price), stock=int(s.stock), starts_at=s.starts_at,
                     ends_at=s.ends_at, per_user_limit=int(s.per_user_limit), shards=int(s.shards),
                     created_at=s.created_at, status=s.status or "ACTIVE")


class DynamoFlashSales:
    """`FlashSaleRepository` on the shop table, and the "flash" reservation handler."""

    def get(self, sale_id: str) -> FlashSale | None:
        try:
            return _sale(SaleItem.get(*sale_key(sale_id)))
        except SaleItem.DoesNotExist:
            return None

    def list_sales(self, limit: int, cursor: dict | None):
        result = SaleItem.gsi1.query(SALES, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        return [_sale(s) for s in result], result.last_evaluated_key

    def remaining(self, sale_id: str) -> int:
        return sum(max(0, int(s.remaining)) for s in
                   FlashShardItem.query(f"FLASH#{sale_id}", FlashShardItem.sk.startswith("SHARD#")))

    def stage_create(self, tx, sale: FlashSale, shard_units: list[int], on_exists) -> None:
        item = SaleItem(*sale_key(sale.sale_id), sale_id=sale.sale_id, sku_id=sale.sku_id, product_id=sale.product_id,
                        title=sale.title, category=sale.category, price=sale.price, stock=sale.stock,
                        starts_at=sale.starts_at, ends_at=sale.ends_at, per_user_limit=sale.per_user_limit,
                        shards=sale.shards, status=str(sale.status), created_at=sale.created_at,
                        gsi1pk=SALES, gsi1sk=f"{sale.starts_at}#{sale.sale_id}")
        tx.put(item, condition=SaleItem.pk.does_not_exist(), on_fail=on_exists)
        for k, units in enumerate(shard_units):
            tx.put(FlashShardItem(*shard_key(sale.sale_id, k), remaining=units))

    def stage_change(self, tx, before: FlashSale, after: FlashSale, on_stale) -> None:
        if after.status != before.status:
            tx.update(SaleItem(*sale_key(before.sale_id)), actions=[SaleItem.status.set(str(after.status))],
                      condition=SaleItem.status == str(before.status), on_fail=on_stale)

    def admit(self, sale_id: str, user_id: str, window: int, expires_at: int, limit: int) -> bool:
        item = RateItem(*rate_key(sale_id, user_id, window))
        try:
            item.update(actions=[RateItem.attempts.add(1), RateItem.ttl.set(expires_at)],
                        condition=RateItem.attempts.does_not_exist() | (RateItem.attempts < limit))
        except UpdateError as exc:
            if condition_failed(exc):
                return False  # over the limit in this window
            raise
        return True

    # -- the reservation kind "flash" --------------------------------------------------------

    def stage_take(self, tx, reservation: dict) -> None:
        sale_id, user_id = reservation["sale_id"], reservation["user_id"]
        q, limit = int(reservation["quantity"]), int(reservation["limit"])
        # The shopper's limit first: when both fail, the answer is LIMIT_EXCEEDED, not SOLD_OUT.
        tx.update(FlashUserItem(*user_key(sale_id, user_id)), actions=[FlashUserItem.bought.add(q)],
                  condition=FlashUserItem.bought.does_not_exist() | (FlashUserItem.bought <= limit - q),
                  on_fail=lambda: errors.LimitExceeded(f"at most {limit} per shopper in this sale"))
        tx.update(FlashShardItem(*shard_key(sale_id, int(reservation["shard"]))),
                  actions=[FlashShardItem.remaining.add(-q)], condition=FlashShardItem.remaining >= q,
                  on_fail=lambda: ShardEmpty("this shard is empty"))

    def stage_release(self, tx, reservation: dict) -> None:
        sale_id, q = reservation["sale_id"], int(reservation["quantity"])
        tx.update(FlashShardItem(*shard_key(sale_id, int(reservation["shard"]))),
                  actions=[FlashShardItem.remaining.add(q)])
        tx.update(FlashUserItem(*user_key(sale_id, reservation["user_id"])), actions=[FlashUserItem.bought.add(-q)])


