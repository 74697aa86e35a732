"""The order and refund services over in-memory repositories: every rule of an order's
life, in milliseconds, without Java. Concurrency and the money invariants under real
conditions are proven again on DynamoDB Local (tests/integration/)."""

from __future__ import annotations

import pytest

from functions.schemas import PlaceOrderInput, RefundInput
from layers.domain import errors
from layers.domain.catalog import Sku
from layers.services.orders import PaymentMismatch
from tests.fakes.shop import FakeShop


class Shop(FakeShop):
    def add_sku(self, sku_id="s1", price=1500, stock=5) -> None:
        self.store.items[("sku", sku_id)] = Sku(sku_id=sku_id, product_id="p1", title="龙井", category="tea",
                                                price=price, stock=stock)

    def ledger_total(self, kind: str) -> int:
        return sum(v for k, v in self.store.items.items() if k[0] == "ledger" and k[2] == kind)

    def stock_of(self, sku_id="s1") -> int:
        return self.store.items[("sku", sku_id)].stock

    def place(self, quantity=2, key=None, user="u1") -> dict:
        body = PlaceOrderInput.model_validate({
            "items": [{"sku_id": "s1", "quantity": quantity}],
            "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
        return self.orders.place_order(user, body, key)

    def paid(self, order_id: str) -> dict:
        self.orders.mark_paid(order_id, self.pay.pay(order_id))
        return self.orders.get_for_user("u1", order_id)

    def refund(self, order_id: str, amount=None, key=None) -> dict:
        body = RefundInput(amount=amount, reason="不想要了")
        return self.refunds.request_refund("u1", order_id, body, key)


@pytest.fixture
def shop():
    s = Shop()
    s.add_sku()
    return s


def test_placing_prices_on_the_server_holds_stock_and_answers_payment(shop):
    order = shop.place(quantity=2)
    assert order["status"] == "PENDING_PAYMENT"
    assert order["amounts"]["payable"] == 3000
    assert order["payment"]["package"] == f"prepay_id=wx-prepay-{order['id']}"
    assert shop.stock_of() == 3
    assert shop.expiry.scheduled == [order["id"]]


def test_a_retried_placement_is_the_same_order(shop):
    first = shop.place(key="k1")
    again = shop.place(key="k1")
    assert again["id"] == first["id"] and shop.stock_of() == 3
    with pytest.raises(errors.IdempotencyKeyReused):
        shop.place(quantity=1, key="k1")


def test_no_stock_no_order(shop):
    with pytest.raises(errors.SoldOut):
        shop.place(quantity=6)
    assert shop.stock_of() == 5 and shop.store.scan(("order",)) == []


def test_a_failed_prepay_holds_nothing(shop):
    shop.pay.unavailable = True
    with pytest.raises(errors.UpstreamUnavailable):
        shop.place()
    assert shop.stock_of() == 5 and shop.store.scan(("order",)) == []


def test_cancel_gives_stock_back_once(shop):
    order = shop.place()
    assert shop.orders.cancel("u1", order["id"])["status"] == "CLOSED"
    assert shop.stock_of() == 5
    with pytest.raises(errors.InvalidState):
        shop.orders.cancel("u1", order["id"])
    assert shop.stock_of() == 5


def test_another_shoppers_order_is_not_found(shop):
    order = shop.place()
    with pytest.raises(errors.NotFound):
        shop.orders.get_for_user("u2", order["id"])
    with pytest.raises(errors.NotFound):
        shop.orders.cancel("u2", order["id"])


def test_payment_is_recorded_once_with_its_event_and_ledger_entry(shop):
    order = shop.place()
    trade = shop.pay.pay(order["id"])
    shop.orders.mark_paid(order["id"], trade)
    shop.orders.mark_paid(order["id"], trade)  # WeChat delivers again
    assert shop.orders.get_for_user("u1", order["id"])["status"] == "PAID"
    assert [m["event_id"] for m in shop.publisher.sent] == [f"order.paid:{order['id']}"]
    assert shop.ledger_total("PAY") == 3000
    assert shop.outbox.pending() == []


def test_a_payment_that_does_not_match_changes_nothing(shop):
    order = shop.place()
    trade = {**shop.pay.pay(order["id"]), "amount": {"total": 1}}
    with pytest.raises(PaymentMismatch):
        shop.orders.mark_paid(order["id"], trade)
    assert shop.orders.get_for_user("u1", order["id"])["status"] == "PENDING_PAYMENT"
    assert [a.kind for a in shop.anomalies.for_order(order["id"])] == ["PAYMENT_MISMATCH"]


def test_expiry_asks_wechat_first_and_a_paid_order_becomes_paid_not_closed(shop):
    order = shop.place()
    shop.pay.pay(order["id"])
    shop.clock.advance(3600)
    assert shop.orders.close_expired() == {"closed": 0, "paid": 1, "skipped": 0}
    assert shop.orders.get_for_user("u1", order["id"])["status"] == "PAID"
    assert shop.stock_of() == 3


def test_expiry_closes_at_wechat_then_here(shop):
    order = shop.place()
    shop.clock.advance(3600)
    assert shop.orders.close_expired()["closed"] == 1
    assert shop.pay.trades[order["id"]]["trade_state"] == "CLOSED"
    assert shop.stock_of() == 5


def test_paid_after_close_takes_the_stock_again(shop):
    order = shop.place()
    shop.orders.close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    assert shop.stock_of() == 5
    assert shop.paid(order["id"])["status"] == "PAID"
    assert shop.stock_of() == 3


def test_paid_after_close_with_the_stock_gone_is_refunded_in_full(shop):
    order = shop.place(quantity=5)
    shop.orders.close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    shop.place(quantity=5, user="u9")  # someone else buys everything
    shop.pay.refund_status = "SUCCESS"
    assert shop.paid(order["id"])["status"] == "REFUNDED"
    refund = shop.refunds_repo.for_order(order["id"])[0]
    assert (refund.amount, refund.status) == (7500, "SUCCESS")
    assert shop.stock_of() == 0  # its stock went back when it closed, and is not given twice


def test_ship_and_receipt_each_move_once(shop):
    order = shop.place()
    shop.paid(order["id"])
    assert shop.orders.ship(order["id"])["status"] == "SHIPPED"
    assert shop.orders.ship(order["id"])["status"] == "SHIPPED"
    assert shop.orders.confirm_receipt("u1", order["id"])["status"] == "COMPLETED"
    with pytest.raises(errors.InvalidState):
        shop.orders.ship(order["id"])
    assert [m["type"] for m in shop.publisher.sent] == ["order.paid", "order.completed"]


def test_receipt_is_confirmed_automatically_when_due(shop):
    order = shop.place()
    shop.paid(order["id"])
    shop.orders.ship(order["id"])
    assert shop.orders.auto_confirm_receipts() == {"confirmed": 0}
    shop.clock.advance(11 * 24 * 3600)
    assert shop.orders.auto_confirm_receipts() == {"confirmed": 1}


def test_a_full_refund_of_an_unshipped_order_gives_the_stock_back(shop):
    order = shop.place()
    shop.paid(order["id"])
    refund = shop.refund(order["id"])
    assert (refund["amount"], refund["status"], refund["automatic"]) == (3000, "PROCESSING", True)
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")
    shop.refunds.on_refund_result(refund["id"], "SUCCESS")  # WeChat delivers again
    after = shop.orders.get_for_user("u1", order["id"])
    assert (after["status"], after["refunded_amount"]) == ("REFUNDED", 3000)
    assert shop.stock_of() == 5
    assert shop.ledger_total("REFUND") == 3000


def test_refunds_never_exceed_the_payment(shop):
    order = shop.place()
    shop.paid(order["id"])
    shop.refund(order["id"], amount=2000)
    with pytest.raises(errors.NotAcceptable):
        shop.refund(order["id"], amount=1001)
    shop.refund(order["id"], amount=1000)
    assert shop.orders_repo.get(order["id"]).refund_room == 0


def test_a_failed_refund_gives_its_room_back(shop):
    order = shop.place()
    shop.paid(order["id"])
    refund = shop.refund(order["id"], amount=1000)
    shop.refunds.on_refund_result(refund["id"], "CLOSED")
    current = shop.orders_repo.get(order["id"])
    assert (current.status, current.refund_room, current.refunding_amount) == ("PAID", 3000, 0)


class RaceOnRead:
    """An order repository whose next read of `order_id` first lets another actor act:
    the read then returns what was there before the other actor's write, as a request
    that read just before would see it."""

    def __init__(self, inner, order_id, act):
        self.inner, self.order_id, self.act = inner, order_id, act

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get(self, order_id, consistent=False):
        snapshot = self.inner.get(order_id, consistent)
        if order_id == self.order_id and self.act is not None:
            act, self.act = self.act, None
            act()
        return snapshot


def test_two_refunds_finishing_together_leave_the_order_refunded(shop):
    order = shop.place()
    shop.paid(order["id"])
    first = shop.refund(order["id"], amount=1000)
    second = shop.refund(order["id"], amount=2000)
    # The second refund's notification reads the order; before it writes, the first finishes.
    other = shop.refund_service(shop.orders_repo)
    racing = shop.refund_service(RaceOnRead(shop.orders_repo, order["id"],
                                            lambda: other.on_refund_result(first["id"], "SUCCESS")))
    racing.on_refund_result(second["id"], "SUCCESS")
    after = shop.orders_repo.get(order["id"])
    assert (after.status, after.refunded_amount, after.refunding_amount) == ("REFUNDED", 3000, 0)
    assert shop.stock_of() == 5  # given back, once


def test_a_refund_finishing_while_another_is_requested(shop):
    order = shop.place()
    shop.paid(order["id"])
    first = shop.refund(order["id"], amount=1000)
    # The refund request reads the order; before it writes, the first refund finishes.
    other = shop.refund_service(shop.orders_repo)
    shop.refunds = shop.refund_service(RaceOnRead(shop.orders_repo, order["id"],
                                                  lambda: other.on_refund_result(first["id"], "SUCCESS")))
    second = shop.refund(order["id"], amount=2000)
    other.on_refund_result(second["id"], "SUCCESS")
    after = shop.orders_repo.get(order["id"])
    assert (after.status, after.refunded_amount, after.refund_room) == ("REFUNDED", 3000, 0)


def test_a_prepay_id_past_its_two_hours_is_asked_for_again(shop):
    order = shop.place()
    prepays = lambda: [c for c in shop.pay.calls if c[0] == "prepay"]  # noqa: E731
    assert len(prepays()) == 1
    shop.clock.advance(3600)
    assert shop.orders.get_for_user("u1", order["id"])["payment"] == order["payment"]
    assert len(prepays()) == 1  # still fresh: no call
    shop.clock.advance(2 * 3600)
    fresh = shop.orders.get_for_user("u1", order["id"])
    assert fresh["status"] == "PENDING_PAYMENT" and fresh["payment"] is not None
    assert prepays() == [("prepay", order["id"])] * 2  # the same out_trade_no
    stored = shop.orders_repo.get(order["id"])
    assert stored.prepay_at > order["created_at"]
    shop.pay.unavailable = True
    shop.clock.advance(3 * 3600)
    with pytest.raises(errors.UpstreamUnavailable):
        shop.orders.get_for_user("u1", order["id"])
    assert shop.orders_repo.get(order["id"]).status == "PENDING_PAYMENT"  # not closed: it may be paid


def test_every_kind_of_order_naming_no_channel_takes_the_last_visits_within_the_window(shop):
    """Placement and the campaigns' orders (flash sale, group, bargain) all go through
    `create_order`, which reads the last visit with what it prices from."""
    from datetime import timedelta

    from layers.clock import iso
    from layers.domain import pricing
    from layers.domain.channels import LastVisit

    window = shop.stock.load_settings().share_binding_ttl_s
    visits = {"u1": LastVisit("poster", iso(shop.clock.now() - timedelta(seconds=window)), 1011),
              "u2": LastVisit("poster", iso(shop.clock.now() - timedelta(seconds=window + 1)), 1011)}
    shop.reads.last_visits = visits
    assert shop.place(quantity=1)["channel"] == "poster"  # exactly the window: still the visit's
    assert "channel" not in shop.place(quantity=1, user="u2")  # a second past it: none
    for n, kind in enumerate(("flash", "group", "bargain")):
        line = pricing.Line(sku_id="s1", product_id="p1", title="龙井", category="tea", quantity=1, unit_price=1500)
        answer = shop.orders.create_order(
            user_id="u1", order_id=f"o-{kind}", lines=[line],
            reservations_=[{"kind": "sku", "sku_id": "s1", "quantity": 1}], coupon_id=None,
            address={"name": "张三", "phone": "13800000000", "detail": "1 号"}, share_token=None,
            digest=f"d{n}", idempotency_key=None, kind=kind, channel="sms" if kind == "bargain" else None)
        assert answer["channel"] == ("sms" if kind == "bargain" else "poster"), kind
