"""Distribution in the shop table: templates, distributors, managers, shares, bindings,
commissions and each distributor's running totals.

- Commission template: pk `CTEMPLATE#<id>`, sk `TEMPLATE`; gsi1 `CTEMPLATES` / `<created_at>#<id>`.
- Distributor: pk `DIST#<user_id>`, sk `PROFILE` (the distributor id IS the user id);
  gsi1 `DISTRIBUTORS` / `<created_at>#<user_id>`.
- Distributor stats: pk `DIST#<user_id>`, sk `STATS`: `sales_count`, `sales_amount`,
  `pending`, `settleable`, `settled`, `reversed`, `debt`, `deducted` (fen). Only ever
  changed with ADD, in the same transaction as the commission change or debt entry it
  reflects; never recomputed by a scan.
- Commission debt entries (layers/domain/commission_debt.py): pk `DIST#<user_id>`, sk
  `DEBT#R#<refund_id>` (a DEBT: owed after a refund of a paid commission, put with
  attribute_not_exists in the refund's transaction, so a refund owes once) or
  `DEBT#P#<payout_id>` (a DEDUCTION taken off that payout, put with attribute_not_exists
  in the transaction that claims the payout, with `debt >= amount` on the stats). One
  Query (begins_with `DEBT#`) lists them; they sum to the stats' `debt`.
- Manager: pk `MANAGER#<user_id>`, sk `PROFILE` (`name`, `template_id`: what the guides
  they add get); gsi1 `MANAGERS` / `<created_at>#<user_id>`.
- Manager's group: pk `MANAGER#<manager_id>`, sk `DIST#<distributor_id>` (one per member;
  a manager's view is a consistent Query on its own partition, never a filter).
- Share: pk `SHARE#<token>`, sk `SHARE`: who shared (and which product). The token is 22
  random URL-safe characters (128 bits); it means something only because this item exists.
- Binding: pk `BIND#<customer_id>`, sk `BIND`: the one distributor a customer is bound to
  now (last touch overwrites it); gsi1 `DIST#<distributor_id>#CUSTOMERS` /
  `<expires_at>#<customer_id>`, so "currently bound customers" is a key-range COUNT
  (expires_at > now), exact without a counter that expiry could never decrement.
  DynamoDB's TTL removes it a day after it expires. Every write of it also writes the
  guide's record of the customer (layers/storage/guide_customers.py), in one transaction.

Commission items (the settlement's input; pk `DIST#<distributor_id>`):
- sk `COMM#<order_id>`, kind `COMMISSION`, one per order (`commission_id` = order id, put
  with attribute_not_exists(pk), so duplicate `order.paid` events accrue once).
  `amount` is what the order earns now (accrued - reversed); `accrued` at payment;
  `reversed` taken back before payout; `adjusted` taken back after payout (as ADJUSTMENT
  items, the commission's own amount staying what was paid); `refunded` the refunds seen (`refund_ids`), `paid`, `base`
  (goods after discount), `sales_base` (base still counted in sales), `lines` and
  `tier` (the rates used), `rev` (bumped by every change: each write is conditioned on
  the `rev` it read).
- sk `ADJ#<refund_id>`, kind `ADJUSTMENT`, `commission_id` `adj:<refund_id>`, `amount` < 0: how a
  refund after payout was taken back before commission debts; no new ones are made. One
  still stored is SETTLEABLE and the distributor's next settlement nets it off; if that
  settlement's net is not positive it stays SETTLEABLE (carried forward), never dropped.

Statuses: PENDING (accrued; the order may still be refunded) -> SETTLEABLE (freeze over,
`settleable_at` reached) -> SETTLING (in a payout) -> SETTLED; REVERSED when everything was
refunded before payout (amount 0). A payout that fails moves SETTLING back to SETTLEABLE.
Stats buckets: PENDING -> `pending`; SETTLEABLE and SETTLING -> `settleable`; SETTLED ->
`settled`; everything taken back adds to `reversed`, and what was taken back after payout
to `debt` until deducted (`deducted`). So pending + settleable + settled + reversed =
everything ever accrued + debt + deducted (legacy adjustments: + 0, they sit in settleable).

gsi2 (sparse work queues, each spread over 16 keys `<QUEUE>#<nn>` chosen by the distributor
id, see layers/storage/queues.py): `COMMISSION_DUE` / `<settleable_at>#<distributor_id>#<order_id>`
while PENDING with a settleable_at (the make_due_settleable sweep), then
`COMMISSION_SETTLEABLE` / `<distributor_id>#<settleable_at>#<sk>` while SETTLEABLE (the
settlement job's input, per distributor with begins_with). Removed on leaving the state:
`DynamoCommissionRepository` derives them from the commission's state on every write.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from layers.domain import commission_debt as debts
from layers.domain import commission_entry as domain
from layers.domain.attribution import Binding, replaces
from layers.domain.commission_entry import Commission, Stats
from layers.domain.distributor import Distributor, Manager, Share, Template
from layers.domain.guide_customers import ended_at
from layers.storage import guide_customers as guided
from layers.storage import queues
from layers.storage.base import Listed, Queued, ShopModel, changed, requeued
from layers.storage.tx import TransactionConflicted, Tx

COMMISSION_DUE = "COMMISSION_DUE"
COMMISSION_SETTLEABLE = "COMMISSION_SETTLEABLE"


class _BindingMoved(Exception):
    """The binding (or the guide's record) changed since it was read."""


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
    debt = NumberAttribute(null=True)  # absent on distributors who never owed
    deducted = NumberAttribute(null=True)


class DebtItem(ShopModel):
    kind = UnicodeAttribute()  # DEBT | DEDUCTION
    distributor_id = UnicodeAttribute()
    amount = NumberAttribute()
    created_at = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    refund_id = UnicodeAttribute(null=True)
    payout_id = UnicodeAttribute(null=True)


class ManagerItem(Listed):
    user_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute(null=True)
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
    settlement_id = UnicodeAttribute(null=True)  # the payout it went into
    settled_at = UnicodeAttribute(null=True)


# -- keys --------------------------------------------------------------------------------

def dist_pk(distributor_id: str) -> str:
    return f"DIST#{distributor_id}"


def commission_sk(commission_id: str) -> str:
    """`COMM#<order_id>`, or `ADJ#<refund_id>` for an adjustment (`adj:<refund_id>`)."""
    if commission_id.startswith("adj:"):
        return "ADJ#" + commission_id.removeprefix("adj:")
    return f"COMM#{commission_id}"


def commission_id_of_sk(sk: str) -> str:
    if sk.startswith("ADJ#"):
        return domain.adjustment_id(sk.removeprefix("ADJ#"))
    return sk.removeprefix("COMM#")


def commission_key(distributor_id: str, commission_id: str) -> tuple[str, str]:
    return dist_pk(distributor_id), commission_sk(commission_id)


def debt_sk(entry: debts.DebtEntry) -> str:
    if entry.kind == debts.DEBT:
        return f"DEBT#R#{entry.refund_id}"
    return f"DEBT#P#{entry.payout_id}"


def to_debt_entry(item: DebtItem) -> debts.DebtEntry:
    entry_id = (debts.debt_id(item.refund_id) if item.kind == debts.DEBT
                else debts.deduction_id(item.payout_id))
    return debts.DebtEntry(distributor_id=item.distributor_id, entry_id=entry_id, kind=item.kind,
                           amount=int(item.amount), created_at=item.created_at, order_id=item.order_id,
                           refund_id=item.refund_id, payout_id=item.payout_id)


def _debt_item(entry: debts.DebtEntry) -> DebtItem:
    e = entry
    return DebtItem(dist_pk(e.distributor_id), debt_sk(e), kind=str(e.kind), distributor_id=e.distributor_id,
                    amount=e.amount, created_at=e.created_at, order_id=e.order_id, refund_id=e.refund_id,
                    payout_id=e.payout_id)


def due_key(distributor_id: str) -> str:
    return queues.key(COMMISSION_DUE, distributor_id)


def settleable_key(distributor_id: str) -> str:
    """One distributor's SETTLEABLE items all sit on one of the 16 keys: one Query finds them."""
    return queues.key(COMMISSION_SETTLEABLE, distributor_id)


def _get(model, pk: str, sk: str, consistent: bool = False):
    try:
        return model.get(pk, sk, consistent_read=consistent)
    except model.DoesNotExist:
        return None


# -- commissions: item <-> Commission -------------------------------------------------------

_FIELDS = [f.name for f in fields(Commission)]
_INTS = {"amount", "accrued", "reversed", "adjusted", "refunded", "paid", "base", "sales_base", "counted", "rev"}


def to_commission(item: CommissionItem) -> Commission:
    values = {}
    for name in _FIELDS:
        value = getattr(item, name)
        if name in _INTS:
            value = int(value or 0)
        values[name] = value
    values["refund_ids"] = frozenset(item.refund_ids or ())
    values["lines"] = tuple(item.lines or ())
    return Commission(**values)


def _attr_value(name: str, value):
    if name == "refund_ids":
        return set(value) if value else None
    if name == "lines":
        return list(value) if value else None
    return value


def _queue(c: Commission) -> tuple[str, str] | None:
    """Where a commission waits on gsi2, from its state: PENDING with a due time (the
    sweep that makes it SETTLEABLE), SETTLEABLE (the settlement's input); nowhere else."""
    if c.status == domain.PENDING and c.settleable_at:
        return due_key(c.distributor_id), f"{c.settleable_at}#{c.distributor_id}#{c.order_id}"
    if c.status == domain.SETTLEABLE:
        sk = commission_sk(c.commission_id)
        return settleable_key(c.distributor_id), f"{c.distributor_id}#{c.settleable_at or c.created_at}#{sk}"
    return None


def to_item(c: Commission) -> CommissionItem:
    """The item of a new commission (also for bulk loads: bench/settlement.py)."""
    values = {name: _attr_value(name, getattr(c, name)) for name in _FIELDS}
    queue = _queue(c)
    return CommissionItem(*commission_key(c.distributor_id, c.commission_id), **values,
                          gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None)


def _at_rev(rev: int):
    if rev == 0:
        return CommissionItem.rev.does_not_exist() | (CommissionItem.rev == 0)
    return CommissionItem.rev == rev


def _stats(item: StatsItem) -> Stats:
    return Stats(**{name: int(getattr(item, name) or 0) for name in domain.STATS_FIELDS})


class DynamoCommissionRepository:
    """`layers.domain.commission_entry.CommissionRepository` on the shop table."""

    def get(self, distributor_id: str, commission_id: str) -> Commission | None:
        item = _get(CommissionItem, *commission_key(distributor_id, commission_id), consistent=True)
        return to_commission(item) if item else None

    def scan_commissions(self):
        """Every accrued commission (not the adjustments), read page by page: for offline
        counts only (a Scan reads the whole table), never on a request path."""
        for item in CommissionItem.scan(CommissionItem.pk.startswith("DIST#") & CommissionItem.sk.startswith("COMM#"),
                                         page_size=500):
            yield to_commission(item)

    def get_many(self, distributor_id: str, commission_ids: list[str]) -> list[Commission]:
        keys = [commission_key(distributor_id, c) for c in dict.fromkeys(commission_ids)]
        found = []
        for start in range(0, len(keys), 100):
            found.extend(CommissionItem.batch_get(keys[start:start + 100], consistent_read=True))
        return [to_commission(i) for i in found]

    def due(self, until_iso: str, limit: int = 100) -> list[Commission]:
        found = queues.merged(COMMISSION_DUE, lambda k: CommissionItem.gsi2.query(
            k, CommissionItem.gsi2sk <= f"{until_iso}#~", limit=limit), lambda i: i.gsi2sk, limit)
        return [to_commission(i) for i in found]

    def settleable(self, distributor_id: str) -> list[Commission]:
        return [to_commission(i) for i in CommissionItem.gsi2.query(
            settleable_key(distributor_id), CommissionItem.gsi2sk.startswith(f"{distributor_id}#"))]

    def distributors_with_settleable(self) -> list[str]:
        seen: dict[str, None] = {}
        for key in queues.all_keys(COMMISSION_SETTLEABLE):
            for item in CommissionItem.gsi2.query(key):
                seen[item.distributor_id] = None
        return list(seen)

    def stats(self, distributor_id: str) -> Stats | None:
        item = _get(StatsItem, dist_pk(distributor_id), "STATS", consistent=True)
        return _stats(item) if item else None

    def stats_many(self, distributor_ids: list[str]) -> dict[str, Stats]:
        keys = [(dist_pk(u), "STATS") for u in dict.fromkeys(distributor_ids)]
        found: dict[str, Stats] = {}
        for start in range(0, len(keys), 100):
            for s in StatsItem.batch_get(keys[start:start + 100]):
                found[s.pk.removeprefix("DIST#")] = _stats(s)
        return found

    def stage_create(self, tx: Tx, commission: Commission, on_exists) -> None:
        tx.put(to_item(commission), condition=CommissionItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx: Tx, before: Commission, after: Commission, on_stale) -> None:
        actions = [*changed(CommissionItem, before, after, [n for n in _FIELDS if n != "rev"], _attr_value),
                   *requeued(CommissionItem, _queue(before), _queue(after)),
                   CommissionItem.rev.set(after.rev)]
        tx.update(CommissionItem(*commission_key(before.distributor_id, before.commission_id)), actions=actions,
                  condition=(CommissionItem.status == before.status) & _at_rev(before.rev), on_fail=on_stale)

    def stage_stats(self, tx: Tx, distributor_id: str, deltas: dict[str, int]) -> None:
        actions = [getattr(StatsItem, name).add(value) for name, value in deltas.items() if value]
        if actions:
            tx.update(StatsItem(dist_pk(distributor_id), "STATS"), actions=actions)

    def stage_debt(self, tx: Tx, entry: debts.DebtEntry, on_exists) -> None:
        if entry.kind != debts.DEBT:
            raise ValueError("stage_debt puts DEBT entries")
        tx.put(_debt_item(entry), condition=DebtItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_deduction(self, tx: Tx, entry: debts.DebtEntry, on_short) -> None:
        if entry.kind != debts.DEDUCTION:
            raise ValueError("stage_deduction puts DEDUCTION entries")
        tx.put(_debt_item(entry), condition=DebtItem.pk.does_not_exist(), on_fail=on_short)
        tx.update(StatsItem(dist_pk(entry.distributor_id), "STATS"),
                  actions=[StatsItem.debt.add(-entry.amount), StatsItem.deducted.add(entry.amount)],
                  condition=StatsItem.debt >= entry.amount, on_fail=on_short)

    def debt_entries(self, distributor_id: str) -> list[debts.DebtEntry]:
        found = DebtItem.query(dist_pk(distributor_id), DebtItem.sk.startswith("DEBT#"), consistent_read=True)
        return sorted((to_debt_entry(i) for i in found), key=lambda e: (e.created_at, e.entry_id))


# -- templates, distributors, managers, shares, bindings ---------------------------------------

def _template(i: TemplateItem) -> Template:
    return Template(i.template_id, i.name, tuple(i.tiers or ()), i.created_at)


def _distributor(i: DistributorItem) -> Distributor:
    return Distributor(user_id=i.user_id, template_id=i.template_id, created_at=i.created_at,
                       updated_at=i.updated_at, manager_id=i.manager_id)


def _manager(i: ManagerItem) -> Manager:
    return Manager(user_id=i.user_id, created_at=i.created_at, name=i.name, template_id=i.template_id)


def _binding(i: BindingItem) -> Binding:
    return Binding(i.customer_id, i.distributor_id, i.bound_at, i.expires_at, i.share_token)


def _manager_profile_actions(manager_id: str, now: str) -> list:
    return [ManagerItem.user_id.set(manager_id),
            ManagerItem.created_at.set(ManagerItem.created_at | now),
            ManagerItem.gsi1pk.set("MANAGERS"),
            ManagerItem.gsi1sk.set(ManagerItem.gsi1sk | f"{now}#{manager_id}")]


class DynamoDistributorRepository:
    """`layers.domain.distributor.DistributorRepository` on the shop table."""

    def get_template(self, template_id: str) -> Template | None:
        item = _get(TemplateItem, f"CTEMPLATE#{template_id}", "TEMPLATE")
        return _template(item) if item else None

    def create_template(self, template: Template) -> None:
        t = template
        TemplateItem(f"CTEMPLATE#{t.template_id}", "TEMPLATE", template_id=t.template_id, name=t.name,
                     tiers=list(t.tiers), created_at=t.created_at, gsi1pk="CTEMPLATES",
                     gsi1sk=f"{t.created_at}#{t.template_id}").save(condition=TemplateItem.pk.does_not_exist())

    def list_templates(self, limit: int, cursor: dict | None):
        result = TemplateItem.gsi1.query("CTEMPLATES", scan_index_forward=False, limit=limit,
                                         last_evaluated_key=cursor)
        return [_template(t) for t in result], result.last_evaluated_key

    def get(self, user_id: str, consistent: bool = False) -> Distributor | None:
        item = _get(DistributorItem, dist_pk(user_id), "PROFILE", consistent)
        return _distributor(item) if item else None

    def get_many(self, user_ids: list[str]) -> dict[str, Distributor]:
        keys = [(dist_pk(u), "PROFILE") for u in dict.fromkeys(user_ids)]
        found: dict[str, Distributor] = {}
        for start in range(0, len(keys), 100):
            for d in DistributorItem.batch_get(keys[start:start + 100]):
                found[d.user_id] = _distributor(d)
        return found

    def list(self, limit: int, cursor: dict | None):
        result = DistributorItem.gsi1.query("DISTRIBUTORS", scan_index_forward=False, limit=limit,
                                            last_evaluated_key=cursor)
        return [_distributor(d) for d in result], result.last_evaluated_key

    def stage_save(self, tx: Tx, distributor: Distributor, previous: Distributor | None, on_stale=None) -> None:
        d = distributor
        condition = None
        if on_stale is not None:  # still as read: absent, or the same group and last change
            condition = (DistributorItem.pk.does_not_exist() if previous is None
                         else (DistributorItem.updated_at == previous.updated_at)
                         & (DistributorItem.template_id == previous.template_id)
                         & (DistributorItem.manager_id.does_not_exist() if previous.manager_id is None
                            else DistributorItem.manager_id == previous.manager_id))
        tx.put(DistributorItem(dist_pk(d.user_id), "PROFILE", user_id=d.user_id, template_id=d.template_id,
                               manager_id=d.manager_id, created_at=d.created_at, updated_at=d.updated_at,
                               gsi1pk="DISTRIBUTORS", gsi1sk=f"{d.created_at}#{d.user_id}"),
               condition=condition, on_fail=on_stale)
        old_manager = previous.manager_id if previous else None
        if old_manager and old_manager != d.manager_id:
            tx.delete(MemberItem(f"MANAGER#{old_manager}", dist_pk(d.user_id)))
        if d.manager_id:
            tx.put(MemberItem(f"MANAGER#{d.manager_id}", dist_pk(d.user_id), manager_id=d.manager_id,
                              distributor_id=d.user_id, created_at=d.updated_at))
            tx.update(ManagerItem(f"MANAGER#{d.manager_id}", "PROFILE"),
                      actions=_manager_profile_actions(d.manager_id, d.updated_at))

    def get_manager(self, user_id: str) -> Manager | None:
        item = _get(ManagerItem, f"MANAGER#{user_id}", "PROFILE")
        return _manager(item) if item else None

    def upsert_manager(self, user_id: str, name: str | None, now: str, template_id: str | None = None) -> Manager:
        item = ManagerItem(f"MANAGER#{user_id}", "PROFILE")
        # UpdateItem answers ALL_NEW: the item holds the stored values afterwards.
        item.update(actions=[*_manager_profile_actions(user_id, now),
                             *([ManagerItem.name.set(name)] if name else []),
                             *([ManagerItem.template_id.set(template_id)] if template_id else [])])
        return _manager(item)

    def list_managers(self, limit: int, cursor: dict | None):
        """gsi1 `MANAGERS`, newest first (the index every manager profile is on)."""
        result = ManagerItem.gsi1.query("MANAGERS", scan_index_forward=False, limit=limit,
                                        last_evaluated_key=cursor)
        return [_manager(i) for i in result], result.last_evaluated_key

    def group(self, manager_id: str, limit: int, cursor: dict | None):
        result = MemberItem.query(f"MANAGER#{manager_id}", MemberItem.sk.startswith("DIST#"),
                                  limit=limit, last_evaluated_key=cursor, consistent_read=True)
        return [m.distributor_id for m in result], result.last_evaluated_key

    def create_share(self, share: Share) -> None:
        s = share
        ShareItem(f"SHARE#{s.token}", "SHARE", token=s.token, distributor_id=s.distributor_id,
                  product_id=s.product_id, created_at=s.created_at).save(condition=ShareItem.pk.does_not_exist())

    def get_share(self, token: str) -> Share | None:
        item = _get(ShareItem, f"SHARE#{token}", "SHARE")
        return Share(item.token, item.distributor_id, item.created_at, item.product_id) if item else None

    def get_binding(self, customer_id: str) -> Binding | None:
        item = _get(BindingItem, f"BIND#{customer_id}", "BIND", consistent=True)
        return _binding(item) if item else None

    def put_binding(self, binding: Binding, ttl_epoch: int, attempts: int = 10) -> bool:
        """Last touch, with the guide's record of it (layers/storage/guide_customers.py) in
        the same transaction: the binding is written conditioned on the one just read, so
        the previous guide whose binding it ends is the one that held it."""
        b = binding
        item = BindingItem(f"BIND#{b.customer_id}", "BIND", customer_id=b.customer_id,
                           distributor_id=b.distributor_id, share_token=b.share_token, bound_at=b.bound_at,
                           expires_at=b.expires_at, ttl=ttl_epoch,
                           gsi1pk=f"DIST#{b.distributor_id}#CUSTOMERS", gsi1sk=f"{b.expires_at}#{b.customer_id}")
        for _ in range(attempts):
            previous = self.get_binding(b.customer_id)
            if not replaces(previous, b.bound_at):
                return False  # the stored binding is from a later touch
            if previous is None:
                condition = BindingItem.pk.does_not_exist()
            else:
                condition = ((BindingItem.bound_at == previous.bound_at)
                             & (BindingItem.distributor_id == previous.distributor_id))
            tx = Tx()
            tx.put(item, condition=condition, on_fail=_BindingMoved)
            guided.stage_bound(tx, b, on_later=_BindingMoved)
            moved_at = ended_at(previous, b)
            if moved_at is not None:
                guided.stage_ended(tx, previous, moved_at)
            try:
                tx.commit()
            except _BindingMoved:
                continue  # another touch came in between: read again, decide again
            return True
        raise TransactionConflicted("busy; try again in a moment")

    def count_customers(self, distributor_id: str, now: str) -> int:
        return BindingItem.gsi1.count(f"DIST#{distributor_id}#CUSTOMERS", BindingItem.gsi1sk > f"{now}#")



# -- the placement reader (layers/storage/placement.py) reads a binding in its batch --

def binding_key(customer_id: str) -> tuple[str, str]:
    return f"BIND#{customer_id}", "BIND"


def to_binding(item: BindingItem) -> Binding:
    return _binding(item)
