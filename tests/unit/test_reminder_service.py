"""ReminderService on the in-memory repositories: at most once, only with consent."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from layers.clock import iso
from layers.domain import errors
from layers.domain.order import Order
from layers.domain.shop_settings import ShopSettings
from layers.services.reminders import ReminderService
from tests.fakes.catalog import MemorySettingsRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.orders import MemoryOrderRepository
from tests.fakes.reminders import MemoryReminderRepository
from tests.fakes.users import FakeMiniProgram, MemoryUserRepository

TEMPLATES = {"order_unpaid": "T_UNPAID", "order_paid": "T_PAID", "coupon_expiring": "T_COUPON",
             "flash_sale_start": "T_FLASH"}


class Coupons:
    def __init__(self):
        self.expiring: list[tuple] = []

    def expiring_coupons(self, from_iso, until_iso):
        return [c for c in self.expiring if from_iso <= c[3] <= until_iso]


class FlashSales:
    def __init__(self):
        self.sales: dict[str, dict] = {}

    def get_sale_view(self, sale_id):
        if sale_id not in self.sales:
            raise errors.NotFound("no such sale")
        return self.sales[sale_id]


@pytest.fixture
def env():
    store, clock = MemoryStore(), FakeClock()
    settings = MemorySettingsRepository(store)
    settings.save_settings(ShopSettings(subscription_templates=TEMPLATES), "t")
    users, mp = MemoryUserRepository(store), FakeMiniProgram()
    e = SimpleNamespace(store=store, clock=clock, users=users, mp=mp, coupons=Coupons(), flash=FlashSales(),
                        orders=MemoryOrderRepository(store), reminders=MemoryReminderRepository(store))
    e.service = ReminderService(reminders=e.reminders, users=users, shop=settings, mini_program=mp,
                                orders=e.orders, coupons=e.coupons, flash_sales=e.flash, clock=clock,
                                new_tx=store.tx)
    return e


def _shopper(env, name: str, accept: list[str] = ()):
    user = env.users.upsert_user(f"o-{name}", None, "t")
    if accept:
        env.service.record_consent(user.user_id, SimpleNamespace(
            results={t: "accept" for t in accept} | {"T_OTHER": "reject"}, flash_sale_id=None))
    return user


def _order(env, user, order_id: str, expires_in_s: int) -> None:
    now = env.clock.now()
    order = Order(order_id=order_id, user_id=user.user_id, openid=user.openid, status="PENDING_PAYMENT",
                  items=(), amounts={"goods": 990, "discount": 0, "shipping": 0, "payable": 990},
                  created_at=iso(now), expires_at=iso(now + timedelta(seconds=expires_in_s)))
    tx = env.store.tx()
    env.orders.stage_create(tx, order, on_exists=RuntimeError)
    tx.commit()


def test_consents_count_accepts_only(env):
    user = _shopper(env, "a", ["T_UNPAID"])
    assert env.service.consents_view(user.user_id) == {
        "items": [{"template_id": "T_UNPAID", "credits": 1}], "next_cursor": None}


def test_unpaid_orders_closing_soon_are_reminded_once_with_consent(env):
    yes, no, refusing = _shopper(env, "yes", ["T_UNPAID"]), _shopper(env, "no"), _shopper(env, "r", ["T_UNPAID"])
    env.mp.refusing.add(refusing.openid)
    for user in (yes, no, refusing):
        _order(env, user, f"o-{user.openid}", 240)
    _order(env, yes, "o-later", 3600)
    first = env.service.send_reminders()
    second = env.service.send_reminders()
    assert [m["touser"] for m in env.mp.sent] == [yes.openid]
    assert env.mp.sent[0]["data"]["amount2"] == {"value": "9.90元"}
    assert first == {"SENT": 1, "SKIPPED": 1, "REFUSED": 1}
    assert second == {"SKIPPED": 3}
    assert env.service.consents_view(refusing.user_id)["items"] == [{"template_id": "T_UNPAID", "credits": 0}]


def test_a_failed_send_is_recorded_not_retried(env):
    user = _shopper(env, "f", ["T_PAID"])
    _shopper(env, "f", ["T_PAID"])  # accepted twice: two credits
    env.mp.failing = True
    payload = {"order_id": "o1", "user_id": user.user_id, "payable": 1990}
    assert env.service.remind(user.user_id, "order_paid", "o1", {}) == "FAILED"
    env.mp.failing = False
    env.service.on_order_paid("order.paid:o1", payload)  # a duplicate event: the claim is taken
    assert env.mp.sent == []
    env.service.on_order_paid("order.paid:o2", {**payload, "order_id": "o2"})
    assert env.mp.sent[0]["data"]["amount2"] == {"value": "19.90元"}


def test_no_template_or_no_user_sends_nothing(env):
    user = _shopper(env, "n", ["T_UNPAID"])
    assert env.service.remind(user.user_id, "unknown_kind", "x", {}) == "NO_TEMPLATE"
    assert env.service.remind("u_nobody", "order_unpaid", "x", {}) == "NO_USER"


def test_flash_sale_and_coupon_reminders(env):
    user = _shopper(env, "fs", ["T_COUPON"])
    starts = iso(env.clock.now() + timedelta(minutes=5))
    env.flash.sales["fs1"] = {"starts_at": starts}
    env.service.record_consent(user.user_id, SimpleNamespace(results={"T_FLASH": "accept"}, flash_sale_id="fs1"))
    env.coupons.expiring.append((user.user_id, "c1", "满100减10元的好券好券好券好券好券好券", iso(env.clock.now() + timedelta(hours=3))))
    assert env.service.send_reminders() == {"SENT": 2}
    assert {m["template_id"] for m in env.mp.sent} == {"T_FLASH", "T_COUPON"}
    assert env.service.send_reminders() == {"SKIPPED": 1}  # the flash request left the queue
    env.flash.sales["fs2"] = {"starts_at": iso(env.clock.now() - timedelta(minutes=1))}
    with pytest.raises(errors.InvalidState):
        env.service.record_consent(user.user_id, SimpleNamespace(results={"T_FLASH": "accept"}, flash_sale_id="fs2"))
