"""Distribution in the shop table: templates, distributors, managers, shares, bindings,
commissions and each distributor's running totals.

- Commission template: pk `CTEMPLATE#<id>`, sk `TEMPLATE`; gsi1 `CTEMPLATES` / `<created_at>#<id>`.
- Distributor: pk `DIST#<user_id>`, sk `PROFILE` (the distributor id IS the user id);
  gsi1 `DISTRIBUTORS` / `<created_at>#<user_id>`.
- Distributor stats: pk `DIST#<user_id>`, sk `STATS`: `sales_count`, `sales_amount`,
  `pending`, `settleable`, `settled`, `reversed` (fen). Only ever changed with ADD, in the
  same transaction as the commission change it reflects; never recomputed by a scan.
- Manager: pk `MANAGER#<user_id>`, sk `PROFILE`; gsi1 `MANAGERS` / `<created_at>#<user_id>`.
- Manager's group: pk `MANAGER#<manager_id>`, sk `DIST#<distributor_id>` (one per member;
  a manager's view is a consistent Query on its own partition, never a filter).
- Share: pk `SHARE#<token>`, sk `SHARE`: who shared (and which product). The token is 22
  random URL-safe characters (128 bits); it means something only because this item exists.
- Binding: pk `BIND#<customer_id>`, sk `BIND`: the one distributor a customer is bound to
  now (last touch overwrites it); gsi1 `DIST#<distributor_id>#CUSTOMERS` /
  `<expires_at>#<customer_id>`, so "currently bound customers" is a key-range COUNT
  (expires_at > now), exact without a counter that expiry could never decrement.
  DynamoDB's TTL removes it a day after it expires.

Commission items (the settlement's input; pk `DIST#<distributor_id>`):
- sk `COMM#<order_id>`, kind `COMMISSION`, one per order (`commission_id` = order id, put
  with attribute_not_exists(pk), so duplicate `order.paid` events accrue once).
  `amount` is what the order earns now (accrued - reversed - adjusted); `accrued` at
  payment; `reversed` taken back before payout; `adjusted` taken back after payout (as
  ADJUSTMENT items); `refunded` the refunds seen (`refund_ids`), `paid`, `base`
  (goods after discount), `sales_base` (base still counted in sales), `lines` and
  `tier` (the rates used), `rev` (bumped by every change: each write is conditioned on
  the `rev` it read).
- sk `ADJ#<refund_id>`, kind `ADJUSTMENT`, `amount` < 0: a refund that came after the
  commission was paid out (or while it was being paid). It is created SETTLEABLE and the
  distributor's next settlement nets it off; if that settlement's net is not positive the
  settlement must leave the adjustments SETTLEABLE (carried forward), never drop them.

Statuses: PENDING (accrued; the order may still be refunded) -> SETTLEABLE (freeze over,
`settleable_at` reached) -> SETTLING (in a payout) -> SETTLED; REVERSED when everything was
refunded before payout (amount 0). A payout that fails moves SETTLING back to SETTLEABLE.
Stats buckets: PENDING -> `pending`; SETTLEABLE and SETTLING -> `settleable`; SETTLED ->
`settled`; reversals and adjustments add to `reversed`. So pending + settleable + settled
+ reversed = everything ever accrued.

gsi2 (sparse work queues, each spread over 16 keys `<QUEUE>#<nn>` chosen by the distributor
id, see layers/storage/queues.py): `COMMISSION_DUE` / `<settleable_at>#<distributor_id>#<order_id>`
while PENDING with a settleable_at (the make_due_settleable sweep), then
`COMMISSION_SETTLEABLE` / `<distributor_id>#<settleable_at>#<sk>` while SETTLEABLE (the
settlement job's input, per distributor with begins_with). Removed on leaving the state.
"""

from __future__ import annotations

import secrets

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from layers.storage import queues
from layers.storage.base import Listed, Queued, ShopModel
from layers.storage.tx import Tx

PENDING = "PENDING"
SETTLEABLE = "SETTLEABLE"
SETTLING = "SETTLING"
SETTLED = "SETTLED"
REVERSED = "REVERSED"
COMMISSION = "COMMISSION"
ADJUSTMENT = "ADJUSTMENT"
COMMISSION_DUE = "COMMISSION_DUE"
COMMISSION_SETTLEABLE = "COMMISSION_SETTLEABLE"


def due_key(distributor_id: str) -> str:
    return queues.key(COMMISSION_DUE, distributor_id)


def settleable_key(distributor_id: str) -> str:
    """One distributor's SETTLEABLE items all sit on one of the 16 keys: one Query finds them."""
    return queues.key(COMMISSION_SETTLEABLE, distributor_id)

BUCKET = {PENDING: "pending", SETTLEABLE: "settleable", SETTLING: "settleable",
          SETTLED: "settled", REVERSED: "reversed"}


class TemplateItem(Listed):
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    tiers = JSONAttribute()
    created_at = UnicodeAttribute()


class DistributorItem(Listed):
    user_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    manager_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class StatsItem(ShopModel):
    sales_count = NumberAttribute(default=0)
    sales_amount = NumberAttribute(default=0)
    pending = NumberAttribute(default=0)
    settleable = NumberAttribute(default=0)
    settled = NumberAttribute(default=0)
    reversed = NumberAttribute(default=0)


class ManagerItem(Listed):
    user_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class MemberItem(ShopModel):
    manager_id = UnicodeAttribute()
    distributor_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class ShareItem(ShopModel):
    token = UnicodeAttribute()
    distributor_id = UnicodeAttribute()
    product_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class BindingItem(Listed):
    customer_id = UnicodeAttribute()
    distributor_id = UnicodeAttribute()
    share_token = UnicodeAttribute(null=True)
    bound_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()


class CommissionItem(Queued):
    kind = UnicodeAttribute()  # COMMISSION | ADJUSTMENT
    commission_id = UnicodeAttribute()
    distributor_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    refund_id = UnicodeAttribute(null=True)  # ADJUSTMENT: the refund it takes back
    buyer_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    amount = NumberAttribute()
    accrued = NumberAttribute(default=0)
    reversed = NumberAttribute(default=0)
    adjusted = NumberAttribute(default=0)
    refunded = NumberAttribute(default=0)
    refund_ids = UnicodeSetAttribute(null=True)
    paid = NumberAttribute(default=0)
    base = NumberAttribute(default=0)
    sales_base = NumberAttribute(default=0)
    counted = NumberAttribute(default=0)  # 1 while the order counts in sales_count
    lines = JSONAttribute(null=True)
    tier = JSONAttribute(null=True)
    rev = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    completed_at = UnicodeAttribute(null=True)
    settleable_at = UnicodeAttribute(null=True)
    settlement_id = UnicodeAttribute(null=True)  # issue 9: the payout it went into
    settled_at = UnicodeAttribute(null=True)


# -- keys --------------------------------------------------------------------------------

def dist_pk(distributor_id: str) -> str:
    return f"DIST#{distributor_id}"


def commission_key(distributor_id: str, order_id: str) -> tuple[str, str]:
    return dist_pk(distributor_id), f"COMM#{order_id}"


def adjustment_key(distributor_id: str, refund_id: str) -> tuple[str, str]:
    return dist_pk(distributor_id), f"ADJ#{refund_id}"


def stats_ref(distributor_id: str) -> StatsItem:
    return StatsItem(dist_pk(distributor_id), "STATS")


def new_share_token() -> str:
    """128 random bits, 22 characters of [A-Za-z0-9_-] (all allowed in a wxacode scene)."""
    return secrets.token_urlsafe(16)


def _get(model, pk: str, sk: str, consistent: bool = False):
    try:
        return model.get(pk, sk, consistent_read=consistent)
    except model.DoesNotExist:
        return None


# -- templates, distributors, managers -------------------------------------------------------

def get_template(template_id: str) -> TemplateItem | None:
    return _get(TemplateItem, f"CTEMPLATE#{template_id}", "TEMPLATE")


def put_template(template_id: str, name: str, tiers: list[dict], now: str) -> TemplateItem:
    item = TemplateItem(f"CTEMPLATE#{template_id}", "TEMPLATE", template_id=template_id, name=name,
                        tiers=tiers, created_at=now, gsi1pk="CTEMPLATES", gsi1sk=f"{now}#{template_id}")
    item.save(condition=TemplateItem.pk.does_not_exist())
    return item


def list_templates(limit: int, cursor: dict | None):
    result = TemplateItem.gsi1.query("CTEMPLATES", scan_index_forward=False, limit=limit,
                                     last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def get_distributor(user_id: str, consistent: bool = False) -> DistributorItem | None:
    return _get(DistributorItem, dist_pk(user_id), "PROFILE", consistent)


def get_distributors(user_ids: list[str]) -> dict[str, DistributorItem]:
    keys = [(dist_pk(u), "PROFILE") for u in dict.fromkeys(user_ids)]
    return {d.user_id: d for d in DistributorItem.batch_get(keys)} if keys else {}


def get_stats(user_ids: list[str]) -> dict[str, StatsItem]:
    keys = [(dist_pk(u), "STATS") for u in dict.fromkeys(user_ids)]
    return {s.pk.removeprefix("DIST#"): s for s in StatsItem.batch_get(keys)} if keys else {}


def get_stats_one(user_id: str, consistent: bool = True) -> StatsItem | None:
    return _get(StatsItem, dist_pk(user_id), "STATS", consistent)


def save_distributor(user_id: str, template_id: str, manager_id: str | None, now: str,
                     previous: DistributorItem | None) -> DistributorItem:
    """Create or change a distributor and move their group membership in one transaction."""
    item = DistributorItem(dist_pk(user_id), "PROFILE", user_id=user_id, template_id=template_id,
                           manager_id=manager_id, created_at=previous.created_at if previous else now,
                           updated_at=now, gsi1pk="DISTRIBUTORS",
                           gsi1sk=f"{previous.created_at if previous else now}#{user_id}")
    tx = Tx()
    tx.put(item)
    old_manager = previous.manager_id if previous else None
    if old_manager and old_manager != manager_id:
        tx.delete(MemberItem(f"MANAGER#{old_manager}", dist_pk(user_id)))
    if manager_id:
        tx.put(MemberItem(f"MANAGER#{manager_id}", dist_pk(user_id), manager_id=manager_id,
                          distributor_id=user_id, created_at=now))
        tx.update(ManagerItem(f"MANAGER#{manager_id}", "PROFILE"), actions=[
            ManagerItem.user_id.set(manager_id),
            ManagerItem.created_at.set(ManagerItem.created_at | now),
            ManagerItem.gsi1pk.set("MANAGERS"),
            ManagerItem.gsi1sk.set(ManagerItem.gsi1sk | f"{now}#{manager_id}"),
        ])
    tx.commit()
    return item


def list_distributors(limit: int, cursor: dict | None):
    result = DistributorItem.gsi1.query("DISTRIBUTORS", scan_index_forward=False, limit=limit,
                                        last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def get_manager(user_id: str) -> ManagerItem | None:
    return _get(ManagerItem, f"MANAGER#{user_id}", "PROFILE")


def upsert_manager(user_id: str, name: str | None, now: str) -> ManagerItem:
    item = ManagerItem(f"MANAGER#{user_id}", "PROFILE")
    item.update(actions=[
        ManagerItem.user_id.set(user_id),
        ManagerItem.created_at.set(ManagerItem.created_at | now),
        ManagerItem.gsi1pk.set("MANAGERS"),
        ManagerItem.gsi1sk.set(ManagerItem.gsi1sk | f"{now}#{user_id}"),
        *([ManagerItem.name.set(name)] if name else []),
    ])
    return item


def list_group(manager_id: str, limit: int, cursor: dict | None):
    result = MemberItem.query(f"MANAGER#{manager_id}", MemberItem.sk.startswith("DIST#"),
                              limit=limit, last_evaluated_key=cursor, consistent_read=True)
    return [m.distributor_id for m in result], result.last_evaluated_key


# -- shares and bindings ----------------------------------------------------------------------

def put_share(token: str, distributor_id: str, product_id: str | None, now: str) -> ShareItem:
    item = ShareItem(f"SHARE#{token}", "SHARE", token=token, distributor_id=distributor_id,
                     product_id=product_id, created_at=now)
    item.save(condition=ShareItem.pk.does_not_exist())
    return item


def get_share(token: str) -> ShareItem | None:
    return _get(ShareItem, f"SHARE#{token}", "SHARE")


def get_binding(customer_id: str) -> BindingItem | None:
    return _get(BindingItem, f"BIND#{customer_id}", "BIND", consistent=True)


def put_binding(customer_id: str, distributor_id: str, token: str | None, bound_at: str,
                expires_at: str, ttl_epoch: int) -> bool:
    """Last touch: overwrite unless the stored binding is from a later touch. False if it was."""
    item = BindingItem(f"BIND#{customer_id}", "BIND", customer_id=customer_id,
                       distributor_id=distributor_id, share_token=token, bound_at=bound_at,
                       expires_at=expires_at, ttl=ttl_epoch,
                       gsi1pk=f"DIST#{distributor_id}#CUSTOMERS", gsi1sk=f"{expires_at}#{customer_id}")
    try:
        item.save(condition=BindingItem.pk.does_not_exist() | (BindingItem.bound_at <= bound_at))
    except BindingItem.PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def count_customers(distributor_id: str, now: str) -> int:
    return BindingItem.gsi1.count(f"DIST#{distributor_id}#CUSTOMERS", BindingItem.gsi1sk > f"{now}#")


# -- commissions --------------------------------------------------------------------------------

def get_commission(distributor_id: str, order_id: str) -> CommissionItem | None:
    return _get(CommissionItem, *commission_key(distributor_id, order_id), consistent=True)


def get_adjustment(distributor_id: str, refund_id: str) -> CommissionItem | None:
    return _get(CommissionItem, *adjustment_key(distributor_id, refund_id), consistent=True)


def stats_actions(deltas: dict[str, int]) -> list:
    return [getattr(StatsItem, name).add(value) for name, value in deltas.items() if value]


def unchanged(item: CommissionItem):
    """The condition of every commission write: nobody changed it since we read it."""
    return (CommissionItem.status == item.status) & (CommissionItem.rev == int(item.rev))


def settleable_queue_sk(item: CommissionItem) -> str:
    return f"{item.distributor_id}#{item.settleable_at or item.created_at}#{item.sk}"


def transition(tx: Tx, item: CommissionItem, to_status: str, now: str, extra_actions: list | None = None,
               on_fail=None) -> None:
    """Add to `tx`: move `item` (as read) to `to_status`, moving its amount between the
    distributor's stats buckets in the same transaction. For the settlement (issue 9):
    SETTLEABLE -> SETTLING -> SETTLED, or SETTLING -> SETTLEABLE when a payout fails."""
    amount = int(item.amount)
    queue = ([CommissionItem.gsi2pk.set(settleable_key(item.distributor_id)),
              CommissionItem.gsi2sk.set(settleable_queue_sk(item))] if to_status == SETTLEABLE
             else [CommissionItem.gsi2pk.remove(), CommissionItem.gsi2sk.remove()])
    tx.update(item, actions=[CommissionItem.status.set(to_status), CommissionItem.rev.add(1),
                             CommissionItem.updated_at.set(now), *queue, *(extra_actions or [])],
              condition=unchanged(item), on_fail=on_fail)
    src, dst = BUCKET[item.status], BUCKET[to_status]
    if src != dst and amount:
        tx.update(stats_ref(item.distributor_id), actions=stats_actions({src: -amount, dst: amount}))


def due_commissions(until_iso: str, limit: int = 100):
    return queues.merged(COMMISSION_DUE, lambda k: CommissionItem.gsi2.query(
        k, CommissionItem.gsi2sk <= f"{until_iso}#~", limit=limit), lambda i: i.gsi2sk, limit)


def settleable_for(distributor_id: str) -> list[CommissionItem]:
    """SETTLEABLE commissions and adjustments of one distributor (gsi2: eventually consistent;
    the settlement's conditional transitions are what make it safe)."""
    return list(CommissionItem.gsi2.query(
        settleable_key(distributor_id), CommissionItem.gsi2sk.startswith(f"{distributor_id}#")))


def distributors_with_settleable() -> list[str]:
    seen: dict[str, None] = {}
    for key in queues.all_keys(COMMISSION_SETTLEABLE):
        for item in CommissionItem.gsi2.query(key):
            seen[item.distributor_id] = None
    return list(seen)
