"""Orders in the shop table, and the repository that alone knows their keys.

- Order: pk `ORDER#<id>`, sk `ORDER`.
  gsi1 `USER#<user_id>#ORDERS` / `<created_at>#<id>`: a shopper's orders, newest first.
  gsi2 is a sparse work queue by status: `OPEN_ORDERS#<nn>` / `<expires_at>#<id>` while
  the order waits for payment (the close-expired-orders sweep), `SHIPPED_ORDERS#<nn>` /
  `<auto_confirm_at>#<id>` while shipped (automatic confirmation of receipt),
  `PICKUP_ORDERS#<nn>` / `<pickup due_at>#<id>` while a paid pickup order waits in its
  store (its reminder, then its refund: layers/domain/pickup.py); `<nn>` is
  one of 16 shards (layers/storage/queues.py). The attributes are removed in the same
  write that leaves the state.
  gsi3 `PAID#<day>#<nn>` / paid epoch seconds: the orders paid on an Asia/Shanghai day
  (16 shards), for the nightly analytics recount; set in the write that pays the order
.
- The shopper's counter item: pk `USER#<user_id>`, sk `UNPAID_ORDERS` (the name it had
  when it held only the cap). `n`: unpaid orders, raised by the transaction that creates
  a PENDING order, conditioned `n < cap` (a shopper cannot hold a SKU's stock with a
  hundred unpaid orders), lowered by the one transition that takes the order out of
  PENDING (paid, closed, deleted): the order's version condition makes that happen
  exactly once. `PENDING_PAYMENT`, `PAID`, `SHIPPED`, `REFUNDING`: the shopper's order
  counts (layers/domain/order_counts.py), moved by every write of an order that changes
  a counted status, in one update of this item together with `n` (a transaction touches
  an item once). An order item carries `counted` (true) once it is in these counts; one
  stored before them has none until its next write or the backfill job counts it, each
  conditioned on `counted` still being absent.
- The buyer's phone: pk `ORDERPHONE#<sha256 of the normalized phone of the
  address>`, sk `<created_at>#<order_id>`: written by the transaction that creates an
  order with an address (deleted with the order), so the console finds a phone's orders
  over a date range by key. The phone itself is not in the key.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.clock import parse_iso
from layers.domain import analytics, errors, order_counts
from layers.domain import order as domain
from layers.domain import pickup as pickup_rules
from layers.domain.order import Order
from layers.domain.order_search import normalized_phone
from layers.storage import queues
from layers.storage.base import ListedAndQueued, Numbered, ShopModel, changed, requeued
from layers.storage.errors import condition_failed
from layers.storage.tx import Tx

OPEN_ORDERS = domain.OPEN_ORDERS
SHIPPED_ORDERS = domain.SHIPPED_ORDERS
PICKUP_ORDERS = pickup_rules.PICKUP_ORDERS


class OrderItem(ListedAndQueued, Numbered):

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
    channel = UnicodeAttribute(null=True)
    scene = NumberAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    prepay_id = UnicodeAttribute(null=True)
    prepay_at = UnicodeAttribute(null=True)
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
    auto_confirm_at = UnicodeAttribute(null=True)
    # Bumped by every transition; each transition is conditioned on the one it read.
    version = NumberAttribute(default=0)
    # In its shopper's order counts: true, or absent for an order stored before them.
    counted = BooleanAttribute(null=True)
    # -- shipping information and where its upload to WeChat stands --
    shipping = JSONAttribute(null=True)
    shipping_upload_status = UnicodeAttribute(null=True)
    # -- members --
    pay_with = UnicodeAttribute(null=True)
    member = JSONAttribute(null=True)
    # -- how the shipping fee was made: {"total", "parts": [...]} (layers/domain/freight.py) --
    freight = JSONAttribute(null=True)
    # -- the promotions it took part in (absent: none, or stored before promotions) --
    promotions = JSONAttribute(null=True)
    # -- refunds of lines: {"<line index>": {"units", "amount"}} (layers/domain/line_refunds.py),
    # written by the refund's own transaction under the version condition --
    line_refunds = JSONAttribute(null=True)
    # -- pickup (layers/domain/pickup.py) --
    delivery = JSONAttribute(null=True)
    pickup = JSONAttribute(null=True)


class OrderCountsItem(ShopModel):
    """The shopper's counter item (see the module's docstring)."""

    n = NumberAttribute(null=True)  # unpaid orders, against the cap
    pending_payment = NumberAttribute(null=True, attr_name="PENDING_PAYMENT")
    paid = NumberAttribute(null=True, attr_name="PAID")
    shipped = NumberAttribute(null=True, attr_name="SHIPPED")
    refunding = NumberAttribute(null=True, attr_name="REFUNDING")


def counts_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "UNPAID_ORDERS"


def _counter(status: str) -> NumberAttribute:
    return getattr(OrderCountsItem, status.lower())


def _stage_counts(tx: Tx, user_id: str, moves: dict[str, int], unpaid: int = 0, cap: int | None = None) -> None:
    """One update of the shopper's counter item: the order counts' `moves` and the unpaid
    orders' `unpaid` (+1 conditioned below the cap). Nothing when neither moves."""
    actions = [_counter(status).add(delta) for status, delta in sorted(moves.items())]
    if unpaid:
        actions.append(OrderCountsItem.n.add(unpaid))
    if not actions:
        return
    item = OrderCountsItem(*counts_key(user_id))
    if unpaid <= 0:
        tx.update(item, actions=actions)
        return
    tx.update(item, actions=actions,
              condition=OrderCountsItem.n.does_not_exist() | (OrderCountsItem.n < cap),
              on_fail=lambda: errors.LimitExceeded(
                  f"you already have {cap} unpaid orders: pay or cancel one first", unpaid_cap=cap))


def order_key(order_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", "ORDER"


# Fields of the domain Order stored under another name or not at all.
_NOT_ATTRIBUTES = {"reservations"}
_FIELDS = [f.name for f in fields(Order) if f.name not in _NOT_ATTRIBUTES]
# version and counted are written by stage_change itself, with their conditions.
_TRANSITION_FIELDS = [name for name in _FIELDS if name not in ("version", "counted")]
_INT_FIELDS = {"scene", "paid_amount", "refunded_amount", "refunding_amount", "refund_room", "version"}


def to_order(item: OrderItem) -> Order:
    values = {}
    for name in _FIELDS:
        value = getattr(item, name)
        if name in _INT_FIELDS and value is not None:
            value = int(value)
        values[name] = value
    values["items"] = tuple(item.items or ())
    values["promotions"] = tuple(values["promotions"] or ())
    values["reservations"] = tuple((item.notes or {}).get("reservations", ()))
    values["refunded_amount"] = values["refunded_amount"] or 0
    values["refunding_amount"] = values["refunding_amount"] or 0
    values["version"] = values["version"] or 0
    values["pay_with"] = values["pay_with"] or "wechat"
    values["counted"] = bool(values["counted"])  # absent: stored before the counts
    if values["coupon_returnable"] is None:
        values["coupon_returnable"] = True
    return Order(**values)


def _queue(order: Order) -> tuple[str, str] | None:
    """The gsi2 work queue an order sits in, from its state: waiting for payment until it
    expires, shipped until receipt is confirmed automatically; none otherwise."""
    if order.status == domain.PENDING:
        return queues.key(OPEN_ORDERS, order.order_id), f"{order.expires_at}#{order.order_id}"
    if order.auto_confirm_at:
        return queues.key(SHIPPED_ORDERS, order.order_id), f"{order.auto_confirm_at}#{order.order_id}"
    due_at = (order.pickup or {}).get("due_at")
    if order.status == domain.PAID and due_at and not order.pickup.get("redeemed_at"):
        # paid, waiting in a store: the reminder before its window ends, the refund after
        return queues.key(PICKUP_ORDERS, order.order_id), f"{due_at}#{order.order_id}"
    return None


# -- analytics: the paid-date index --
PAID = "PAID"


def _paid_index(order: Order) -> tuple[str, int] | None:
    """Where a counted order sits in gsi3: its Beijing paid day (16 shards), by paid time."""
    if not analytics.counts_as_sale(order):
        return None
    return queues.key(f"{PAID}#{analytics.day_of(order.paid_at)}", order.order_id), \
        int(parse_iso(order.paid_at).timestamp())


def _paid_indexed(before: Order | None, after: Order) -> list:
    now, then = _paid_index(after), (_paid_index(before) if before else None)
    if now == then:
        return []
    if now is None:
        return [OrderItem.gsi3pk.remove(), OrderItem.gsi3n.remove()]
    return [OrderItem.gsi3pk.set(now[0]), OrderItem.gsi3n.set(now[1])]


def paid_day_keys(day: str) -> list[str]:
    return queues.all_keys(f"{PAID}#{day}")


# -- the console's order search: the buyer's phone index, and paging the paid days --
ORDER_PHONE = "ORDERPHONE"


class OrderPhoneItem(ShopModel):
    order_id = UnicodeAttribute()


def _phone_pk(phone: str) -> str:
    return f"{ORDER_PHONE}#{hashlib.sha256(f'order-phone:{phone}'.encode()).hexdigest()[:32]}"


def _phone_item(order: Order) -> OrderPhoneItem | None:
    phone = normalized_phone((order.address or {}).get("phone"))
    if phone is None:
        return None
    return OrderPhoneItem(_phone_pk(phone), f"{order.created_at}#{order.order_id}", order_id=order.order_id)


def _ties_sorted(items):
    """A gsi3 shard's items newest first, equal paid seconds ordered by order id (the
    index leaves equal sort keys in no particular order)."""
    for _, same in itertools.groupby(items, key=lambda i: int(i.gsi3n)):
        yield from sorted(same, key=lambda i: i.order_id, reverse=True)


def _paid_stream(day: str, after: dict | None, pool: ThreadPoolExecutor):
    """One day's paid orders across its 16 shards, newest first, past `after`
    (`{"n": epoch, "id": order_id}`, the last one already listed). The shards' first
    pages are read in parallel (a day costs one round trip, not 16)."""
    def shard(key):
        condition = OrderItem.gsi3n <= int(after["n"]) if after else None
        for item in _ties_sorted(OrderItem.gsi3.query(key, condition, scan_index_forward=False, page_size=50)):
            if after and (int(item.gsi3n), item.order_id) >= (int(after["n"]), after["id"]):
                continue
            yield item

    def primed(key):
        stream = shard(key)
        first = next(stream, None)
        return [] if first is None else itertools.chain([first], stream)

    streams = list(pool.map(primed, paid_day_keys(day)))
    return heapq.merge(*streams, key=lambda i: (int(i.gsi3n), i.order_id), reverse=True)


def _at_version(version: int):
    # Orders written before versions existed have none: they are version 0.
    if version == 0:
        return OrderItem.version.does_not_exist() | (OrderItem.version == 0)
    return OrderItem.version == version


def _as_read(order: Order):
    """The stored order is still the one `order` was read as: its version, and for one
    not counted yet, still not counted (the backfill counts without a new version)."""
    condition = OrderItem.pk.exists() & _at_version(order.version)
    if not order.counted:
        condition &= OrderItem.counted.does_not_exist()
    return condition


class DynamoOrderRepository:
    """`layers.domain.order.OrderRepository` on the shop table. With `unpaid_cap`, a
    shopper holds at most that many PENDING orders (see the module's docstring)."""

    def __init__(self, unpaid_cap: int | None = None) -> None:
        self.unpaid_cap = unpaid_cap

    def get(self, order_id: str, consistent: bool = False) -> Order | None:
        try:
            return to_order(OrderItem.get(*order_key(order_id), consistent_read=consistent))
        except OrderItem.DoesNotExist:
            return None

    def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: dict | None):
        result = OrderItem.gsi1.query(
            f"USER#{user_id}#ORDERS", scan_index_forward=False, limit=limit, last_evaluated_key=cursor,
            filter_condition=(OrderItem.status == status) if status else None)
        return [to_order(i) for i in result], result.last_evaluated_key

    def due(self, queue: str, until_iso: str, limit: int = 100) -> list[Order]:
        """Orders in a work queue whose time has come, oldest first (eventually consistent:
        callers re-read each order before acting on it)."""
        found = queues.merged(
            queue, lambda k: OrderItem.gsi2.query(k, OrderItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda o: o.gsi2sk, limit)
        return [to_order(i) for i in found]

    def stage_create(self, tx: Tx, order: Order, on_exists) -> None:
        values = {name: getattr(order, name) for name in _FIELDS}
        values["items"] = list(order.items)
        values["promotions"] = list(order.promotions) or None
        values["counted"] = True  # counted by this very transaction
        queue = _queue(order)
        item = OrderItem(*order_key(order.order_id), **values,
                         notes={"reservations": list(order.reservations)},
                         gsi1pk=f"USER#{order.user_id}#ORDERS", gsi1sk=f"{order.created_at}#{order.order_id}",
                         gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None,
                         **dict(zip(("gsi3pk", "gsi3n"), _paid_index(order) or (), strict=False)))
        tx.put(item, condition=OrderItem.pk.does_not_exist(), on_fail=on_exists)
        phone = _phone_item(order)  # the buyer's phone index
        if phone is not None:
            tx.put(phone)
        unpaid = 1 if self.unpaid_cap and order.status == domain.PENDING else 0
        _stage_counts(tx, order.user_id, order_counts.moves(None, order), unpaid, self.unpaid_cap)

    def stage_change(self, tx: Tx, before: Order, after: Order, on_stale) -> None:
        actions = [*changed(OrderItem, before, after, _TRANSITION_FIELDS),
                   *requeued(OrderItem, _queue(before), _queue(after)),
                   *_paid_indexed(before, after),
                   OrderItem.version.set(after.version)]
        if not before.counted:  # stored before the counts: counted from now on
            actions.append(OrderItem.counted.set(True))
        tx.update(OrderItem(*order_key(before.order_id)), actions=actions, condition=_as_read(before),
                  on_fail=on_stale)
        leaves_unpaid = before.status == domain.PENDING and after.status != domain.PENDING
        _stage_counts(tx, before.user_id, order_counts.moves(before, after),
                      -1 if self.unpaid_cap and leaves_unpaid else 0)

    def stage_delete(self, tx: Tx, order: Order, on_stale) -> None:
        tx.delete(OrderItem(*order_key(order.order_id)), condition=_as_read(order), on_fail=on_stale)
        phone = _phone_item(order)
        if phone is not None:
            tx.delete(phone)
        _stage_counts(tx, order.user_id, order_counts.moves(order, None),
                      -1 if self.unpaid_cap and order.status == domain.PENDING else 0)

    # -- the shopper's order counts (layers/domain/order_counts.py) -----------------------

    def counts(self, user_id: str) -> dict[str, int]:
        try:
            item = OrderCountsItem.get(*counts_key(user_id), consistent_read=True)
        except OrderCountsItem.DoesNotExist:
            return {}
        return {str(status): int(getattr(item, str(status).lower()) or 0) for status in order_counts.COUNTED}

    def uncounted_unpaid(self) -> list[Order]:
        """Unpaid orders not in their shoppers' counts yet: every unpaid order sits in the
        open-orders queue (eventually consistent: the backfill re-reads each one)."""
        return [to_order(i) for key in queues.all_keys(OPEN_ORDERS)
                for i in OrderItem.gsi2.query(key, filter_condition=OrderItem.counted.does_not_exist())]

    def uncounted_paid_on(self, day: str) -> list[Order]:
        """Orders paid on a Beijing day (the paid-day index: every order paid as an order),
        in a counted status and not in their shoppers' counts yet; the 16 shards read in
        parallel."""
        condition = OrderItem.counted.does_not_exist() & OrderItem.status.is_in(
            *(str(s) for s in order_counts.COUNTED if s != domain.PENDING))

        def shard(key: str) -> list[Order]:
            return [to_order(i) for i in OrderItem.gsi3.query(key, filter_condition=condition)]

        with ThreadPoolExecutor(max_workers=queues.SHARDS) as pool:
            return [order for found in pool.map(shard, paid_day_keys(day)) for order in found]

    def paid_on(self, day: str) -> list[Order]:
        """Every order paid on a Beijing day (the paid-day index), whatever its status now;
        the 16 shards read in parallel. For the customers' backfill."""

        def shard(key: str) -> list[Order]:
            return [to_order(i) for i in OrderItem.gsi3.query(key)]

        with ThreadPoolExecutor(max_workers=queues.SHARDS) as pool:
            return [order for found in pool.map(shard, paid_day_keys(day)) for order in found]

    def set_prepay_id(self, order_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        actions = [OrderItem.prepay_id.set(prepay_id)]
        if prepay_at:
            actions.append(OrderItem.prepay_at.set(prepay_at))
        try:
            OrderItem(*order_key(order_id)).update(
                actions=actions,
                condition=OrderItem.pk.exists() & (OrderItem.status == domain.PENDING))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    # -- the upload status, written with the upload's own transition ----------------

    def stage_upload_status(self, tx: Tx, order_id: str, status: str) -> None:
        """Where the order's shipping upload stands. Not a transition of the order (no version
        bump): the upload's own write, in the same transaction, is the one conditioned."""
        tx.update(OrderItem(*order_key(order_id)), actions=[OrderItem.shipping_upload_status.set(status)],
                  condition=OrderItem.pk.exists() & OrderItem.shipping.exists())

    # -- the console's order search (layers/domain/order_search.py) ---------------------

    def by_phone(self, phone: str, start_iso: str, end_iso: str, status: str | None, limit: int,
                 cursor: dict | None, examine: int = 200) -> tuple[list[Order], dict | None]:
        """Orders with this phone created in [start, end), newest first, of `status` if
        given: up to `limit` of them, having looked at no more than `examine`; and the
        cursor past the last one looked at (None when there is no more)."""
        upper = cursor["sk"] if cursor else end_iso
        entries = OrderPhoneItem.query(_phone_pk(phone), OrderPhoneItem.sk.between(start_iso, upper),
                                       scan_index_forward=False, page_size=min(limit, 100))
        found: list[Order] = []
        examined = 0
        entries = (e for e in entries if e.sk != upper)
        while True:
            batch = list(itertools.islice(entries, min(limit, 100)))
            if not batch:
                return found, None
            orders = {i.order_id: to_order(i) for i in OrderItem.batch_get([order_key(e.order_id) for e in batch])}
            for entry in batch:
                examined += 1
                order = orders.get(entry.order_id)
                if order is not None and (status is None or str(order.status) == status):
                    found.append(order)
                if len(found) >= limit or examined >= examine:
                    return found, {"sk": entry.sk}

    def paid_in_days(self, days: list[str], status: str | None, limit: int, cursor: dict | None,
                     examine: int = 200) -> tuple[list[Order], dict | None]:
        """Orders paid on `days` (Beijing, newest first; the paid-day index),
        newest first, of `status` if given; paged as `by_phone`."""
        start = days.index(cursor["day"]) if cursor and cursor.get("day") in days else 0
        found: list[Order] = []
        examined = 0
        with ThreadPoolExecutor(max_workers=queues.SHARDS) as pool:
            for day in days[start:]:
                after = cursor if cursor and cursor.get("day") == day else None
                for item in _paid_stream(day, after, pool):
                    examined += 1
                    order = to_order(item)
                    if status is None or str(order.status) == status:
                        found.append(order)
                    if len(found) >= limit or examined >= examine:
                        return found, {"day": day, "n": int(item.gsi3n), "id": item.order_id}
        return found, None
