"""Distribution: shares, bindings, attribution of orders, commissions and their totals.

Decisions (see layers/domain/commission.py and attribution.py for the rules themselves):
- Share tokens are random (128 bits) and stored, not HMACs: the token has to lead to the
  sharer anyway, and a user id plus a MAC does not fit the 32 characters of a wxacode
  scene, so a lookup is needed either way; a stored token also carries its product and
  can be listed or revoked. A token that is not in the table is 404 and binds nothing.
- An order placed with someone else's genuine share token counts for that sharer AND binds
  the buyer to them, as opening the share would have (the order proves the touch). An
  own, unknown or forged token on an order is ignored as if absent: the order still counts
  for the buyer's current binding, if any; never for the buyer.
- The tier rate of an order is the tier the distributor's sales reached BEFORE this
  order; the order that crosses a threshold counts toward it, the next one earns the new
  rate. (Two orders accrued at the same instant may both see the old tier.)
- Sales (tier thresholds, dashboard) = attributed paid orders not fully refunded: the
  count, and their goods after discount net of refunds (proportionally), in fen.
- Commission per order is accrued once on `order.paid` from the order itself (so events
  arriving out of order are fine: completion or a refund seen first accrues it first).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers import clock, events
from layers.domain import attribution, errors
from layers.domain import commission as rules
from layers.observability import logger
from layers.storage import catalog
from layers.storage import distribution as store
from layers.storage import orders as order_store
from layers.storage.distribution import CommissionItem, TemplateItem
from layers.storage.tx import TransactionConflicted, Tx
from layers.storage.users import get_user

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CSV_MAX_ROWS = 10_000


# -- inputs -----------------------------------------------------------------------------------

class TierInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    rate_bps: int = Field(ge=0, le=10_000)
    min_sales_count: int | None = Field(None, ge=0, le=10_000_000)
    min_sales_amount: int | None = Field(None, ge=0, le=10**13)


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    tiers: list[TierInput] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_names(self):
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self


class DistributorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=64)
    template_id: str = Field(min_length=1, max_length=64)
    manager_id: str | None = Field(None, min_length=1, max_length=64)


class ManagerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(None, max_length=100)


class ShareInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str | None = Field(None, min_length=1, max_length=64)


# -- templates, distributors, managers (operators) -------------------------------------------------

def template_view(t: TemplateItem) -> dict:
    return {"id": t.template_id, "name": t.name, "tiers": t.tiers, "created_at": t.created_at}


def create_template(body: TemplateInput) -> dict:
    tiers = [rules.Tier(t.name, t.rate_bps, t.min_sales_count or 0, t.min_sales_amount or 0).as_dict()
             for t in body.tiers]
    item = store.put_template(catalog.new_id("ct"), body.name, tiers, clock.now_iso())
    return template_view(item)


def list_templates(limit: int, cursor: dict | None):
    items, next_key = store.list_templates(limit, cursor)
    return [template_view(t) for t in items], next_key


def make_distributor(body: DistributorInput) -> tuple[dict, bool]:
    """Make a shopper a distributor (or change their template or manager). True if new."""
    if get_user(body.user_id) is None:
        raise errors.NotFound("no such shopper")
    if store.get_template(body.template_id) is None:
        raise errors.NotFound("no such commission template")
    if body.manager_id and get_user(body.manager_id) is None:
        raise errors.NotFound("no such manager (a manager is a shopper's user id)")
    previous = store.get_distributor(body.user_id, consistent=True)
    item = store.save_distributor(body.user_id, body.template_id, body.manager_id, clock.now_iso(), previous)
    return _views([item])[0], previous is None


def add_manager(body: ManagerInput) -> dict:
    if get_user(body.user_id) is None:
        raise errors.NotFound("no such shopper")
    item = store.upsert_manager(body.user_id, body.name, clock.now_iso())
    item.refresh()
    return {"id": item.user_id, "user_id": item.user_id, "name": item.name, "created_at": item.created_at}


def _views(items: list[store.DistributorItem]) -> list[dict]:
    now = clock.now_iso()
    stats = store.get_stats([d.user_id for d in items])
    templates: dict[str, TemplateItem | None] = {}
    out = []
    for d in items:
        if d.template_id not in templates:
            templates[d.template_id] = store.get_template(d.template_id)
        body = _figures(d, stats.get(d.user_id), templates[d.template_id], now)
        out.append({"id": d.user_id, "user_id": d.user_id, "template_id": d.template_id,
                    "manager_id": d.manager_id, "created_at": d.created_at, **body})
    return out


def _figures(d: store.DistributorItem, stats: store.StatsItem | None, template: TemplateItem | None,
             now: str) -> dict:
    count = int(stats.sales_count) if stats else 0
    amount = int(stats.sales_amount) if stats else 0
    tier = rules.choose_tier(rules.tiers_from(template.tiers) if template else [], count, amount)
    return {
        "tier": {"name": tier.name or None, "rate_bps": tier.rate_bps},
        "sales_count": count,
        "sales_amount": amount,
        "commissions": {name: int(getattr(stats, name)) if stats else 0
                        for name in ("pending", "settleable", "settled", "reversed")},
        "customers": store.count_customers(d.user_id, now),
    }


def get_distributor(distributor_id: str) -> dict:
    item = store.get_distributor(distributor_id)
    if item is None:
        raise errors.NotFound("no such distributor")
    return _views([item])[0]


def list_all(limit: int, cursor: dict | None):
    items, next_key = store.list_distributors(limit, cursor)
    return _views(items), next_key


def list_group(manager_id: str, limit: int, cursor: dict | None):
    ids, next_key = store.list_group(manager_id, limit, cursor)
    found = store.get_distributors(ids)
    # Still in the group: a member item whose distributor moved away meanwhile is skipped.
    items = [found[i] for i in ids if i in found and found[i].manager_id == manager_id]
    return _views(items), next_key


def list_group_for_manager(caller_id: str, limit: int, cursor: dict | None):
    """A manager's own group and no one else's; 403 for a caller who manages nobody."""
    if store.get_manager(caller_id) is None:
        raise errors.Forbidden("only a distributor manager may see a group")
    return list_group(caller_id, limit, cursor)


def all_rows(lister, *args) -> list[dict]:
    """Every row of a paged listing (CSV exports), up to CSV_MAX_ROWS."""
    rows: list[dict] = []
    cursor = None
    while len(rows) < CSV_MAX_ROWS:
        items, cursor = lister(*args, 100, cursor)
        rows.extend(items)
        if not cursor:
            break
    return rows[:CSV_MAX_ROWS]


CSV_COLUMNS = ("id", "manager_id", "template_id", "tier_name", "tier_rate_bps", "sales_count",
               "sales_amount", "pending", "settleable", "settled", "reversed", "customers", "created_at")


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(v) for v in (
            r["id"], r["manager_id"], r["template_id"], r["tier"]["name"], r["tier"]["rate_bps"],
            r["sales_count"], r["sales_amount"], *(r["commissions"][k] for k in
                                                   ("pending", "settleable", "settled", "reversed")),
            r["customers"], r["created_at"])])
    return out.getvalue()


def _cell(value):
    # A text cell starting like a formula would run in a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


# -- shares, visits, bindings ------------------------------------------------------------------------

def create_share(user_id: str, body: ShareInput) -> dict:
    if store.get_distributor(user_id) is None:
        raise errors.Forbidden("only a distributor may share")
    if body.product_id is not None:
        product = catalog.get_product(body.product_id)
        if product is None or not product.active:
            raise errors.NotFound("no such product")
    token = store.new_share_token()
    store.put_share(token, user_id, body.product_id, clock.now_iso())
    path = (f"pages/product/index?id={body.product_id}&s={token}" if body.product_id
            else f"pages/index/index?s={token}")
    return {"share_token": token, "path": path, "scene": f"s={token}", "product_id": body.product_id}


def _genuine_sharer(token: str | None) -> str | None:
    """The sharer of a token that exists and whose sharer is still a distributor."""
    if not token or not TOKEN_RE.match(token):
        return None
    share = store.get_share(token)
    if share is None or store.get_distributor(share.distributor_id) is None:
        return None
    return share.distributor_id


def visit(user_id: str, token: str) -> None:
    sharer = _genuine_sharer(token)
    if sharer is None:
        raise errors.NotFound("no such share")
    _bind(user_id, sharer, token, clock.now_iso())


def _bind(customer_id: str, sharer_id: str, token: str | None, now: str) -> bool:
    ttl_s = catalog.load_settings().share_binding_ttl_s
    if not attribution.binds(customer_id, sharer_id, ttl_s):
        return False
    expires = clock.parse_iso(now) + timedelta(seconds=ttl_s)
    bound = store.put_binding(customer_id, sharer_id, token, now, clock.iso(expires),
                              ttl_epoch=int(expires.timestamp()) + 86_400)
    if bound:
        logger.info("customer bound", extra={"distributor_id": sharer_id, "expires_at": clock.iso(expires)})
    return bound


def current_binding(customer_id: str) -> attribution.Binding | None:
    item = store.get_binding(customer_id)
    if item is None:
        return None
    return attribution.Binding(item.customer_id, item.distributor_id, item.bound_at, item.expires_at)


def distributor_for_order(user_id: str, share_token: str | None, now: str) -> str | None:
    """Who an order placed now by `user_id` counts for (called by orders.create_order)."""
    sharer = _genuine_sharer(share_token)
    if sharer is not None and sharer != user_id:
        _bind(user_id, sharer, share_token, now)
    return attribution.attribute(user_id, sharer, current_binding(user_id), now)


# -- dashboard -------------------------------------------------------------------------------------

def dashboard(user_id: str) -> dict:
    d = store.get_distributor(user_id)
    if d is None:
        raise errors.Forbidden("the caller is not a distributor")
    template = store.get_template(d.template_id)
    return _figures(d, store.get_stats_one(user_id), template, clock.now_iso())


# -- commissions -------------------------------------------------------------------------------------

class _Exists(Exception):
    pass


class _Changed(Exception):
    pass


ATTEMPTS = 10


def accrue(order_id: str) -> CommissionItem | None:
    """The order's commission, accrued PENDING once (None if the order earns nobody one)."""
    order = order_store.get_order(order_id, consistent=True)
    if order is None or not order.distributor_id or not order.transaction_id:
        return None
    did = order.distributor_id
    if did == order.user_id:
        return None  # never on one's own purchase (attribution already prevents it)
    existing = store.get_commission(did, order_id)
    if existing is not None:
        return existing
    profile = store.get_distributor(did)
    template = store.get_template(profile.template_id) if profile else None
    stats = store.get_stats_one(did)
    tier = rules.choose_tier(rules.tiers_from(template.tiers) if template else [],
                             int(stats.sales_count) if stats else 0, int(stats.sales_amount) if stats else 0)
    discount = int(order.amounts.get("discount") or 0)
    lines = rules.order_commission(order.items, discount, tier.rate_bps)
    accrued = sum(ln.amount for ln in lines)
    base = sum(ln.base for ln in lines)
    paid = int(order.paid_amount or order.amounts["payable"])
    now = clock.now_iso()
    item = CommissionItem(
        *store.commission_key(did, order_id), kind=store.COMMISSION, commission_id=order_id,
        distributor_id=did, order_id=order_id, buyer_id=order.user_id, status=store.PENDING,
        amount=accrued, accrued=accrued, paid=paid, base=base, sales_base=base, counted=1,
        lines=[{"sku_id": ln.sku_id, "base": ln.base, "rate_bps": ln.rate_bps, "amount": ln.amount}
               for ln in lines],
        tier={"name": tier.name or None, "rate_bps": tier.rate_bps}, rev=0, created_at=now, updated_at=now,
    )
    tx = Tx()
    tx.put(item, condition=CommissionItem.pk.does_not_exist(), on_fail=_Exists)
    tx.update(store.stats_ref(did), actions=store.stats_actions(
        {"sales_count": 1, "sales_amount": base, "pending": accrued}))
    try:
        tx.commit()
    except _Exists:
        return store.get_commission(did, order_id)
    logger.info("commission accrued", extra={"order_id": order_id, "distributor_id": did, "amount": accrued})
    return store.get_commission(did, order_id)


@events.on("order.paid")
def on_order_paid(event_id: str, payload: dict) -> None:
    accrue(payload["order_id"])


def _commission_of(order_id: str) -> CommissionItem | None:
    order = order_store.get_order(order_id, consistent=True)
    if order is None or not order.distributor_id:
        return None
    return store.get_commission(order.distributor_id, order_id) or accrue(order_id)


@events.on("order.completed")
def on_order_completed(event_id: str, payload: dict) -> None:
    """Start the freeze: settleable at completed_at + commission_freeze_s."""
    order_id = payload["order_id"]
    freeze = catalog.load_settings().commission_freeze_s
    for _ in range(ATTEMPTS):
        item = _commission_of(order_id)
        if item is None or item.status != store.PENDING or item.settleable_at:
            return
        completed_at = payload.get("completed_at") or clock.now_iso()
        due = clock.iso(clock.parse_iso(completed_at) + timedelta(seconds=freeze))
        tx = Tx()
        tx.update(item, actions=[
            CommissionItem.completed_at.set(completed_at), CommissionItem.settleable_at.set(due),
            CommissionItem.gsi2pk.set(store.due_key(item.distributor_id)),
            CommissionItem.gsi2sk.set(f"{due}#{item.distributor_id}#{order_id}"),
            CommissionItem.rev.add(1), CommissionItem.updated_at.set(clock.now_iso()),
        ], condition=store.unchanged(item), on_fail=_Changed)
        try:
            tx.commit()
            return
        except _Changed:
            continue
    raise TransactionConflicted(f"commission of {order_id} kept changing")


@events.on("order.refunded")
def on_order_refunded(event_id: str, payload: dict) -> None:
    """Take back the refunded part, once per refund_id: before payout from the commission
    itself, after payout (SETTLING/SETTLED) as a negative ADJUSTMENT netted off later."""
    order_id, refund_id, amount = payload["order_id"], payload["refund_id"], int(payload["amount"])
    for _ in range(ATTEMPTS):
        item = _commission_of(order_id)
        if item is None or refund_id in (item.refund_ids or set()):
            return
        try:
            _reverse(item, refund_id, amount, int(payload.get("refunded_total") or 0))
            return
        except _Changed:
            continue
    raise TransactionConflicted(f"commission of {order_id} kept changing")


def _reverse(item: CommissionItem, refund_id: str, amount: int, reported_total: int) -> None:
    now = clock.now_iso()
    paid = int(item.paid)
    refunded = max(int(item.refunded) + amount, reported_total)
    taken = rules.reversal(int(item.accrued), int(item.reversed) + int(item.adjusted), paid, refunded)
    fully = refunded >= paid
    sales_base = rules.base_after_refunds(int(item.base), paid, refunded)
    uncount = 1 if fully and int(item.counted) else 0
    stats = {"sales_amount": sales_base - int(item.sales_base), "sales_count": -uncount}
    actions = [
        CommissionItem.refunded.set(refunded), CommissionItem.refund_ids.add({refund_id}),
        CommissionItem.sales_base.set(sales_base), CommissionItem.counted.set(int(item.counted) - uncount),
        CommissionItem.rev.add(1), CommissionItem.updated_at.set(now),
    ]
    tx = Tx()
    if item.status in (store.PENDING, store.SETTLEABLE):
        actions += [CommissionItem.amount.add(-taken), CommissionItem.reversed.add(taken)]
        if fully and int(item.amount) - taken == 0:
            actions += [CommissionItem.status.set(store.REVERSED), CommissionItem.gsi2pk.remove(),
                        CommissionItem.gsi2sk.remove()]
        stats.update({store.BUCKET[item.status]: -taken, "reversed": taken})
    elif item.status in (store.SETTLING, store.SETTLED):
        actions += [CommissionItem.adjusted.add(taken)]
        if taken:
            adj = CommissionItem(
                *store.adjustment_key(item.distributor_id, refund_id), kind=store.ADJUSTMENT,
                commission_id=f"adj:{refund_id}", distributor_id=item.distributor_id, order_id=item.order_id,
                refund_id=refund_id, buyer_id=item.buyer_id, status=store.SETTLEABLE, amount=-taken,
                rev=0, created_at=now, updated_at=now, settleable_at=now,
                gsi2pk=store.settleable_key(item.distributor_id))
            adj.gsi2sk = store.settleable_queue_sk(adj)
            tx.put(adj, condition=CommissionItem.pk.does_not_exist(), on_fail=_Changed)
            stats.update({"settleable": -taken, "reversed": taken})
    # REVERSED: nothing left to take; the refund is still recorded (sales figures, idempotency).
    tx.update(item, actions=actions, condition=store.unchanged(item), on_fail=_Changed)
    if any(stats.values()):
        tx.update(store.stats_ref(item.distributor_id), actions=store.stats_actions(stats))
    tx.commit()
    logger.info("commission reversed", extra={"order_id": item.order_id, "refund_id": refund_id,
                                              "taken": taken, "status": item.status})


def make_due_settleable(now: str | datetime | None = None, limit: int = 500) -> dict:
    """The sweep: PENDING commissions whose freeze is over become SETTLEABLE."""
    if now is None:
        now = clock.now()
    now_iso = now if isinstance(now, str) else clock.iso(now)
    moved = skipped = 0
    for candidate in store.due_commissions(now_iso, limit=limit):
        item = store.get_commission(candidate.distributor_id, candidate.order_id)
        if (item is None or item.status != store.PENDING or not item.settleable_at
                or item.settleable_at > now_iso):
            skipped += 1
            continue
        tx = Tx()
        store.transition(tx, item, store.SETTLEABLE, now_iso, on_fail=_Changed)
        try:
            tx.commit()
            moved += 1
        except _Changed:
            skipped += 1  # changed meanwhile (a refund): the next run looks again
    return {"settleable": moved, "skipped": skipped}


def list_settleable(distributor_id: str) -> list[CommissionItem]:
    """For the settlement (issue 9): the distributor's SETTLEABLE commissions and negative
    adjustments, as read (move each with `storage.distribution.transition`, conditioned on
    what was read). Their sum may be <= 0: then nothing is paid and all stay SETTLEABLE."""
    return [i for i in store.settleable_for(distributor_id) if i.status == store.SETTLEABLE]
