"""The distribution service over in-memory repositories: shares, bindings, attribution,
and a commission's life up to SETTLEABLE, in milliseconds. The same rules under real
concurrency on DynamoDB Local: tests/integration/test_distribution.py."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from layers.clock import iso
from layers.domain import commission_entry as cm
from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain.catalog import Product
from layers.domain.order import Order
from layers.domain.shop_settings import ShopSettings
from layers.services.distribution import DistributionService
from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
from tests.fakes.distribution import MemoryCommissionRepository, MemoryDistributorRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.orders import MemoryOrderRepository
from tests.fakes.users import MemoryUserRepository


class World:
    def __init__(self):
        self.store = MemoryStore()
        self.clock = FakeClock()
        self.users = MemoryUserRepository(self.store)
        self.orders = MemoryOrderRepository(self.store)
        self.catalog = MemoryCatalogRepository(self.store)
        self.shop_settings = MemorySettingsRepository(self.store)
        self.distributors = MemoryDistributorRepository(self.store)
        self.commissions = MemoryCommissionRepository(self.store)
        self.svc = DistributionService(
            distributors=self.distributors, commissions=self.commissions, orders=self.orders, users=self.users,
            products=self.catalog, shop_settings=self.shop_settings, clock=self.clock, new_tx=self.store.tx)
        self._n = 0

    def now(self) -> str:
        return iso(self.clock.now())

    def shopper(self) -> str:
        self._n += 1
        return self.users.upsert_user(f"openid-{self._n}", None, self.now()).user_id

    def template(self, tiers=None) -> str:
        body = SimpleNamespace(name="导购", tiers=[SimpleNamespace(**{"min_sales_count": None, "min_sales_amount": None, **t})
                                                  for t in tiers or [{"name": "基础", "rate_bps": 500}]])
        return self.svc.create_template(body)["id"]

    def distributor(self, template_id=None, manager_id=None) -> str:
        user = self.shopper()
        view, new = self.svc.make_distributor(SimpleNamespace(
            user_id=user, template_id=template_id or self.template(), manager_id=manager_id))
        assert new
        return user

    def share(self, user_id: str, product_id=None) -> str:
        return self.svc.create_share(user_id, SimpleNamespace(product_id=product_id))["share_token"]

    def paid_order(self, buyer: str, distributor_id: str | None, price=10_000, quantity=1, commission=None,
                   discount=0) -> Order:
        self._n += 1
        goods = price * quantity
        order = Order(
            order_id=f"o{self._n:025d}", user_id=buyer, openid="x", status=order_rules.PAID,
            items=({"sku_id": "s1", "product_id": "p1", "title": "茶", "category": None, "quantity": quantity,
                    "unit_price": price, "commission": commission},),
            amounts={"goods": goods, "discount": discount, "shipping": 0, "payable": goods - discount},
            created_at=self.now(), expires_at=self.now(), distributor_id=distributor_id,
            transaction_id=f"42{self._n}", paid_at=self.now(), paid_amount=goods - discount)
        tx = self.store.tx()
        self.orders.stage_create(tx, order, on_exists=RuntimeError)
        tx.commit()
        self.svc.on_order_paid(f"order.paid:{order.order_id}", {"order_id": order.order_id})
        return order

    def refund(self, order: Order, refund_id: str, amount: int, total: int = 0):
        self.svc.on_order_refunded(f"order.refunded:{refund_id}", {
            "order_id": order.order_id, "refund_id": refund_id, "amount": amount,
            "order_payable": order.payable, "refunded_total": total})


@pytest.fixture
def w():
    return World()


def test_only_a_distributor_shares_and_a_visit_binds_last_touch(w):
    with pytest.raises(errors.Forbidden):
        w.share(w.shopper())
    a, b = w.distributor(), w.distributor()
    customer = w.shopper()
    w.svc.visit(customer, w.share(a))
    assert w.svc.dashboard(a)["customers"] == 1
    w.svc.visit(customer, w.share(b))
    assert w.svc.dashboard(a)["customers"] == 0 and w.svc.dashboard(b)["customers"] == 1
    assert w.svc.distributor_for_order(customer, None, w.now()) == b
    # A token on the order beats the binding, and binds as a visit would.
    assert w.svc.distributor_for_order(customer, w.share(a), w.now()) == a
    assert w.svc.current_binding(customer).distributor_id == a


def test_an_unknown_token_is_404_and_a_product_must_exist(w):
    a = w.distributor()
    with pytest.raises(errors.NotFound):
        w.svc.visit(w.shopper(), "x" * 22)
    with pytest.raises(errors.NotFound):
        w.share(a, product_id="nope")
    tx = w.store.tx()
    w.catalog.stage_put_product(tx, Product("p1", "茶", None, ("s1",), None, w.now(), w.now()))
    tx.commit()
    assert w.share(a, product_id="p1")


def test_a_binding_expires_and_an_older_touch_never_replaces_a_newer_one(w):
    a, b = w.distributor(), w.distributor()
    customer = w.shopper()
    w.svc.visit(customer, w.share(a))
    later = iso(w.clock.now() + timedelta(days=7, seconds=1))
    assert w.svc.distributor_for_order(customer, None, later) is None
    w.clock.advance(60)
    w.svc.visit(customer, w.share(b))
    earlier = iso(w.clock.now() - timedelta(seconds=30))
    w.svc.distributor_for_order(customer, w.share(a), earlier)  # a delayed, older touch
    assert w.svc.current_binding(customer).distributor_id == b


def test_own_purchase_earns_nothing(w):
    a = w.distributor()
    token = w.share(a)
    w.svc.visit(a, token)
    assert w.svc.current_binding(a) is None
    assert w.svc.distributor_for_order(a, token, w.now()) is None
    order = w.paid_order(a, a)  # even if an order said so
    assert w.commissions.get(a, order.order_id) is None


def test_accrual_once_at_the_tier_reached_before_the_order(w):
    template = w.template([{"name": "铜牌", "rate_bps": 300},
                           {"name": "银牌", "rate_bps": 800, "min_sales_count": 2}])
    a = w.distributor(template)
    buyer = w.shopper()
    first, second = w.paid_order(buyer, a), w.paid_order(buyer, a)
    w.svc.on_order_paid("again", {"order_id": first.order_id})
    assert w.commissions.get(a, first.order_id).amount == 300
    assert w.commissions.get(a, second.order_id).amount == 300
    third = w.paid_order(buyer, a)
    assert w.commissions.get(a, third.order_id).amount == 800
    d = w.svc.dashboard(a)
    assert d["tier"] == {"name": "银牌", "rate_bps": 800}
    assert d["sales_count"] == 3 and d["commissions"]["pending"] == 1400


def test_fixed_rate_lines_and_discount(w):
    a = w.distributor(w.template([{"name": "基础", "rate_bps": 700}]))
    order = w.paid_order(w.shopper(), a, price=10_000, commission={"mode": "fixed", "rate_bps": 1500},
                         discount=1_000)
    c = w.commissions.get(a, order.order_id)
    assert (c.amount, c.base, c.lines[0]["rate_bps"]) == (9_000 * 1500 // 10_000, 9_000, 1500)


def test_a_partial_refund_reverses_in_proportion_once_then_all(w):
    a = w.distributor()
    order = w.paid_order(w.shopper(), a, quantity=3)
    w.refund(order, "R1", 10_001, 10_001)
    w.refund(order, "R1", 10_001, 10_001)
    c = w.commissions.get(a, order.order_id)
    kept = 1500 * (30_000 - 10_001) // 30_000
    assert (c.amount, c.reversed, c.status) == (kept, 1500 - kept, "PENDING")
    w.refund(order, "R2", 19_999, 30_000)
    c = w.commissions.get(a, order.order_id)
    assert (c.amount, c.reversed, c.status) == (0, 1500, "REVERSED")
    d = w.svc.dashboard(a)
    assert d["commissions"] == {"pending": 0, "settleable": 0, "settled": 0, "reversed": 1500, "debt": 0,
                                "deducted": 0}
    assert d["sales_count"] == 0 and d["sales_amount"] == 0


def test_freeze_then_settleable(w):
    a = w.distributor()
    order = w.paid_order(w.shopper(), a)
    w.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": w.now()})
    w.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": "2099-01-01T00:00:00Z"})
    c = w.commissions.get(a, order.order_id)
    assert c.settleable_at == iso(w.clock.now() + timedelta(days=7))
    assert w.svc.make_due_settleable(w.clock.now() + timedelta(days=6))["settleable"] == 0
    assert w.svc.make_due_settleable(w.clock.now() + timedelta(days=7, seconds=1))["settleable"] == 1
    assert [c.order_id for c in w.svc.list_settleable(a)] == [order.order_id]
    assert w.svc.dashboard(a)["commissions"]["settleable"] == 500


def test_a_refund_after_payout_is_a_debt_owed_once(w):
    a = w.distributor()
    order = w.paid_order(w.shopper(), a, quantity=2)
    w.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": w.now()})
    w.svc.make_due_settleable(w.clock.now() + timedelta(days=8))
    for step in (lambda c: cm.claim(c, "P1", w.now()), lambda c: cm.settle(c, w.now())):
        change = step(w.commissions.get(a, order.order_id))
        tx = w.store.tx()
        w.commissions.stage_change(tx, change.before, change.after, on_stale=RuntimeError)
        w.commissions.stage_stats(tx, a, change.stats)
        tx.commit()
    w.refund(order, "R1", 5_000, 5_000)
    w.refund(order, "R1", 5_000, 5_000)  # the same event again
    [entry] = w.commissions.debt_entries(a)
    assert (entry.kind, entry.amount, entry.order_id, entry.refund_id) == ("DEBT", 250, order.order_id, "R1")
    assert w.commissions.get(a, cm.adjustment_id("R1")) is None and w.svc.list_settleable(a) == []
    assert w.svc.dashboard(a)["commissions"] == {"pending": 0, "settleable": 0, "settled": 1000,
                                                 "reversed": 250, "debt": 250, "deducted": 0}
    header, *rows = w.svc.to_csv(w.svc.all_rows(w.svc.list_all)).splitlines()
    [row] = [dict(zip(header.split(","), r.split(","), strict=True)) for r in rows if r.startswith(a)]
    assert (row["settled"], row["reversed"], row["debt"], row["deducted"]) == ("1000", "250", "250", "0")


def test_a_stale_read_is_read_again_never_written(w):
    """Someone else changes the commission between our read and our write: the condition
    fails, the service reads again and decides from what is stored now."""
    a = w.distributor()
    order = w.paid_order(w.shopper(), a, quantity=5)
    real_get = w.commissions.get
    raced = []

    def get_then_race(distributor_id, commission_id):
        c = real_get(distributor_id, commission_id)
        if not raced and c is not None:
            raced.append(True)
            change = cm.reverse(c, "OTHER", 10_000, 0, w.now())  # a concurrent refund lands first
            tx = w.store.tx()
            w.commissions.stage_change(tx, change.before, change.after, on_stale=RuntimeError)
            w.commissions.stage_stats(tx, a, change.stats)
            tx.commit()
        return c

    w.commissions.get = get_then_race
    w.refund(order, "MINE", 10_000)
    c = real_get(a, order.order_id)
    assert c.refund_ids == {"OTHER", "MINE"} and c.refunded == 20_000
    assert c.amount == 2500 * 30_000 // 50_000
    assert w.svc.dashboard(a)["commissions"]["reversed"] == 2500 - c.amount


def test_managers_see_their_own_group(w):
    m1, m2 = w.shopper(), w.shopper()
    template = w.template()
    a = w.distributor(template, m1)
    b = w.distributor(template, m1)
    with pytest.raises(errors.Forbidden):
        w.svc.list_group_for_manager(w.shopper(), 10, None)
    rows, _ = w.svc.list_group_for_manager(m1, 10, None)
    assert {r["id"] for r in rows} == {a, b}
    view, new = w.svc.make_distributor(SimpleNamespace(user_id=b, template_id=template, manager_id=m2))
    assert not new and view["manager_id"] == m2
    assert {r["id"] for r in w.svc.list_group(m1, 10, None)[0]} == {a}
    csv = w.svc.to_csv(w.svc.all_rows(w.svc.list_all))
    assert csv.splitlines()[0].startswith("id,manager_id") and len(csv.splitlines()) == 3


def test_unknown_shoppers_and_templates_are_404(w):
    with pytest.raises(errors.NotFound):
        w.svc.make_distributor(SimpleNamespace(user_id="u_nobody", template_id="x", manager_id=None))
    with pytest.raises(errors.NotFound):
        w.svc.make_distributor(SimpleNamespace(user_id=w.shopper(), template_id="nope", manager_id=None))
    with pytest.raises(errors.NotFound):
        w.svc.add_manager(SimpleNamespace(user_id="u_nobody", name=None))
    m = w.svc.add_manager(SimpleNamespace(user_id=w.shopper(), name="王"))
    assert m["name"] == "王"
    with pytest.raises(errors.Forbidden):
        w.svc.dashboard(w.shopper())


def test_settings_move_the_binding_window(w):
    w.shop_settings.save_settings(ShopSettings(share_binding_ttl_s=0), w.now())
    a = w.distributor()
    customer = w.shopper()
    w.svc.visit(customer, w.share(a))
    assert w.svc.current_binding(customer) is None


def test_managers_are_listed_newest_first_with_a_cursor(w):
    # the console's managers page
    first = w.shopper()
    w.svc.add_manager(SimpleNamespace(user_id=first, name="甲"))
    w.clock.advance(5)
    second = w.shopper()
    w.distributor(manager_id=second)  # made a manager by managing someone
    page, cursor = w.svc.list_managers(1, None)
    assert [m["id"] for m in page] == [second] and cursor
    page, cursor = w.svc.list_managers(1, cursor)
    assert page == [{"id": first, "user_id": first, "name": "甲", "template_id": None,
                     "created_at": page[0]["created_at"]}]
    assert cursor is None
    assert w.svc.get_manager(first)["name"] == "甲" and w.svc.get_manager(w.shopper()) is None
