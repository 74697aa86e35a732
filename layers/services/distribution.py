"""Distribution: shares, bindings, attribution of orders, commissions and their totals.

Decisions (the rules themselves: layers/domain/commission.py, attribution.py,
distributor.py, commission_entry.py):
- A share token that is not stored is 404 and binds nothing.
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

Every commission change is written conditioned on the status and rev it was decided
from; when that fails, the commission is read again and the domain asked again.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from layers.clock import iso, parse_iso
from layers.domain import attribution, errors
from layers.domain import commission as rules
from layers.domain import commission_entry as cm
from layers.domain import distributor as dd
from layers.domain.commission_entry import Commission, CommissionRepository, Stats
from layers.domain.distributor import Distributor, DistributorRepository, Share, Template
from layers.domain.order import Event, OrderRepository
from layers.domain.users import UserRepository
from layers.observability import logger

CSV_MAX_ROWS = 10_000
# The distributor's commission figures (fen): `debt` is owed back after refunds of paid
# commissions and deducted first from the next settlement; `deducted` what payouts took.
COMMISSION_FIGURES = ("pending", "settleable", "settled", "reversed", "debt", "deducted")
ATTEMPTS = 10
REACH = ("shares", "visits", "visitors")

CSV_COLUMNS = ("id", "manager_id", "template_id", "tier_name", "tier_rate_bps", "sales_count",
               "sales_amount", "pending", "settleable", "settled", "reversed", "debt", "deducted", "customers",
               "created_at")


class _Stale(Exception):
    """A write's condition failed: what it was decided from has changed."""


class _Exists(Exception):
    pass


def manager_view(m) -> dict:
    return {"id": m.user_id, "user_id": m.user_id, "name": m.name, "template_id": m.template_id,
            "created_at": m.created_at}


def _beijing_day(at: str) -> str:
    # Beijing keeps UTC+8 all year (no summer time): no zone database needed on this path.
    return (parse_iso(at) + timedelta(hours=8)).date().isoformat()


def template_view(t: Template) -> dict:
    return {"id": t.template_id, "name": t.name, "tiers": list(t.tiers), "created_at": t.created_at}


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(v) for v in (
            r["id"], r["manager_id"], r["template_id"], r["tier"]["name"], r["tier"]["rate_bps"],
            r["sales_count"], r["sales_amount"], *(r["commissions"][k] for k in COMMISSION_FIGURES),
            r["customers"], r["created_at"])])
    return out.getvalue()


def _cell(value):
    # A text cell starting like a formula would run in a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


class DistributionService:
    """Shares, visits and attribution (shoppers), the dashboard, managers' groups, the
    operators' templates and distributors, and the commission lifecycle up to SETTLEABLE.

    `shop_settings` loads the shop's rules (`load_settings(fresh=False) -> ShopSettings`:
    share_binding_ttl_s, commission_freeze_s); `users` finds shoppers;
    `products` finds a product (`get_product(id)` with `.active`); `pool` (optional)
    refuses a share outside the promotion pool (`check_share(product_id)`,
    layers/services/distribution_pool.py)."""

    def __init__(self, *, distributors: DistributorRepository, commissions: CommissionRepository,
                 orders: OrderRepository, users: UserRepository, products: dd.Products, shop_settings,
                 clock, new_tx, pool=None, events=None, reach=None):
        self.distributors = distributors
        self.commissions = commissions
        self.orders = orders
        self.users = users
        self.products = products
        self.shop_settings = shop_settings
        self.clock = clock
        self.new_tx = new_tx
        self.pool = pool
        # `events(Event)`: writes it to the outbox and publishes it (the share and visit facts
        # analytics counts); `reach(ids)`: {guide: all-time shares, visits, visitors}.
        self.events = events
        self.reach = reach

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- templates, distributors, managers (operators) ----------------------------------------

    def create_template(self, body: Any) -> dict:
        """`body`: the route's CommissionTemplateInput (functions/schemas.py)."""
        rules.check_rate_cap([t.rate_bps for t in body.tiers],
                             self.shop_settings.load_settings(fresh=True).max_commission_bps)
        tiers = tuple(rules.Tier(t.name, t.rate_bps, t.min_sales_count or 0, t.min_sales_amount or 0).as_dict()
                      for t in body.tiers)
        template = Template(dd.new_template_id(), body.name, tiers, self._now())
        self.distributors.create_template(template)
        return template_view(template)

    def list_templates(self, limit: int, cursor: dict | None):
        items, next_key = self.distributors.list_templates(limit, cursor)
        return [template_view(t) for t in items], next_key

    def make_distributor(self, body: Any) -> tuple[dict, bool]:
        """Make a shopper a distributor (or change their template or manager). True if new.
        `body`: the route's DistributorInput."""
        if self.users.get_user(body.user_id) is None:
            raise errors.NotFound("no such shopper")
        if self.distributors.get_template(body.template_id) is None:
            raise errors.NotFound("no such commission template")
        if body.manager_id and self.users.get_user(body.manager_id) is None:
            raise errors.NotFound("no such manager (a manager is a shopper's user id)")
        previous = self.distributors.get(body.user_id, consistent=True)
        now = self._now()
        d = Distributor(user_id=body.user_id, template_id=body.template_id,
                        created_at=previous.created_at if previous else now, updated_at=now,
                        manager_id=body.manager_id)
        tx = self.new_tx()
        self.distributors.stage_save(tx, d, previous)
        tx.commit()
        return self._views([d])[0], previous is None

    def add_manager(self, body: Any) -> dict:
        """`body`: the route's ManagerInput. `template_id` (kept when not given): what the
        guides the manager adds get; 422 UNKNOWN_TEMPLATE for no such template."""
        if self.users.get_user(body.user_id) is None:
            raise errors.NotFound("no such shopper")
        template_id = getattr(body, "template_id", None)
        if template_id and self.distributors.get_template(template_id) is None:
            raise errors.UnknownTemplate("no such commission template")
        m = self.distributors.upsert_manager(body.user_id, body.name, self._now(), template_id)
        return manager_view(m)

    def list_managers(self, limit: int, cursor: dict | None):
        """the managers, newest first, as `add_manager` answers them."""
        items, next_key = self.distributors.list_managers(limit, cursor)
        return [manager_view(m) for m in items], next_key

    def get_manager(self, manager_id: str) -> dict | None:
        m = self.distributors.get_manager(manager_id)
        return None if m is None else manager_view(m)

    def view(self, distributor: Distributor) -> dict:
        """A distributor as the API answers one, with their figures."""
        return self._views([distributor])[0]

    def _reach(self, ids: list[str]) -> dict[str, dict]:
        if self.reach is None or not ids:
            return {}
        return self.reach(ids)

    def _views(self, items: list[Distributor]) -> list[dict]:
        now = self._now()
        stats = self.commissions.stats_many([d.user_id for d in items])
        reach = self._reach([d.user_id for d in items])
        templates: dict[str, Template | None] = {}
        out = []
        for d in items:
            if d.template_id not in templates:
                templates[d.template_id] = self.distributors.get_template(d.template_id)
            body = self._figures(d, stats.get(d.user_id), templates[d.template_id], now, reach.get(d.user_id))
            out.append({"id": d.user_id, "user_id": d.user_id, "template_id": d.template_id,
                        "manager_id": d.manager_id, "created_at": d.created_at, **body})
        return out

    def _figures(self, d: Distributor, stats: Stats | None, template: Template | None, now: str,
                 reach: dict | None = None) -> dict:
        stats = stats or Stats()
        tier = rules.choose_tier(rules.tiers_from(list(template.tiers)) if template else [],
                                 stats.sales_count, stats.sales_amount)
        return {
            "tier": {"name": tier.name or None, "rate_bps": tier.rate_bps},
            "sales_count": stats.sales_count,
            "sales_amount": stats.sales_amount,
            "commissions": {name: getattr(stats, name) for name in COMMISSION_FIGURES},
            "customers": self.distributors.count_customers(d.user_id, now),
            # All-time shares, opened shares and distinct openers (analytics' counters, a
            # moment behind the requests).
            **{name: int((reach or {}).get(name, 0)) for name in REACH},
        }

    def get_distributor(self, distributor_id: str) -> dict:
        d = self.distributors.get(distributor_id)
        if d is None:
            raise errors.NotFound("no such distributor")
        return self._views([d])[0]

    def list_all(self, limit: int, cursor: dict | None):
        items, next_key = self.distributors.list(limit, cursor)
        return self._views(items), next_key

    def list_group(self, manager_id: str, limit: int, cursor: dict | None):
        ids, next_key = self.distributors.group(manager_id, limit, cursor)
        found = self.distributors.get_many(ids)
        # Still in the group: a member item whose distributor moved away meanwhile is skipped.
        items = [found[i] for i in ids if i in found and found[i].manager_id == manager_id]
        return self._views(items), next_key

    def list_group_for_manager(self, caller_id: str, limit: int, cursor: dict | None):
        """A manager's own group and no one else's; 403 for a caller who manages nobody."""
        if self.distributors.get_manager(caller_id) is None:
            raise errors.Forbidden("only a distributor manager may see a group")
        return self.list_group(caller_id, limit, cursor)

    @staticmethod
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

    to_csv = staticmethod(to_csv)

    # -- shares, visits, bindings ----------------------------------------------------------------

    def create_share(self, user_id: str, body: Any) -> dict:
        """`body`: the route's ShareInput."""
        if self.distributors.get(user_id) is None:
            raise errors.Forbidden("only a distributor may share")
        if body.product_id is not None:
            product = self.products.get_product(body.product_id)
            if product is None or not product.active:
                raise errors.NotFound("no such product")
            if self.pool is not None:
                self.pool.check_share(body.product_id)
        token = dd.new_share_token()
        now = self._now()
        self.distributors.create_share(Share(token, user_id, now, body.product_id))
        self._emit(Event("share.created", token, {"distributor_id": user_id, "at": now}))
        path = (f"pages/product/index?id={body.product_id}&s={token}" if body.product_id
                else f"pages/index/index?s={token}")
        return {"share_token": token, "path": path, "scene": f"s={token}", "product_id": body.product_id}

    def _genuine_sharer(self, token: str | None) -> str | None:
        """The sharer of a token that exists and whose sharer is still a distributor."""
        if not dd.well_formed_token(token):
            return None
        share = self.distributors.get_share(token)
        if share is None or self.distributors.get(share.distributor_id) is None:
            return None
        return share.distributor_id

    def visit(self, user_id: str, token: str, key: str | None = None) -> None:
        """An opened share: binds, and is a visit of the sharer's (not their own opening).
        One visit per `key` (the call's Idempotency-Key: the mini-program's page open);
        without one, one per share, visitor and Beijing day, so a retried call never
        counts twice."""
        sharer = self._genuine_sharer(token)
        if sharer is None:
            raise errors.NotFound("no such share")
        now = self._now()
        self._bind(user_id, sharer, token, now)
        if sharer != user_id:
            subject = f"{token}#{user_id}#{key if key is not None else _beijing_day(now)}"
            self._emit(Event("share.visited", subject, {"distributor_id": sharer, "visitor_id": user_id, "at": now}))

    def _emit(self, event: Event) -> None:
        if self.events is not None:
            self.events(event)

    def _bind(self, customer_id: str, sharer_id: str, token: str | None, now: str) -> bool:
        ttl_s = self.shop_settings.load_settings().share_binding_ttl_s
        if not attribution.binds(customer_id, sharer_id, ttl_s):
            return False
        expires = parse_iso(now) + timedelta(seconds=ttl_s)
        binding = attribution.Binding(customer_id, sharer_id, now, iso(expires), token)
        bound = self.distributors.put_binding(binding, ttl_epoch=int(expires.timestamp()) + 86_400)
        if bound:
            logger.info("customer bound", extra={"distributor_id": sharer_id, "expires_at": binding.expires_at})
        return bound

    def current_binding(self, customer_id: str) -> attribution.Binding | None:
        return self.distributors.get_binding(customer_id)

    def distributor_for_order(self, user_id: str, share_token: str | None, now: str, binding=...) -> str | None:
        """Who an order placed now by `user_id` counts for (OrderService's attribution).
        `binding`: the shopper's binding as the caller already read it, else read here."""
        sharer = self._genuine_sharer(share_token)
        if sharer is not None and sharer != user_id:
            self._bind(user_id, sharer, share_token, now)
            return sharer  # a genuine token wins over any binding (attribution.attribute)
        if binding is ...:
            binding = self.current_binding(user_id)
        return attribution.attribute(user_id, sharer, binding, now)

    # -- dashboard ---------------------------------------------------------------------------------

    def dashboard(self, user_id: str) -> dict:
        d = self.distributors.get(user_id)
        if d is None:
            raise errors.Forbidden("the caller is not a distributor")
        template = self.distributors.get_template(d.template_id)
        return self._figures(d, self.commissions.stats(user_id), template, self._now(),
                             self._reach([user_id]).get(user_id))

    # -- commissions: event consumers ----------------------------------------------------------------

    def accrue(self, order_id: str) -> Commission | None:
        """The order's commission, accrued PENDING once (None if the order earns nobody one)."""
        order = self.orders.get(order_id, consistent=True)
        if order is None or not order.distributor_id or not order.paid_at:
            return None
        did = order.distributor_id
        if did == order.user_id:
            return None  # never on one's own purchase (attribution already prevents it)
        existing = self.commissions.get(did, order_id)
        if existing is not None:
            return existing
        profile = self.distributors.get(did)
        template = self.distributors.get_template(profile.template_id) if profile else None
        stats = self.commissions.stats(did) or Stats()
        tier = rules.choose_tier(rules.tiers_from(list(template.tiers)) if template else [],
                                 stats.sales_count, stats.sales_amount)
        change = cm.accrue(order, tier, self._now())
        if change is None:
            return None
        tx = self.new_tx()
        self.commissions.stage_create(tx, change.after, on_exists=_Exists)
        self.commissions.stage_stats(tx, did, change.stats)
        try:
            tx.commit()
        except _Exists:
            return self.commissions.get(did, order_id)
        logger.info("commission accrued", extra={"order_id": order_id, "distributor_id": did,
                                                 "amount": change.after.amount})
        return change.after

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`."""
        self.accrue(payload["order_id"])

    def _commission_of(self, order_id: str) -> Commission | None:
        order = self.orders.get(order_id, consistent=True)
        if order is None or not order.distributor_id:
            return None
        return self.commissions.get(order.distributor_id, order_id) or self.accrue(order_id)

    def _write(self, change: cm.Change) -> None:
        tx = self.new_tx()
        for created in change.creates:
            self.commissions.stage_create(tx, created, on_exists=_Stale)
        if change.debt is not None:
            self.commissions.stage_debt(tx, change.debt, on_exists=_Stale)
        self.commissions.stage_change(tx, change.before, change.after, on_stale=_Stale)
        self.commissions.stage_stats(tx, change.after.distributor_id, change.stats)
        tx.commit()

    def on_order_completed(self, event_id: str, payload: dict) -> None:
        """`order.completed`: start the freeze; settleable at completed_at + commission_freeze_s."""
        order_id = payload["order_id"]
        freeze = self.shop_settings.load_settings().commission_freeze_s
        for _ in range(ATTEMPTS):
            c = self._commission_of(order_id)
            if c is None:
                return
            change = cm.schedule(c, payload.get("completed_at") or self._now(), freeze, self._now())
            if change is None:
                return
            try:
                self._write(change)
                return
            except _Stale:
                continue
        raise errors.RateLimited(f"commission of {order_id} kept changing")

    def on_order_refunded(self, event_id: str, payload: dict) -> None:
        """`order.refunded`: take back the refunded part, once per refund_id (the event is
        named by it: `order.refunded:<refund_id>`): before payout from the commission
        itself; after payout (SETTLING/SETTLED) as a commission debt of the distributor,
        deducted first by the next settlement. A refund of lines takes back what those
        lines earned; a refund of an amount, its proportion of the order."""
        order_id, refund_id, amount = payload["order_id"], payload["refund_id"], int(payload["amount"])
        for _ in range(ATTEMPTS):
            c = self._commission_of(order_id)
            if c is None:
                return
            change = cm.reverse(c, refund_id, amount, int(payload.get("refunded_total") or 0), self._now(),
                                payload.get("lines") or ())
            if change is None:
                return
            try:
                self._write(change)
            except _Stale:
                continue
            logger.info("commission reversed", extra={
                "order_id": order_id, "refund_id": refund_id, "status": c.status,
                "taken": change.stats.get("reversed", 0), "debt": change.stats.get("debt", 0)})
            return
        raise errors.RateLimited(f"commission of {order_id} kept changing")

    # -- commissions: the freeze sweep, and the settlement's input --------------------------------------

    def make_due_settleable(self, now: str | datetime | None = None, limit: int = 500) -> dict:
        """The sweep: PENDING commissions whose freeze is over become SETTLEABLE."""
        if now is None:
            now = self.clock.now()
        now_iso = now if isinstance(now, str) else iso(now)
        moved = skipped = 0
        for candidate in self.commissions.due(now_iso, limit):
            c = self.commissions.get(candidate.distributor_id, candidate.commission_id)
            if c is None or not cm.is_due(c, now_iso):
                skipped += 1
                continue
            try:
                self._write(cm.make_settleable(c, now_iso))
                moved += 1
            except _Stale:
                skipped += 1  # changed meanwhile (a refund): the next run looks again
        return {"settleable": moved, "skipped": skipped}

    def list_settleable(self, distributor_id: str) -> list[Commission]:
        """The distributor's SETTLEABLE commissions (and negative adjustments stored before
        commission debts), as read. Their sum may be <= 0: then nothing is paid and all
        stay SETTLEABLE."""
        return [c for c in self.commissions.settleable(distributor_id) if c.status == cm.SETTLEABLE]
