"""Property: whatever random sequence of top-ups, balance and points orders,
refunds (of orders and of top-ups, WeChat agreeing, refusing or not answering) and
closes happens, every book equals the sum of its entries and no balance goes negative."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain.catalog import Sku
from layers.domain.members import POINTS, Movement
from tests.fakes.member_shop import MemberShop

USERS = ("u1", "u2")

op = st.one_of(
    st.tuples(st.just("top_up"), st.sampled_from(USERS), st.integers(1, 20000), st.integers(0, 3000)),
    st.tuples(st.just("balance_order"), st.sampled_from(USERS), st.sampled_from(("s1", "s2")), st.integers(1, 3)),
    st.tuples(st.just("points_order"), st.sampled_from(USERS), st.integers(1, 3000), st.booleans()),
    st.tuples(st.just("refund_order"), st.integers(0, 20), st.one_of(st.none(), st.integers(1, 9000))),
    st.tuples(st.just("refund_top_up"), st.integers(0, 20), st.sampled_from(("SUCCESS", "REFUSED", "SILENT"))),
    st.tuples(st.just("complete"), st.integers(0, 20)),
    st.tuples(st.just("sweep"),),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25))
def test_every_book_equals_its_entries_and_never_goes_negative(ops):
    shop = MemberShop()
    shop.store.items[("sku", "s1")] = Sku(sku_id="s1", product_id="p1", title="茶", category="tea",
                                          price=3333, stock=1000)
    shop.store.items[("sku", "s2")] = Sku(sku_id="s2", product_id="p2", title="壶", category="tea",
                                          price=7001, stock=1000)
    for user in USERS:  # some points to spend
        tx = shop.store.tx()
        shop.members_repo.stage_move(tx, Movement(user, POINTS, "test#grant", "grant", "2026-11-29T00:00:00Z",
                                                  available=2000), None, None)
        tx.commit()
    orders: list[tuple[str, str]] = []
    top_ups: list[str] = []
    for step in ops:
        try:
            _run(shop, step, orders, top_ups)
        except errors.DomainError:
            pass  # refused (409/422): it must have changed nothing, which the books show
        shop.deliver_events()
        for user in USERS:
            shop.assert_books_equal_ledgers(user)
    # the money never appears or vanishes: credited - debited = held, for each shopper
    for user in USERS:
        b = shop.book(user)
        assert b.principal >= 0 and b.bonus >= 0


def _run(shop: MemberShop, step: tuple, orders: list, top_ups: list) -> None:
    kind = step[0]
    if kind == "top_up":
        _, user, pay, bonus = step
        top_ups.append(shop.top_up(user=user, pay=pay, bonus=bonus)["id"])
    elif kind == "balance_order":
        _, user, sku, quantity = step
        order = shop.place(user=user, sku=sku, quantity=quantity, pay_with="balance")
        orders.append((user, order["id"]))
    elif kind == "points_order":
        _, user, points, pay = step
        order = shop.place(user=user, points=points)
        if pay:
            shop.orders.mark_paid(order["id"], shop.pay.pay(order["id"]))
            orders.append((user, order["id"]))
        else:
            shop.orders.close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    elif kind == "refund_order" and orders:
        _, index, amount = step
        user, order_id = orders[index % len(orders)]
        refund = shop.refund(order_id, amount=amount, user=user)
        if refund["status"] == "PROCESSING":  # a WeChat-paid order: WeChat answers
            shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    elif kind == "refund_top_up" and top_ups:
        _, index, outcome = step
        top_up_id = top_ups[index % len(top_ups)]
        if outcome == "REFUSED":
            shop.pay.fault("refund", "INVALID_REQUEST")
        shop.pay.unavailable = outcome == "SILENT"
        shop.pay.refund_status = "SUCCESS"
        try:
            shop.top_ups.refund(top_up_id)
        finally:
            shop.pay.unavailable = False
    elif kind == "complete" and orders:
        _, index = step
        user, order_id = orders[index % len(orders)]
        order = shop.orders_repo.get(order_id)
        if order.status == "PAID":
            shop.orders.ship(order_id)
            shop.orders.confirm_receipt(user, order_id)
    elif kind == "sweep":
        shop.top_ups.sweep()
        shop.refunds.sweep()
