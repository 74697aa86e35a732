"""Members over in-memory repositories: balance payment and its refunds,
top-ups credited once and refunded to the unspent principal, points held, earned,
released and removed; every book equal to its entries."""

from __future__ import annotations

import pytest

from layers.domain import errors
from layers.domain import members as rules
from layers.domain.catalog import Sku
from layers.domain.members import BALANCE, POINTS
from tests.fakes.member_shop import MemberShop


@pytest.fixture
def shop():
    s = MemberShop()
    s.store.items[("sku", "s1")] = Sku(sku_id="s1", product_id="p1", title="龙井", category="tea",
                                       price=6000, stock=100)
    return s


def test_a_top_up_delivered_ten_times_credits_once(shop):
    shop.top_up(pay=10000, bonus=1000, times=10)
    book = shop.book()
    assert (book.principal, book.bonus) == (10000, 1000)
    assert [m["type"] for m in shop.publisher.sent] == ["top_up.paid"]
    shop.assert_books_equal_ledgers()


def test_a_balance_order_is_paid_at_once_and_split_in_proportion(shop):
    shop.top_up(pay=10000, bonus=1000)
    order = shop.place(pay_with="balance")
    assert order["status"] == "PAID" and order["payment"] is None and order["pay_with"] == "balance"
    stored = shop.orders_repo.get(order["id"])
    # 6000 of 11000: bonus ceil(6000 * 1000 / 11000) = 546, the rest principal
    assert stored.member["balance"] == {"principal": 5454, "bonus": 546}
    assert (shop.book().principal, shop.book().bonus) == (4546, 454)
    assert shop.expiry.scheduled == [] and ("prepay", order["id"]) not in shop.pay.calls
    shop.assert_books_equal_ledgers()


def test_not_enough_balance_is_409_and_changes_nothing(shop):
    shop.top_up(pay=5000, bonus=0)
    with pytest.raises(rules.InsufficientBalance) as e:
        shop.place(pay_with="balance")
    assert e.value.code == "INSUFFICIENT_BALANCE" and e.value.kind == "conflict"
    assert shop.book().principal == 5000 and shop.store.scan(("order",)) == []
    assert shop.store.items[("sku", "s1")].stock == 100


def test_a_partial_refund_of_a_balance_order_returns_principal_and_bonus_in_proportion(shop):
    shop.top_up(pay=10000, bonus=1000)
    order = shop.place(pay_with="balance")  # took 5454 principal + 546 bonus
    shop.refund(order["id"], amount=3000)  # bonus back floor(546 * 3000 / 6000) = 273
    assert (shop.book().principal, shop.book().bonus) == (4546 + 2727, 454 + 273)
    shop.refund(order["id"])  # the rest: all of both parts back, exactly
    assert (shop.book().principal, shop.book().bonus) == (10000, 1000)
    assert shop.orders_repo.get(order["id"]).status == "REFUNDED"
    assert not [c for c in shop.pay.calls if c[0] == "refund"]  # never WeChat
    shop.assert_books_equal_ledgers()


def test_a_top_up_refund_after_spending_returns_exactly_the_unspent_principal(shop):
    shop.store.items[("sku", "s2")] = Sku(sku_id="s2", product_id="p2", title="茶", category="tea",
                                          price=5500, stock=10)
    top_up = shop.top_up(pay=10000, bonus=1000)
    shop.place(sku="s2", pay_with="balance")  # 5000 principal + 500 bonus
    shop.pay.refund_status = "SUCCESS"
    refund = shop.top_ups.refund(top_up["id"])
    assert refund["amount"] == 5000 and refund["bonus_forfeited"] == 500 and refund["status"] == "SUCCESS"
    assert shop.pay.refunds_of(top_up["id"])[0]["amount"]["refund"] == 5000
    assert (shop.book().principal, shop.book().bonus) == (0, 0)
    assert shop.top_ups.refund(top_up["id"])["status"] == "SUCCESS"  # again: nothing more
    assert len(shop.pay.refunds_of(top_up["id"])) == 1
    shop.assert_books_equal_ledgers()


def test_a_top_up_refund_wechat_refuses_is_credited_back_once(shop):
    top_up = shop.top_up(pay=10000, bonus=1000)
    shop.pay.fault("refund", "INVALID_REQUEST")
    refund = shop.top_ups.refund(top_up["id"])
    assert refund["status"] == "FAILED"
    assert (shop.book().principal, shop.book().bonus) == (10000, 1000)
    shop.assert_books_equal_ledgers()


def test_a_top_up_refund_without_an_answer_stays_debited_and_the_sweep_finishes_it(shop):
    top_up = shop.top_up(pay=10000, bonus=0)
    shop.pay.unavailable = True
    assert shop.top_ups.refund(top_up["id"])["status"] == "PROCESSING"
    assert shop.book().principal == 0
    shop.pay.unavailable = False
    shop.pay.refund_status = "SUCCESS"
    shop.top_ups.sweep()
    assert shop.top_ups_repo.get(top_up["id"]).status == "REFUNDED"
    assert len(shop.pay.refunds) == 1
    shop.assert_books_equal_ledgers()


def test_points_held_by_an_order_go_back_once_when_it_closes(shop):
    shop.members_repo.save_levels([])
    _give_points(shop, 1000)
    order = shop.place(points=500)  # at most 50% of 6000 fen: 500 points of 1 fen each fit
    assert order["amounts"]["points_discount"] == 500 and order["amounts"]["payable"] == 5500
    assert shop.book(book=POINTS).available == 500
    shop.orders.cancel("u1", order["id"])
    shop.orders.close_unpaid(order["id"], reason="EXPIRED")
    assert shop.book(book=POINTS).available == 1000
    shop.assert_books_equal_ledgers()


def test_points_are_capped_by_the_ratio_and_short_points_are_409(shop):
    _give_points(shop, 10000)
    order = shop.place(points=9999)
    assert order["amounts"]["points_discount"] == 3000  # 50% of 6000
    shop.orders.cancel("u1", order["id"])
    shop.members_repo.store.items[("book", "u1", POINTS)] = rules.Book("u1", available=10)
    with pytest.raises(errors.DomainError) as e:
        shop.place(points=100)
    assert e.value.code == "INSUFFICIENT_POINTS"


def test_points_earned_frozen_released_at_completion_and_removed_on_refund(shop):
    order = shop.place()
    shop.orders.mark_paid(order["id"], shop.pay.pay(order["id"]))
    shop.deliver_events()
    points = shop.book(book=POINTS)
    assert (points.available, points.frozen, points.growth) == (0, 60, 6000)
    shop.orders.ship(order["id"])
    shop.orders.confirm_receipt("u1", order["id"])
    shop.deliver_events()
    shop.deliver_events()
    points = shop.book(book=POINTS)
    assert (points.available, points.frozen) == (60, 0)
    shop.refunds.approve(shop.refund(order["id"], amount=3000)["id"])
    shop.pay.refund_status = "SUCCESS"
    refund = shop.refunds.for_order(order["id"])[0]
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    shop.deliver_events()
    points = shop.book(book=POINTS)
    assert (points.available, points.frozen, points.growth) == (30, 0, 3000)
    shop.assert_books_equal_ledgers()


def test_a_refund_before_completion_removes_frozen_points_first(shop):
    order = shop.place()
    shop.orders.mark_paid(order["id"], shop.pay.pay(order["id"]))
    shop.deliver_events()
    shop.refund(order["id"], amount=2000)
    refund = shop.refunds.for_order(order["id"])[0]
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    shop.deliver_events()
    points = shop.book(book=POINTS)
    assert (points.available, points.frozen) == (0, 40)  # 20 of 60 removed
    shop.assert_books_equal_ledgers()


def test_membership_shows_level_growth_points_and_balance(shop):
    from functions.schemas import MemberLevelsInput

    shop.members.set_levels(MemberLevelsInput.model_validate(
        {"levels": [{"name": "银卡", "min_growth": 5000, "discount_bps": 200}, {"name": "普通", "min_growth": 0}]}))
    shop.top_up(pay=10000, bonus=1000)
    order = shop.place(pay_with="balance")
    shop.deliver_events()
    view = shop.members.membership("u1")
    assert view == {"level": {"name": "银卡", "discount_bps": 200}, "growth": 6000,
                    "points": {"available": 0, "frozen": 60}, "balance": {"principal": 4546, "bonus": 454}}
    entries, _ = shop.members.entries("u1", BALANCE, 20, None)
    kinds = {e["id"]: (e["kind"], e["amount"]) for e in entries}
    assert kinds[f"order#{order['id']}#pay"] == ("order_payment", -6000)
    assert sum(e["amount"] for e in entries) == 4546 + 454


def _give_points(shop, n: int) -> None:
    tx = shop.store.tx()
    shop.members_repo.stage_move(tx, rules.Movement("u1", POINTS, "test#grant", "grant", "2026-11-29T00:00:00Z",
                                                    available=n), None, None)
    tx.commit()


def test_the_member_level_discount_comes_off_the_goods_before_points(shop):
    from functions.schemas import MemberLevelsInput

    shop.members.set_levels(MemberLevelsInput.model_validate(
        {"levels": [{"name": "金卡", "min_growth": 100, "discount_bps": 333}]}))
    order = shop.place()  # growth 0: no level yet
    assert "member_discount" not in order["amounts"] and order["amounts"]["payable"] == 6000
    shop.orders.mark_paid(order["id"], shop.pay.pay(order["id"]))
    shop.deliver_events()  # growth 6000: 金卡
    _give_points(shop, 100000)
    second = shop.place(points=100000)
    # 3.33% of 6000 = 199.8, rounded up to 200; points at most 50% of the 5800 left
    assert second["amounts"]["member_discount"] == 200
    assert second["amounts"]["points_discount"] == 2900
    assert second["amounts"]["payable"] == 6000 - 200 - 2900


def test_a_payment_for_a_top_up_closed_a_moment_earlier_is_credited_once(shop):
    """WeChat took the payment just before our close reached it: the notification that
    follows credits the closed top-up once, whatever the number of deliveries."""
    from functions.schemas import TopUpInput, TopUpPlanInput

    plan = shop.top_ups.create_plan(TopUpPlanInput(pay=5000, bonus=500))
    top_up = shop.top_ups.create("u1", TopUpInput(plan_id=plan["id"]), None)
    shop.clock.advance(901)  # past the shop's 900 s payment window
    assert shop.top_ups.close_expired()["closed"] == 1
    assert shop.top_ups_repo.get(top_up["id"]).status == "CLOSED"
    assert shop.top_ups_repo.unpaid_count("u1") == 0
    trade = shop.pay.pay(top_up["id"])
    for _ in range(3):
        shop.top_ups.on_paid(trade)
    assert (shop.book().principal, shop.book().bonus) == (5000, 500)
    assert shop.top_ups_repo.get(top_up["id"]).status == "PAID"
    assert shop.top_ups_repo.unpaid_count("u1") == 0  # released once, by the close
    assert [m["type"] for m in shop.publisher.sent] == ["top_up.paid"]
    assert shop.anomalies.for_order(top_up["id"]) == []  # not a DUPLICATE_PAYMENT
    shop.assert_books_equal_ledgers()


def test_a_close_whose_outcome_is_unknown_leaves_the_top_up_unpaid_for_the_next_run(shop):
    from functions.schemas import TopUpInput, TopUpPlanInput
    from layers.domain.payment_gateway import WeChatPayUnavailable

    plan = shop.top_ups.create_plan(TopUpPlanInput(pay=5000, bonus=0))
    top_up = shop.top_ups.create("u1", TopUpInput(plan_id=plan["id"]), None)
    shop.clock.advance(901)
    real = shop.pay.close_order

    def timeout(out_trade_no):
        raise WeChatPayUnavailable(0, "TIMEOUT", "no answer")

    shop.pay.close_order = timeout
    assert shop.top_ups.close_expired() == {"closed": 0, "paid": 0, "skipped": 1}
    assert shop.top_ups_repo.get(top_up["id"]).status == "PENDING_PAYMENT"
    assert shop.top_ups_repo.unpaid_count("u1") == 1
    shop.pay.close_order = real
    assert shop.top_ups.close_expired() == {"closed": 1, "paid": 0, "skipped": 0}
    assert shop.top_ups_repo.unpaid_count("u1") == 0


def test_a_repeat_after_the_window_closes_the_old_top_up_and_makes_a_new_one(shop):
    from functions.schemas import TopUpInput, TopUpPlanInput

    plan = shop.top_ups.create_plan(TopUpPlanInput(pay=5000, bonus=0))
    first = shop.top_ups.create("u1", TopUpInput(plan_id=plan["id"]), None)
    shop.clock.advance(900 - 30)  # 30 s left: too little to pay, not handed out again
    second = shop.top_ups.create("u1", TopUpInput(plan_id=plan["id"]), None)
    assert second["id"] != first["id"] and second["payment"] is not None
    assert shop.top_ups_repo.get(first["id"]).status == "CLOSED"
    assert shop.pay.trades[first["id"]]["trade_state"] == "CLOSED"
    assert shop.top_ups_repo.unpaid_count("u1") == 1
