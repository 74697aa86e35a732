"""GroupBuyService on the in-memory repositories and the real order and refund services
over the same store (tests/fakes/shop.py), whose transactions take and give back seats
through the "group" reservation handler. No Java, no network. Ends with a property test
over random join/pay/close/expire sequences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.schemas import GroupBuyInput, GroupOrderInput
from layers.clock import iso
from layers.domain import errors
from layers.domain import group_buy as rules
from layers.domain.catalog import Sku
from layers.domain.payment_gateway import WeChatPayUnavailable
from layers.domain.refund import auto_refund_id
from layers.services.group_buys import GroupBuyService, GroupReservation
from tests.fakes.bargains import RecordingTimer
from tests.fakes.group_buys import MemoryGroupBuyRepository, MemoryGroupRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.shop import FakeShop

ADDRESS = {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}
ORDER = GroupOrderInput.model_validate({"address": ADDRESS})


class World:
    def __init__(self):
        self.store, self.clock = MemoryStore(), FakeClock()
        self.group_buys = MemoryGroupBuyRepository(self.store)
        self.groups = MemoryGroupRepository(self.store)
        reservation = GroupReservation(group_buys=self.group_buys, groups=self.groups, clock=self.clock)
        self.shop = FakeShop(self.store, self.clock, reservation_kinds={"group": reservation})
        self.store.items[("sku", "s1")] = Sku("s1", "p1", "阳澄湖大闸蟹", "生鲜", price=29_900, stock=100,
                                              commission={"mode": "fixed", "rate_bps": 500})
        self.timer = RecordingTimer(self.clock)
        self.service = GroupBuyService(group_buys=self.group_buys, groups=self.groups, orders=self.shop.orders,
                                       refunds=self.shop.refunds, catalog=self.shop.stock, timer=self.timer,
                                       clock=self.clock, new_tx=self.store.tx)

    def activity(self, **kw) -> dict:
        now = self.clock.now()
        body = {"sku_id": "s1", "price": 19_900, "group_size": 3, "group_ttl_s": 3600,
                "starts_at": iso(now - timedelta(minutes=1)), "ends_at": iso(now + timedelta(days=1)),
                "stock": 50, "per_user_limit": 5, **kw}
        return self.service.create_group_buy(GroupBuyInput.model_validate(body))

    def pay(self, order_id: str):
        trade = self.shop.pay.pay(order_id)
        order = self.shop.orders.mark_paid(order_id, trade)
        self.service.on_order_paid(f"order.paid:{order_id}", {"order_id": order_id})
        return order

    def opened(self, leader="leader", **kw) -> tuple[dict, dict]:
        activity = self.activity(**kw)
        order = self.service.open(leader, activity["id"], ORDER, None)
        self.pay(order["id"])
        return activity, order

    def group(self, group_id) -> rules.Group:
        return self.groups.get(group_id)

    def order(self, order_id):
        return self.shop.orders_repo.get(order_id)

    def refunds(self) -> dict:
        return dict(self.shop.pay.refunds)


@pytest.fixture
def w():
    return World()


def test_the_leaders_payment_opens_the_group_and_the_last_seat_makes_it_succeed(w):
    activity = w.activity()
    order = w.service.open("leader", activity["id"], ORDER, None)
    assert order["kind"] == "group" and order["amounts"]["goods"] == 19_900
    group_id = order["group_id"]
    view = w.service.get_group(group_id)
    assert (view["status"], view["seats_left"], view["paid_count"]) == ("PENDING", 2, 0)
    with pytest.raises(rules.GroupUnavailable):  # nobody joins before the leader paid
        w.service.join("f1", group_id, ORDER, None)
    w.pay(order["id"])
    group = w.group(group_id)
    assert group.status == "OPEN" and group.expires_at == iso(w.clock.now() + timedelta(hours=1))
    assert w.timer.scheduled == [(group_id, group.expires_at)]
    first = w.service.join("f1", group_id, ORDER, None)
    assert first["expires_at"] <= group.expires_at and first["group_id"] == group_id
    with pytest.raises(rules.AlreadyJoined):
        w.service.join("f1", group_id, ORDER, None)
    second = w.service.join("f2", group_id, ORDER, None)
    with pytest.raises(rules.GroupFull):
        w.service.join("f3", group_id, ORDER, None)
    w.pay(first["id"])
    assert w.group(group_id).status == "OPEN"
    w.pay(second["id"])
    view = w.service.get_group(group_id)
    assert (view["status"], view["paid_count"], view["seats_left"]) == ("SUCCEEDED", 3, 0)
    assert [m["user_id"] for m in view["members"]][0] == "leader" and all(m["paid"] for m in view["members"])
    assert w.group_buys.remaining(activity["id"]) == 47


def test_a_duplicate_payment_event_counts_once(w):
    _, order = w.opened()
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.pay(joined["id"])
    for _ in range(3):
        w.service.on_order_paid("order.paid:" + joined["id"], {"order_id": joined["id"]})
    assert w.group(group_id).paid_count == 2


def test_an_unpaid_order_that_closes_frees_its_seat_once(w):
    activity, order = w.opened(group_size=2)
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    assert w.group(group_id).seats_left == 0
    w.shop.orders.close_unpaid(joined["id"], reason="CANCELLED", ask_wechat=False)
    w.shop.orders.close_unpaid(joined["id"], reason="CANCELLED", ask_wechat=False)
    group = w.group(group_id)
    assert (group.seats_taken, group.paid_count, group.status) == (1, 1, "OPEN")
    assert w.group_buys.remaining(activity["id"]) == 49
    again = w.service.join("f1", group_id, ORDER, None)  # the seat (and the shopper) can come back
    assert again["id"] != joined["id"]


def test_a_leader_who_never_pays_fails_the_group_without_refunds(w):
    activity = w.activity()
    order = w.service.open("leader", activity["id"], ORDER, None)
    w.shop.orders.close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    group = w.group(order["group_id"])
    assert group.status == "FAILED" and group.seats_taken == 0 and group.refunds_done
    # paid in the instant it closed: the group cannot be opened again, so the money goes back
    trade = w.shop.pay.pay(order["id"])
    assert w.shop.orders.mark_paid(order["id"], trade).status == "REFUNDING"
    assert list(w.refunds()) == [auto_refund_id(order["id"])]


@pytest.mark.parametrize("min_paid,paid_members,status", [(3, 1, "FAILED"), (3, 2, "SUCCEEDED"),
                                                          (2, 2, "SUCCEEDED"), (None, 2, "FAILED")])
def test_success_min_paid_below_at_and_above(w, min_paid, paid_members, status):
    # with the leader, paid_members + 1 paid: below (2 < 3), at (3 = 3), above (3 > 2), unset
    _, order = w.opened(group_size=5, success_min_paid=min_paid)
    group_id = order["group_id"]
    joined = [w.service.join(f"f{n}", group_id, ORDER, None) for n in range(paid_members + 1)]
    for j in joined[:paid_members]:
        w.pay(j["id"])
    w.clock.advance(3600)
    w.service.expire_due()
    group = w.group(group_id)
    assert group.status == status and group.paid_count == paid_members + 1
    assert group.seats_taken == paid_members + 2  # no fake members; the unpaid seat stays until its order closes
    paid_orders = [order["id"], *[j["id"] for j in joined[:paid_members]]]
    if status == "FAILED":
        assert sorted(w.refunds()) == sorted(auto_refund_id(o) for o in paid_orders)
        assert all(w.order(o).status == "REFUNDING" for o in paid_orders)
    else:
        assert w.refunds() == {}
        assert all(w.order(o).status == "PAID" for o in paid_orders)


def test_the_expiry_job_run_twice_refunds_each_paid_member_once(w):
    _, order = w.opened()
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.pay(joined["id"])
    w.clock.advance(3601)
    w.shop.pay.fault("refund", WeChatPayUnavailable(503, "SYSTEM_ERROR", "busy"))  # an outcome unknown
    first = w.service.expire_due()
    second = w.service.expire_due()
    assert first["groups_failed"] == 1
    assert w.group(group_id).refunds_done
    assert second == {"groups_succeeded": 0, "groups_failed": 0, "skipped": 0}
    assert len(w.shop.refunds_repo.for_order(order["id"])) == 1
    assert len(w.shop.refunds_repo.for_order(joined["id"])) == 1
    assert w.service.expire_one(group_id).status == "FAILED"  # and the message, late
    assert sum(len(w.shop.refunds_repo.for_order(o)) for o in (order["id"], joined["id"])) == 2


def test_a_payment_after_failure_is_refunded(w):
    _, order = w.opened()
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.clock.advance(3600)  # the member paid in its last second; the notification comes after the expiry
    w.service.expire_due()
    assert w.group(group_id).status == "FAILED"
    w.pay(joined["id"])
    assert w.order(joined["id"]).status == "REFUNDING"
    assert sorted(w.refunds()) == sorted([auto_refund_id(order["id"]), auto_refund_id(joined["id"])])
    assert w.group(group_id).paid_count == 1


def test_a_late_payment_for_a_released_seat_that_went_to_someone_else_is_refunded(w):
    _, order = w.opened(group_size=2)
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.shop.orders.close_unpaid(joined["id"], reason="EXPIRED", ask_wechat=False)
    other = w.service.join("f2", group_id, ORDER, None)
    w.pay(other["id"])
    assert w.group(group_id).status == "SUCCEEDED"
    trade = w.shop.pay.pay(joined["id"])
    assert w.shop.orders.mark_paid(joined["id"], trade).status == "REFUNDING"
    assert w.group(group_id).paid_count == 2


def test_shipping_waits_for_success(w):
    _, order = w.opened(group_size=2)
    with pytest.raises(errors.InvalidState):
        w.service.check_shippable(w.order(order["id"]))
    joined = w.service.join("f1", order["group_id"], ORDER, None)
    w.pay(joined["id"])
    w.service.check_shippable(w.order(order["id"]))


# -- the property ----------------------------------------------------------------------------

USERS = [f"u{n}" for n in range(6)]
step = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(USERS)),
    st.tuples(st.just("pay"), st.integers(0, 20)),
    st.tuples(st.just("close"), st.integers(0, 20)),
    st.tuples(st.just("late_pay"), st.integers(0, 20)),
    st.tuples(st.just("wait"), st.integers(1, 1800)),
    st.tuples(st.just("expire"), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 20)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(2, 4), min_paid=st.one_of(st.none(), st.integers(1, 4)), steps=st.lists(step, max_size=30))
def test_seats_and_payments_and_refunds_stay_consistent(size, min_paid, steps):
    w = World()
    min_paid = None if min_paid is None or min_paid > size else min_paid
    activity = w.activity(group_size=size, success_min_paid=min_paid, group_ttl_s=3600)
    leader = w.service.open("leader", activity["id"], ORDER, None)
    group_id = leader["group_id"]
    orders = [leader["id"]]
    for kind, arg in steps:
        try:
            if kind == "join":
                orders.append(w.service.join(arg, group_id, ORDER, None)["id"])
            elif kind in ("pay", "late_pay", "duplicate") and orders:
                order_id = orders[arg % len(orders)]
                status = w.order(order_id).status
                if kind == "duplicate":
                    w.service.on_order_paid("dup", {"order_id": order_id})
                elif status == "PENDING_PAYMENT" or (kind == "late_pay" and status == "CLOSED"):
                    w.pay(order_id)
            elif kind == "close" and orders:
                w.shop.orders.close_unpaid(orders[arg % len(orders)], reason="CANCELLED", ask_wechat=False)
            elif kind == "wait":
                w.clock.advance(arg)
            elif kind == "expire":
                w.service.expire_due()
        except errors.DomainError:
            pass
        group = w.group(group_id)
        assert 0 <= group.paid_count <= group.seats_taken <= group.group_size
        members = w.groups.members(group_id)
        assert group.seats_taken == len(members)
        assert group.paid_count == sum(m.paid for m in members)
    w.clock.advance(7200)
    w.service.expire_due()
    group = w.group(group_id)
    members = w.groups.members(group_id)
    refunded = {r["out_trade_no"] for r in w.shop.pay.refunds.values()}
    paid_orders = {o for o in orders if w.order(o).transaction_id}
    if group.status == "FAILED":
        # every paid order is refunded: counted members by the failure, the rest as they came
        assert refunded == paid_orders
        assert {m.order_id for m in members if m.paid} <= refunded
    else:
        assert group.status in ("SUCCEEDED", "PENDING")
        assert refunded == paid_orders - {m.order_id for m in members if m.paid}
    assert all(len(w.shop.pay.refunds_of(o)) <= 1 for o in orders)


def test_the_leader_is_reminded_once_with_consent_before_the_group_expires(w):
    from types import SimpleNamespace

    from layers.domain.shop_settings import ShopSettings
    from layers.services.reminders import ReminderService
    from tests.fakes.catalog import MemorySettingsRepository
    from tests.fakes.reminders import MemoryReminderRepository
    from tests.fakes.users import FakeMiniProgram, MemoryUserRepository

    settings = MemorySettingsRepository(w.store)
    settings.save_settings(ShopSettings(subscription_templates={"group_expiring": "T_GROUP"}), "t")
    users, mp = MemoryUserRepository(w.store), FakeMiniProgram()
    leader, other = users.upsert_user("o-leader", None, "t"), users.upsert_user("o-other", None, "t")
    reminders = ReminderService(
        reminders=MemoryReminderRepository(w.store), users=users, shop=settings, mini_program=mp,
        orders=w.shop.orders_repo, coupons=SimpleNamespace(expiring_coupons=lambda a, b: []), flash_sales=None,
        clock=w.clock, new_tx=w.store.tx, groups=w.groups)
    for user in (leader, other):
        reminders.record_consent(user.user_id, SimpleNamespace(results={"T_GROUP": "accept"}, flash_sale_id=None))
    _, mine = w.opened(leader=leader.user_id)
    theirs = w.service.open(other.user_id, w.activity()["id"], ORDER, None)  # PENDING: nothing to remind
    assert reminders.send_reminders() == {}  # an hour left: not yet
    w.clock.advance(3600 - 20 * 60)
    assert reminders.send_reminders() == {"SENT": 1}
    assert reminders.send_reminders() == {"SKIPPED": 1}  # once
    [message] = mp.sent
    assert message["template_id"] == "T_GROUP" and message["touser"] == leader.openid
    assert message["data"]["thing1"]["value"] == "拼团还差2人成团"
    assert mine["group_id"] in message["page"] and theirs["group_id"] not in message["page"]
