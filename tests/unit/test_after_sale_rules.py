"""After-sales, pure: every transition with its history entry, the window, the amount's
bounds, and a property over random sequences of after-sales and their refunds: the
order never refunds more than it was paid, nor any line more than it paid."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import after_sale as rules
from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain.order import Order

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = 86400
ADDRESS = {"name": "退货仓", "phone": "13800000000", "detail": "上海市浦东新区 1 号"}


def _order(items=None, status=order_rules.COMPLETED, completed=NOW - timedelta(days=1), **changes) -> Order:
    items = items or ({"sku_id": "a", "product_id": "p", "quantity": 3, "unit_price": 1000, "paid": 2000},
                      {"sku_id": "b", "product_id": "p", "quantity": 1, "unit_price": 500, "paid": 400})
    paid = sum(i["paid"] for i in items)
    goods = sum(i["unit_price"] * i["quantity"] for i in items)
    order = Order(order_id="o1", user_id="u1", openid="op", status=status, items=tuple(items),
                  amounts={"goods": goods, "discount": goods - paid, "shipping": 0, "payable": paid},
                  created_at="2026-11-20T00:00:00Z", expires_at="2026-11-20T00:15:00Z",
                  paid_at="2026-11-20T00:01:00Z", paid_amount=paid, refund_room=paid,
                  shipped_at="2026-11-21T00:00:00Z",
                  completed_at=completed.strftime("%Y-%m-%dT%H:%M:%SZ") if completed else None)
    return replace(order, **changes)


def _request(order=None, kind="return_refund", items=({"sku_id": "a", "quantity": 2},), reason="DAMAGED",
             amount=None, now=NOW, window=7 * DAY, auto=2 * DAY) -> rules.AfterSale:
    return rules.request(after_sale_id="o1Ax", order=order or _order(), kind=kind, items=items,
                         reason_code=reason, amount=amount, description="坏了", images=("https://img/1.jpg",),
                         now=now, window_s=window, auto_approve_s=auto, request_hash="h").after


def test_a_request_defaults_to_what_the_units_paid_and_waits_for_an_answer():
    t = rules.request(after_sale_id="o1Ax", order=_order(), kind="return_refund",
                      items=[{"sku_id": "a", "quantity": 2}], reason_code="DAMAGED", amount=None,
                      description=None, images=(), now=NOW, window_s=7 * DAY, auto_approve_s=2 * DAY,
                      request_hash="h")
    a = t.after
    assert (a.status, a.amount, a.lines) == ("REQUESTED", 1333, ({"line": 0, "sku_id": "a", "units": 2},))
    assert a.history == ({"status": "REQUESTED", "by": "user:u1", "at": "2026-12-01T08:00:00Z"},)
    assert a.auto_approve_at == "2026-12-03T08:00:00Z"
    assert rules.queue_of(a) == (rules.AUTO_APPROVE, "2026-12-03T08:00:00Z")
    assert t.events == ()
    assert rules.counted_moves(None, a) == 1


def test_no_auto_approval_when_it_is_off():
    a = _request(auto=0)
    assert a.auto_approve_at is None and rules.queue_of(a) is None


def test_the_amount_may_be_less_never_more_than_the_units_paid_nor_the_room():
    assert _request(amount=1000).amount == 1000
    with pytest.raises(errors.AmountTooLarge):
        _request(amount=1334)
    with pytest.raises(errors.AmountTooLarge):
        _request(order=_order(refund_room=1000), amount=1200)


def test_an_exchange_moves_no_money():
    assert _request(kind="exchange", amount=500).amount == 0


def test_only_shipped_or_completed_orders_within_the_window():
    assert _request(order=_order(status=order_rules.SHIPPED, completed=None)).status == "REQUESTED"
    for status in (order_rules.PAID, order_rules.PENDING, order_rules.CLOSED, order_rules.REFUNDED):
        with pytest.raises(errors.AfterSalesClosed):
            _request(order=_order(status=status, completed=None))
    with pytest.raises(errors.AfterSalesClosed):
        _request(order=_order(completed=NOW - timedelta(days=8)))
    with pytest.raises(errors.AfterSalesClosed):
        _request(window=0)
    # an order refunding another line is still the completed order it was
    refunding = _order(status=order_rules.REFUNDING, status_before_refund=order_rules.COMPLETED)
    assert _request(order=refunding).status == "REQUESTED"


def test_a_reason_must_fit_the_kind():
    with pytest.raises(errors.InvalidRequest):
        _request(kind="refund_only", reason="NO_LONGER_WANTED")
    with pytest.raises(errors.InvalidRequest):
        _request(reason="NOPE")
    with pytest.raises(errors.InvalidRequest):
        _request(kind="swap")


def test_units_the_order_does_not_have_are_refused():
    with pytest.raises(errors.NotAcceptable):
        _request(items=({"sku_id": "a", "quantity": 4},))
    with pytest.raises(errors.NotAcceptable):
        _request(items=({"sku_id": "zz", "quantity": 1},))


def test_approving_a_return_waits_for_the_goods_at_the_merchants_address():
    a = _request()
    t = rules.approve(a, "owner", NOW, ADDRESS, 7 * DAY, "请寄回")
    after = t.after
    assert (after.status, after.return_address, after.return_due_at) == (
        "AWAITING_RETURN", ADDRESS, "2026-12-08T08:00:00Z")
    assert after.history[-1] == {"status": "AWAITING_RETURN", "by": "owner", "at": "2026-12-01T08:00:00Z",
                                 "note": "请寄回"}
    assert after.version == a.version + 1 and after.auto_approve_at is None
    assert rules.queue_of(after) == (rules.RETURN_DUE, "2026-12-08T08:00:00Z")
    assert t.events[0].type == "after_sale.approved" and t.events[0].payload["return_address"] == ADDRESS
    with pytest.raises(errors.InvalidState):
        rules.approve(after, "owner", NOW, ADDRESS, 7 * DAY)
    with pytest.raises(errors.InvalidState):
        rules.approve(a, "owner", NOW, None, 7 * DAY)


def test_a_refund_only_is_approved_by_its_refund():
    a = _request(kind="refund_only", reason="NOT_RECEIVED")
    with pytest.raises(errors.InvalidState):
        rules.approve(a, "owner", NOW, ADDRESS, DAY)
    assert rules.refund_due(a)
    t = rules.start_refund(a, "owner", "o1Rr", NOW)
    assert (t.after.status, t.after.refund_id, t.after.refunded_from, t.after.refund_attempts) == (
        "REFUNDING", "o1Rr", "REQUESTED", 1)
    assert [e.type for e in t.events] == ["after_sale.approved"]
    assert rules.counted_moves(a, t.after) == -1  # counted through its order's REFUNDING


def test_the_refund_ends_it_or_sends_it_back_to_try_again():
    a = rules.start_refund(_request(kind="refund_only", reason="NOT_RECEIVED"), "owner", "o1Rr", NOW).after
    done = rules.refund_ended(a, "o1Rr", True, NOW)
    assert done.after.status == "REFUNDED" and done.events[0].type == "after_sale.refunded"
    assert rules.refund_ended(done.after, "o1Rr", True, NOW) is None  # told twice: nothing
    failed = rules.refund_ended(a, "o1Rr", False, NOW).after
    assert failed.status == "REQUESTED" and failed.history[-1]["note"] == "退款失败，可重新处理"
    assert rules.refund_key(failed) != rules.refund_key(_request(kind="refund_only", reason="NOT_RECEIVED"))
    assert rules.refund_ended(a, "other", True, NOW) is None
    # a refund recorded as failed that succeeded after all: the money moved
    assert rules.refund_ended(failed, "o1Rr", True, NOW).after.status == "REFUNDED"


def test_a_return_goes_back_then_is_received_then_refunded():
    a = rules.approve(_request(), "owner", NOW, ADDRESS, 7 * DAY).after
    sent = rules.send_back(a, "user:u1", "SF", "SF123", NOW).after
    assert (sent.status, sent.return_shipping, sent.return_due_at) == (
        "RETURNING", {"express_company": "SF", "tracking_no": "SF123"}, None)
    corrected = rules.send_back(sent, "user:u1", "SF", "SF124", NOW).after
    assert corrected.return_shipping["tracking_no"] == "SF124"
    assert not rules.refund_due(corrected)
    received = rules.receive(corrected, "owner", True, NOW).after
    assert received.received_at and received.restocked and rules.refund_due(received)
    with pytest.raises(errors.InvalidState):
        rules.receive(received, "owner", True, NOW)
    with pytest.raises(errors.InvalidState):
        rules.send_back(received, "user:u1", "SF", "X", NOW)
    t = rules.start_refund(received, "owner", "o1Rr", NOW)
    assert t.after.refunded_from == "RETURNING" and t.events == ()
    assert rules.refund_ended(t.after, "o1Rr", False, NOW).after.status == "RETURNING"


def test_goods_that_arrive_before_their_tracking_number_are_received():
    waiting = rules.approve(_request(), "owner", NOW, ADDRESS, 7 * DAY).after
    received = rules.receive(waiting, "owner", False, NOW).after
    assert (received.status, received.return_due_at, rules.queue_of(received)) == ("RETURNING", None, None)
    assert rules.refund_due(received)
    with pytest.raises(errors.InvalidState):
        rules.receive(_request(), "owner", False, NOW)


def test_an_exchange_ships_a_replacement_once_the_goods_came_back():
    a = rules.approve(_request(kind="exchange"), "owner", NOW, ADDRESS, 7 * DAY).after
    sent = rules.send_back(a, "user:u1", "SF", "SF1", NOW).after
    with pytest.raises(errors.InvalidState):
        rules.ship_replacement(sent, "owner", {"logistics_type": "express"}, NOW)
    received = rules.receive(sent, "owner", False, NOW).after
    assert not received.restocked and not rules.refund_due(received)
    done = rules.ship_replacement(received, "owner", {"logistics_type": "express", "express_company": "SF",
                                                      "tracking_no": "SF2"}, NOW).after
    assert done.status == "EXCHANGED" and done.replacement_shipping["tracking_no"] == "SF2"


def test_reject_cancel_and_the_return_window():
    a = _request()
    rejected = rules.reject(a, "owner", "照片看不出破损", NOW)
    assert (rejected.after.status, rejected.after.reject_reason) == ("REJECTED", "照片看不出破损")
    assert rejected.events[0].payload["reason"] == "照片看不出破损"
    assert rules.cancel(a, "user:u1", NOW).after.status == "CANCELLED"
    waiting = rules.approve(a, "owner", NOW, ADDRESS, DAY).after
    assert rules.cancel(waiting, "user:u1", NOW).after.status == "CANCELLED"
    with pytest.raises(errors.InvalidState):
        rules.close_unreturned(waiting, NOW)
    assert not rules.return_overdue(waiting, NOW)
    later = NOW + timedelta(days=1)
    assert rules.return_overdue(waiting, later)
    closed = rules.close_unreturned(waiting, later).after
    assert closed.status == "CLOSED" and closed.history[-1]["by"] == "system"
    for ended in (rejected.after, closed):
        with pytest.raises(errors.InvalidState):
            rules.cancel(ended, "user:u1", NOW)
        assert rules.counted_moves(waiting, ended) == -1


def test_the_auto_approval_timer():
    a = _request(auto=DAY)
    assert not rules.auto_approve_due(a, NOW)
    assert rules.auto_approve_due(a, NOW + timedelta(days=1))


def test_ids_derive_from_the_key():
    assert rules.after_sale_id_for("o1", "u1", "k") == rules.after_sale_id_for("o1", "u1", "k")
    assert rules.after_sale_id_for("o1", "u1", "k") != rules.after_sale_id_for("o1", "u2", "k")
    assert rules.order_id_of(rules.after_sale_id_for("o1", "u1", None)) == "o1"


# -- the money property -------------------------------------------------------------------

@st.composite
def _orders(draw):
    n = draw(st.integers(1, 3))
    items = []
    for i in range(n):
        q = draw(st.integers(1, 4))
        price = draw(st.integers(1, 3000))
        paid = draw(st.integers(0, price * q))
        items.append({"sku_id": f"s{i}", "product_id": "p", "quantity": q, "unit_price": price, "paid": paid})
    if sum(i["paid"] for i in items) == 0:
        items[0]["paid"] = 1
    return _order(items=items)


@settings(max_examples=200, deadline=None)
@given(_orders(), st.data())
def test_after_sales_and_refunds_never_refund_more_than_was_paid(order, data):
    """Random after-sales (any amount asked), their refunds (succeeding or failing) and
    plain refunds of lines, in any order: refunded + in flight never exceeds the payment,
    nor any line's its paid."""
    open_sales: list[rules.AfterSale] = []
    in_flight: list[tuple[str, int, tuple, rules.AfterSale | None]] = []
    refunded_by_line: dict[int, int] = {}
    n = 0
    for _ in range(data.draw(st.integers(1, 12))):
        op = data.draw(st.sampled_from(["ask", "refund", "end", "plain"]))
        n += 1
        if op == "ask":
            sku = data.draw(st.sampled_from([i["sku_id"] for i in order.items]))
            quantity = data.draw(st.integers(1, 4))
            amount = data.draw(st.one_of(st.none(), st.integers(1, 20000)))
            try:
                a = rules.request(after_sale_id=f"o1A{n}", order=order, kind="refund_only",
                                  items=[{"sku_id": sku, "quantity": quantity}], reason_code="DAMAGED",
                                  amount=amount, description=None, images=(), now=NOW, window_s=7 * DAY,
                                  auto_approve_s=0, request_hash=None).after
            except (errors.NotAcceptable, errors.AmountTooLarge, errors.AfterSalesClosed):
                continue
            open_sales.append(a)
        elif op == "refund" and open_sales:
            a = open_sales.pop(data.draw(st.integers(0, len(open_sales) - 1)))
            try:
                amount, lines, change = order_rules.request_line_refund(order, list(a.items), a.amount)
            except (errors.NotAcceptable, errors.AmountTooLarge, errors.InvalidState):
                continue
            assert amount == a.amount
            order = change.after
            in_flight.append((f"r{n}", amount, lines, rules.start_refund(a, "owner", f"r{n}", NOW).after))
        elif op == "plain":
            sku = data.draw(st.sampled_from([i["sku_id"] for i in order.items]))
            try:
                amount, lines, change = order_rules.request_line_refund(order, [{"sku_id": sku, "quantity": 1}])
            except (errors.NotAcceptable, errors.InvalidState):
                continue
            order = change.after
            in_flight.append((f"r{n}", amount, lines, None))
        elif op == "end" and in_flight:
            refund_id, amount, lines, a = in_flight.pop(data.draw(st.integers(0, len(in_flight) - 1)))
            ok = data.draw(st.booleans())
            order = order_rules.finish_refund(order, refund_id, amount, ok, "t", lines).after
            if ok:
                for ln in lines:
                    refunded_by_line[ln["line"]] = refunded_by_line.get(ln["line"], 0) + ln["amount"]
            if a is not None:
                ended = rules.refund_ended(a, refund_id, ok, NOW).after
                assert ended.status == ("REFUNDED" if ok else "REQUESTED")
        paid = order.paid
        assert order.refunded_amount + order.refunding_amount <= paid
        assert order.refunded_amount + order.refunding_amount + int(order.refund_room or 0) == paid
        for index, item in enumerate(order.items):
            in_flight_line = sum(ln["amount"] for _, _, lines, _ in in_flight for ln in lines if ln["line"] == index)
            assert refunded_by_line.get(index, 0) + in_flight_line <= item["paid"]
            units, held = (order.line_refunds or {}).get(str(index), {"units": 0, "amount": 0}).values()
            assert units <= item["quantity"] and refunded_by_line.get(index, 0) + in_flight_line <= held <= item["paid"]
