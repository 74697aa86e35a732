"""Orders in the shop table.

- Order: pk `ORDER#<id>`, sk `ORDER`.
  gsi1 `USER#<user_id>#ORDERS` / `<created_at>#<id>`: a shopper's orders, newest first.
  gsi2 is a sparse work queue by status: `OPEN_ORDERS#<nn>` / `<expires_at>#<id>` while
  the order waits for payment (the close-expired-orders sweep), `SHIPPED_ORDERS#<nn>` /
  `<auto_confirm_at>#<id>` while shipped (automatic confirmation of receipt); `<nn>` is
  one of 16 shards (layers/storage/queues.py). The attributes are removed in the same
  write that leaves the state.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.storage import queues
from layers.storage.base import ListedAndQueued

OPEN_ORDERS = "OPEN_ORDERS"
SHIPPED_ORDERS = "SHIPPED_ORDERS"


class OrderItem(ListedAndQueued):

    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    status = UnicodeAttribute()
    kind = UnicodeAttribute(default="normal")  # normal | flash
    flash_sale_id = UnicodeAttribute(null=True)
    flash_shard = NumberAttribute(null=True)
    items = JSONAttribute()  # [{"sku_id", "product_id", "title", "quantity", "unit_price", "commission"}]
    amounts = JSONAttribute()  # {"goods", "discount", "shipping", "payable"}
    coupon_id = UnicodeAttribute(null=True)
    address = JSONAttribute(null=True)
    distributor_id = UnicodeAttribute(null=True)
    share_token = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    prepay_id = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    paid_amount = NumberAttribute(null=True)
    shipped_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    close_reason = UnicodeAttribute(null=True)
    refunded_amount = NumberAttribute(default=0)
    refunding_amount = NumberAttribute(default=0)
    # What can still be refunded: set to the paid amount at payment, taken by each refund
    # request with a condition `refund_room >= amount` (DynamoDB conditions cannot add),
    # given back when a refund fails or is rejected.
    refund_room = NumberAttribute(null=True)
    # Set when the order's stock (and coupon) went back, so it never goes back twice.
    released_at = UnicodeAttribute(null=True)
    notes = JSONAttribute(null=True)  # {"reservations": [...]}: fixed at placement
    # While refunds are in flight the order is REFUNDING; it returns to this status after.
    status_before_refund = UnicodeAttribute(null=True)
    # False when the order's coupon already went back (closed, then paid and refunded).
    coupon_returnable = BooleanAttribute(default=True)


def order_key(order_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", "ORDER"


def order_ref(order_id: str) -> OrderItem:
    return OrderItem(*order_key(order_id))


def get_order(order_id: str, consistent: bool = False) -> OrderItem | None:
    try:
        return OrderItem.get(*order_key(order_id), consistent_read=consistent)
    except OrderItem.DoesNotExist:
        return None


def list_user_orders(user_id: str, status: str | None, limit: int, cursor: dict | None):
    result = OrderItem.gsi1.query(
        f"USER#{user_id}#ORDERS", scan_index_forward=False, limit=limit,
        last_evaluated_key=cursor,
        filter_condition=(OrderItem.status == status) if status else None,
    )
    return list(result), result.last_evaluated_key


def queue_key(queue: str, order_id: str) -> str:
    return queues.key(queue, order_id)


def due(queue: str, until_iso: str, limit: int = 100):
    """Orders in a gsi2 work queue whose time has come, oldest first (eventually
    consistent: callers re-read each order before acting on it)."""
    return queues.merged(queue, lambda k: OrderItem.gsi2.query(k, OrderItem.gsi2sk <= f"{until_iso}#~", limit=limit),
                         lambda o: o.gsi2sk, limit)
