"""The shopper's order counts (layers/domain/order_counts.py): the pure moves, the
services moving them over the in-memory repositories (every step of random order lives
checked against a recount), and the backfill job counting orders stored before them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.schemas import PlaceOrderInput, RefundInput
from layers.domain import errors
from layers.domain import order as rules
from layers.domain.catalog import Sku
from layers.domain.order import Order
from layers.domain.order_counts import COUNTED, moves, summary
from tests.fakes.shop import FakeShop

ZERO = {"PENDING_PAYMENT": 0, "PAID": 0, "SHIPPED": 0, "after_sales": 0}


def an_order(status=rules.PENDING, counted=True) -> Order:
    return Order(order_id="o1", user_id="u1", openid="x", status=status, items=(), amounts={"payable": 100},
                 created_at="t", expires_at="t", counted=counted)


@pytest.mark.parametrize(("before", "after", "expected"), [
    (None, rules.PENDING, {"PENDING_PAYMENT": 1}),
    (None, rules.PAID, {"PAID": 1}),  # paid from the balance as it is placed
    (rules.PENDING, rules.PAID, {"PENDING_PAYMENT": -1, "PAID": 1}),
    (rules.PENDING, rules.CLOSED, {"PENDING_PAYMENT": -1}),
    (rules.CLOSED, rules.PAID, {"PAID": 1}),  # a late payment reinstates it
    (rules.CLOSED, rules.REFUNDING, {"REFUNDING": 1}),  # a late payment refunded at once
    (rules.PAID, rules.SHIPPED, {"PAID": -1, "SHIPPED": 1}),
    (rules.SHIPPED, rules.COMPLETED, {"SHIPPED": -1}),
    (rules.COMPLETED, rules.REFUNDING, {"REFUNDING": 1}),
    (rules.REFUNDING, rules.SHIPPED, {"REFUNDING": -1, "SHIPPED": 1}),  # the refund ended, not all of it
    (rules.REFUNDING, rules.REFUNDED, {"REFUNDING": -1}),
    (rules.SHIPPED, rules.SHIPPED, {}),  # the shipping information changed
    (rules.REFUNDING, rules.REFUNDING, {}),  # a second refund in flight
    (rules.COMPLETED, rules.REFUNDED, {}),
    (rules.PENDING, None, {"PENDING_PAYMENT": -1}),  # deleted (its prepay failed)
])
def test_a_write_moves_the_status_it_leaves_and_the_one_it_enters(before, after, expected):
    assert moves(before and an_order(before), after and an_order(after)) == expected


def test_an_order_stored_before_the_counts_takes_nothing_away():
    legacy = an_order(rules.PAID, counted=False)
    assert moves(legacy, an_order(rules.SHIPPED)) == {"SHIPPED": 1}
    assert moves(legacy, replace(legacy, counted=True)) == {"PAID": 1}  # the backfill counts it
    assert moves(an_order(rules.PENDING, counted=False), None) == {}


def test_the_summary_reads_zero_below_zero_and_after_sales_are_refunds_in_flight():
    assert summary({}) == ZERO
    assert summary({"PENDING_PAYMENT": 2, "PAID": -1, "SHIPPED": 3, "REFUNDING": 4}) == {
        "PENDING_PAYMENT": 2, "PAID": 0, "SHIPPED": 3, "after_sales": 4}


# -- the services keep them, whatever order lives go through ------------------------------

class Shop(FakeShop):
    def __init__(self):
        super().__init__()
        self.store.items[("sku", "s1")] = Sku(sku_id="s1", product_id="p1", title="龙井", category="tea",
                                               price=1000, stock=1_000)

    def place(self, user="u1") -> str:
        body = PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}],
                                               "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
        return self.orders.place_order(user, body, None)["id"]

    def recount(self, user="u1") -> dict:
        statuses = [o.status for o in self.store.scan(("order",)) if o.user_id == user]
        return summary({s: statuses.count(s) for s in COUNTED})


def step(shop: Shop, action: str, order_id: str) -> None:
    order = shop.orders_repo.get(order_id)
    refunds = [r for r in shop.refunds_repo.for_order(order_id) if r.open]
    try:
        if action == "cancel":
            shop.orders.cancel("u1", order_id)
        elif action == "expire":
            shop.orders.close_unpaid(order_id, reason="EXPIRED", ask_wechat=False)
        elif action == "pay":  # a payment, also one arriving after the order closed
            shop.orders.mark_paid(order_id, shop.pay.pay(order_id))
        elif action == "ship":
            shop.orders.ship(order_id)
        elif action == "receive":
            shop.orders.confirm_receipt("u1", order_id)
        elif action == "auto_receive":  # as auto_confirm_receipts does it
            shop.orders.confirm_receipt(None, order_id, automatic=True)
        elif action in ("refund", "refund_all"):  # half, or all that is left
            amount = max(1, order.paid // 2) if action == "refund" else None
            shop.refunds.request_refund("u1", order_id, RefundInput(amount=amount, reason="x"), None)
        elif action in ("refunded", "refund_failed") and refunds:
            if refunds[0].status == "REQUESTED":
                shop.refunds.approve(refunds[0].refund_id)
            shop.refunds.on_refund_result(refunds[0].refund_id, "SUCCESS" if action == "refunded" else "CLOSED")
        elif action == "reject" and refunds and refunds[0].status == "REQUESTED":
            shop.refunds.reject(refunds[0].refund_id)
    except (errors.InvalidState, errors.NotAcceptable):
        pass  # not allowed from where the order is: nothing moved


ACTIONS = ("cancel", "expire", "pay", "ship", "receive", "auto_receive", "refund", "refund_all", "refunded",
           "refund_failed", "reject")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 3)), max_size=40))
def test_the_counts_equal_a_recount_after_every_step(steps):
    shop = Shop()
    ids = [shop.place() for _ in range(4)]
    shop.place(user="someone else")
    assert shop.orders.summary("u1") == shop.recount()
    for action, n in steps:
        step(shop, action, ids[n])
        assert shop.orders.summary("u1") == shop.recount(), (action, shop.orders_repo.get(ids[n]).status)
    assert shop.orders.summary("someone else") == {**ZERO, "PENDING_PAYMENT": 1}


def test_a_balance_paid_order_counts_as_paid_and_a_deleted_one_not_at_all():
    shop = Shop()
    shop.pay.unavailable = True  # the prepay fails: the new order is deleted at once
    with pytest.raises(errors.UpstreamUnavailable):
        shop.place()
    assert shop.orders.summary("u1") == ZERO
    shop.pay.unavailable = False
    tx = shop.store.tx()
    order = replace(an_order(), order_id="ob", user_id="u1")
    shop.orders_repo.stage_create(tx, rules.pay_from_balance(order, {"principal": 100, "bonus": 0}, "t").after,
                                  on_exists=Exception)
    tx.commit()
    assert shop.orders.summary("u1") == {**ZERO, "PAID": 1}


# -- the backfill job ----------------------------------------------------------------------

class Progress(dict):
    def set(self, key, value):
        self[key] = dict(value)


def backfill(shop: Shop, budget_s=60.0, first_day="2026-11-20", monotonic=None):
    from layers.services.order_counts import OrderCountsBackfill

    return OrderCountsBackfill(orders=shop.orders_repo, refunds=shop.refunds_repo, progress=shop.progress,
                               first_day=lambda: first_day, clock=shop.clock, new_tx=shop.store.tx,
                               budget_s=budget_s, **({"monotonic": monotonic} if monotonic else {}))


def forget_counts(shop: Shop) -> None:
    """As the store was before the counts: orders not counted, no counters."""
    for key, value in list(shop.store.items.items()):
        if key[0] == "order":
            shop.store.items[key] = replace(value, counted=False)
        elif key[0] == "order_counts":
            del shop.store.items[key]


@pytest.fixture
def legacy():
    """A shopper's orders in every status, stored before the counts existed."""
    shop = Shop()
    shop.progress = Progress()
    ids = [shop.place() for _ in range(7)]
    for order_id in ids[1:]:
        step(shop, "pay", order_id)
    for order_id in ids[3:]:
        step(shop, "ship", order_id)
    step(shop, "receive", ids[4])
    step(shop, "refund", ids[5])
    step(shop, "refund", ids[6])
    step(shop, "refunded", ids[6])
    step(shop, "cancel", ids[0])
    ids.append(shop.place())
    shop.ids = ids
    expected = shop.recount()
    assert expected == {"PENDING_PAYMENT": 1, "PAID": 2, "SHIPPED": 2, "after_sales": 1}
    forget_counts(shop)
    assert shop.orders.summary("u1") == ZERO
    return shop, expected


def test_the_backfill_counts_the_orders_stored_before_the_counts_once(legacy):
    shop, expected = legacy
    result = backfill(shop).run()
    assert result["done"] is True and result["counted"] == 6
    assert shop.orders.summary("u1") == expected
    again = backfill(shop).run()  # a new pass finds nothing left
    assert again["done"] is True and again["counted"] == 0
    assert shop.orders.summary("u1") == expected


def test_a_transition_before_the_backfill_counts_the_order_where_it_goes(legacy):
    shop, expected = legacy
    step(shop, "ship", shop.ids[1])  # PAID, not counted -> SHIPPED, counted
    step(shop, "pay", shop.ids[-1])
    assert shop.orders.summary("u1") == {**ZERO, "PAID": 1, "SHIPPED": 1}
    backfill(shop).run()
    assert shop.orders.summary("u1") == shop.recount() == {**expected, "PAID": 2, "SHIPPED": 3,
                                                           "PENDING_PAYMENT": 0}


def test_a_decision_from_a_read_before_the_backfill_counted_it_is_stale(legacy):
    shop, _ = legacy
    read = shop.orders_repo.get(shop.ids[1])  # not counted yet
    backfill(shop).run()
    tx = shop.store.tx()
    shop.orders_repo.stage_change(tx, read, rules.ship(read, "t", "t").after, on_stale=errors.InvalidState)
    with pytest.raises(errors.InvalidState):  # it would count the order a second time
        tx.commit()
    step(shop, "ship", shop.ids[1])  # read again: moved once
    assert shop.orders.summary("u1") == shop.recount()


def test_the_backfill_walks_the_days_in_runs_within_its_budget(legacy):
    shop, expected = legacy
    ticks = iter(range(10_000))
    first = backfill(shop, budget_s=3, first_day="2026-10-01", monotonic=lambda: next(ticks)).run()
    assert first["done"] is False and first["next_day"] is not None
    runs = 1
    while not backfill(shop, budget_s=3, first_day="2026-10-01", monotonic=lambda: next(ticks)).run()["done"]:
        runs += 1
    assert runs > 5  # the days from the fake clock's day back to October, a few per run
    assert shop.orders.summary("u1") == expected


def test_without_products_there_is_no_paid_day_to_walk(legacy):
    shop, expected = legacy
    result = backfill(shop, first_day=None).run()
    assert result["done"] is True
    # unpaid orders and refunds in flight are counted still; paid ones need the days
    assert shop.orders.summary("u1") == {**ZERO, "PENDING_PAYMENT": 1, "after_sales": 1}
