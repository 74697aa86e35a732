"""BargainService on the in-memory repositories and the real order service over the same
store (tests/fakes/shop.py), whose transactions take and give back the instance through
the "bargain" reservation handler. No Java, no network."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from functions.schemas import BargainInput, BargainOrderInput
from layers.clock import iso
from layers.domain import errors
from layers.domain.catalog import Sku
from layers.domain.helps import AlreadyHelped, NotAllowed
from layers.services.bargains import BargainReservation, BargainService
from tests.fakes.bargains import (
    MemoryBargainInstanceRepository,
    MemoryBargainRepository,
    MemoryHelpRepository,
    RecordingTimer,
)
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.shop import FakeShop

ADDRESS = {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}


class World:
    def __init__(self):
        self.store, self.clock = MemoryStore(), FakeClock()
        self.bargains = MemoryBargainRepository(self.store)
        self.instances = MemoryBargainInstanceRepository(self.store)
        self.helps = MemoryHelpRepository(self.store)
        reservation = BargainReservation(bargains=self.bargains, instances=self.instances, clock=self.clock)
        self.shop = FakeShop(self.store, self.clock, reservation_kinds={"bargain": reservation})
        self.store.items[("sku", "s1")] = Sku("s1", "p1", "生日蛋糕", "烘焙", price=19_900, stock=3,
                                              commission={"mode": "fixed", "rate_bps": 500})
        self.timer = RecordingTimer(self.clock)
        self.service = BargainService(bargains=self.bargains, instances=self.instances, helps=self.helps,
                                      orders=self.shop.orders, catalog=self.shop.stock, timer=self.timer,
                                      clock=self.clock, new_tx=self.store.tx, rng=random.Random(11))

    def bargain(self, **kw) -> dict:
        now = self.clock.now()
        body = {"sku_id": "s1", "floor_price": 9_900, "helpers_needed": 3, "ttl_s": 3600,
                "starts_at": iso(now - timedelta(minutes=1)), "ends_at": iso(now + timedelta(days=1)),
                "stock": 2, "per_user_limit": 2, **kw}
        return self.service.create_bargain(BargainInput.model_validate(body))

    def succeeded(self, owner="owner", **kw) -> dict:
        b = self.bargain(**kw)
        instance = self.service.start(owner, b["id"])
        for n in range(instance["helpers_needed"]):
            self.service.help(f"friend{n}", instance["id"])
        return self.service.get_instance(instance["id"])

    def buy(self, instance_id, user="owner", key=None) -> dict:
        return self.service.buy(user, instance_id, BargainOrderInput.model_validate({"address": ADDRESS}), key)


@pytest.fixture
def w():
    return World()


def test_start_fixes_the_cuts_and_helps_take_them_down_to_the_floor(w):
    b = w.bargain()
    assert b["start_price"] == 19_900 and b["remaining"] == 2
    instance = w.service.start("owner", b["id"])
    assert instance["status"] == "ACTIVE" and instance["price_now"] == 19_900
    assert w.timer.scheduled == [(instance["id"], instance["expires_at"])]
    answers = [w.service.help(f"f{n}", instance["id"]) for n in range(3)]
    assert [a["helps"] for a in answers] == [1, 2, 3]
    assert all(a["cut"] >= 1 for a in answers) and sum(a["cut"] for a in answers) == 10_000
    assert answers[-1]["price_now"] == 9_900 and answers[-1]["status"] == "SUCCEEDED"
    assert [h["cut"] for h in w.service.helpers(instance["id"])] == [a["cut"] for a in answers]
    assert w.service.get_instance(instance["id"])["status"] == "SUCCEEDED"


def test_refusals_change_nothing(w):
    b = w.bargain(helps_per_user_per_day=1, ttl_s=86400)
    one = w.service.start("owner", b["id"])
    other = w.service.start("owner2", b["id"])
    with pytest.raises(NotAllowed):
        w.service.help("owner", one["id"])
    w.service.help("f1", one["id"])
    with pytest.raises(AlreadyHelped):
        w.service.help("f1", one["id"])
    with pytest.raises(errors.LimitExceeded):  # f1's one help of the day in this bargain is spent
        w.service.help("f1", other["id"])
    assert w.service.get_instance(one["id"])["helps"] == 1 and w.service.get_instance(other["id"])["helps"] == 0
    assert len(w.service.helpers(other["id"])) == 0
    w.clock.advance(15 * 3600)  # 01:00 the next Beijing day: f1 may help once more
    w.service.help("f1", other["id"])
    w.clock.advance(9 * 3600)  # `one` is past its expiry: no help, even before the sweep
    assert w.service.get_instance(one["id"])["status"] == "EXPIRED"
    with pytest.raises(errors.InvalidState):
        w.service.help("f2", one["id"])
    assert w.service.get_instance(one["id"])["helps"] == 1


def test_per_user_limit_and_window(w):
    b = w.bargain(per_user_limit=1)
    w.service.start("owner", b["id"])
    with pytest.raises(errors.LimitExceeded):
        w.service.start("owner", b["id"])
    later = w.bargain(starts_at=iso(w.clock.now() + timedelta(hours=1)))
    with pytest.raises(errors.NotStarted):
        w.service.start("owner", later["id"])
    with pytest.raises(errors.NotAcceptable):
        w.bargain(floor_price=19_898)  # 2 fen for 3 helpers


def test_buying_makes_one_order_at_the_floor_and_payment_makes_it_purchased(w):
    instance = w.succeeded()
    with pytest.raises(NotAllowed):
        w.buy(instance["id"], user="friend0")
    order = w.buy(instance["id"])
    assert order["amounts"]["goods"] == 9_900 and order["kind"] == "bargain"
    assert order["bargain_instance_id"] == instance["id"]
    assert w.service.get_instance(instance["id"])["status"] == "ORDERED"
    assert w.bargains.remaining(instance["bargain_id"]) == 1
    with pytest.raises(errors.InvalidState):
        w.buy(instance["id"])  # one order per instance
    w.shop.orders.mark_paid(order["id"], w.shop.pay.pay(order["id"]))
    [paid] = [e for e in w.shop.publisher.sent if e["type"] == "order.paid"]
    w.service.on_order_paid("order.paid:" + order["id"], paid["payload"])
    w.service.on_order_paid("order.paid:" + order["id"], paid["payload"])  # delivered twice
    assert w.service.get_instance(instance["id"])["status"] == "PURCHASED"


def test_a_closed_order_returns_the_instance_and_its_unit(w):
    instance = w.succeeded()
    order = w.buy(instance["id"])
    w.shop.orders.cancel("owner", order["id"])
    view = w.service.get_instance(instance["id"])
    assert view["status"] == "SUCCEEDED" and view["order_id"] is None
    assert w.bargains.remaining(instance["bargain_id"]) == 2
    again = w.buy(instance["id"])  # and it can be bought again
    assert again["id"] != order["id"]
    # Closed after the instance's expiry: EXPIRED, and the unit still goes back.
    w.clock.advance(3600)
    w.shop.orders.close_unpaid(again["id"], reason="EXPIRED", ask_wechat=False)
    assert w.service.get_instance(instance["id"])["status"] == "EXPIRED"
    assert w.instances.get(instance["id"]).status == "EXPIRED"
    assert w.bargains.remaining(instance["bargain_id"]) == 2


def test_a_late_payment_for_an_instance_gone_elsewhere_is_refunded(w):
    instance = w.succeeded()
    first = w.buy(instance["id"])
    w.shop.orders.close_unpaid(first["id"], reason="EXPIRED", ask_wechat=False)
    second = w.buy(instance["id"])
    result = w.shop.orders.mark_paid(first["id"], w.shop.pay.pay(first["id"]))
    assert result.status in ("REFUNDING", "REFUNDED")
    assert w.instances.get(instance["id"]).order_id == second["id"]


def test_sold_out_bargain_refuses_the_order(w):
    a = w.succeeded(owner="a", stock=1)
    b_inst = w.service.start("b", a["bargain_id"])
    for n in range(3):
        w.service.help(f"g{n}", b_inst["id"])
    w.buy(a["id"], user="a")
    with pytest.raises(errors.SoldOut):
        w.buy(b_inst["id"], user="b")
    assert w.service.get_instance(b_inst["id"])["status"] == "SUCCEEDED"


def test_expiry_by_the_sweep_and_by_the_timer(w):
    b = w.bargain()
    swept = w.service.start("owner", b["id"])
    timed = w.service.start("owner", b["id"])
    ordered = w.succeeded(owner="buyer")
    w.buy(ordered["id"], user="buyer")
    assert w.service.expire_due() == {"bargain_instances_expired": 0}
    payload = {"instance_id": timed["id"], "expires_at": timed["expires_at"]}
    w.service.on_expiry_due("e1", payload)  # too early: sent again
    assert w.timer.scheduled[-1] == (timed["id"], timed["expires_at"])
    w.clock.advance(3600)
    w.service.on_expiry_due("e1", payload)
    assert w.instances.get(timed["id"]).status == "EXPIRED"
    assert w.service.expire_due() == {"bargain_instances_expired": 1}
    assert w.instances.get(swept["id"]).status == "EXPIRED"
    assert w.instances.get(ordered["id"]).status == "ORDERED"  # waits for its order
    assert w.service.expire_due() == {"bargain_instances_expired": 0}
