"""Refunds of order lines, pure: which units, what they paid (each line's `paid` spread
over its units exactly), held on the order until the refund ends, given back when it
fails; old orders without a stored `paid` refunded on the derived shares."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors, line_refunds, paid_shares
from layers.domain import order as rules
from layers.domain.order import Order


def _order(items, amounts=None, **changes) -> Order:
    if amounts is None:
        goods = sum(i["unit_price"] * i["quantity"] for i in items)
        paid = sum(i.get("paid", 0) for i in items)
        amounts = {"goods": goods, "discount": goods - paid, "shipping": 0, "payable": paid}
    payable = int(amounts["payable"])
    return replace(Order(order_id="o1", user_id="u1", openid="op", status=rules.PAID, items=tuple(items),
                         amounts=amounts, created_at="t0", expires_at="t1", paid_at="t0",
                         paid_amount=payable, refund_room=payable), **changes)


def _line(sku, quantity, unit_price, paid, **extra):
    return {"sku_id": sku, "quantity": quantity, "unit_price": unit_price, "paid": paid, **extra}


def test_units_of_a_line_are_worth_its_paid_spread_cumulatively():
    order = _order([_line("a", 3, 1000, 2000), _line("b", 1, 500, 400)])
    amount, lines, change = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])
    assert amount == 666  # floor(2000 * 1 / 3)
    assert lines == ({"line": 0, "sku_id": "a", "units": 1, "amount": 666},)
    after = change.after
    assert after.line_refunds == {"0": {"units": 1, "amount": 666}}
    assert (after.status, after.refunding_amount, after.refund_room, after.version) == ("REFUNDING", 666, 1734, 1)
    second, _, change = rules.request_line_refund(after, [{"sku_id": "a", "quantity": 2}])
    assert second == 2000 - 666  # the rest of the line, exactly
    assert change.after.line_refunds == {"0": {"units": 3, "amount": 2000}}
    assert change.after.refund_room == 400


def test_more_units_than_the_line_has_left_is_refused_with_what_is_left():
    order = _order([_line("a", 2, 1000, 1800)], line_refunds={"0": {"units": 1, "amount": 900}},
                   refund_room=900)
    with pytest.raises(errors.NotAcceptable) as refused:
        rules.request_line_refund(order, [{"sku_id": "a", "quantity": 2}])
    assert refused.value.message == "SKU a: 2 units asked, only 1 left to refund"
    with pytest.raises(errors.NotAcceptable) as unknown:
        rules.request_line_refund(order, [{"sku_id": "zz", "quantity": 1}])
    assert unknown.value.message == "the order has no line of SKU zz"


def test_the_same_sku_asked_twice_is_one_ask_of_the_sum():
    order = _order([_line("a", 2, 1000, 1800)])
    with pytest.raises(errors.NotAcceptable):
        rules.request_line_refund(order, [{"sku_id": "a", "quantity": 2}, {"sku_id": "a", "quantity": 1}])
    amount, _, _ = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}, {"sku_id": "a", "quantity": 1}])
    assert amount == 1800


def test_a_gift_line_is_not_refunded_on_its_own_but_may_go_back_with_its_line():
    order = _order([_line("a", 1, 5000, 5000), _line("g", 1, 0, 0, gift=True)])
    with pytest.raises(errors.NotAcceptable) as refused:
        rules.request_line_refund(order, [{"sku_id": "g", "quantity": 1}])
    assert "gift" in refused.value.message
    amount, lines, change = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1},
                                                              {"sku_id": "g", "quantity": 1}])
    assert amount == 5000
    assert [ln["amount"] for ln in lines] == [5000, 0]
    assert change.after.line_refunds == {"0": {"units": 1, "amount": 5000}, "1": {"units": 1, "amount": 0}}


def test_a_bought_unit_of_the_gifts_sku_is_taken_before_the_gift():
    order = _order([_line("g", 1, 0, 0, gift=True), _line("g", 2, 300, 500)])
    amount, lines, _ = rules.request_line_refund(order, [{"sku_id": "g", "quantity": 2}])
    assert amount == 500 and [ln["line"] for ln in lines] == [1]


def test_units_whose_share_rounds_to_nothing_are_refused():
    order = _order([_line("a", 3, 1, 1)])
    with pytest.raises(errors.NotAcceptable) as refused:
        rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])
    assert "paid nothing" in refused.value.message
    assert rules.request_line_refund(order, [{"sku_id": "a", "quantity": 3}])[0] == 1


def test_a_line_refund_is_bounded_by_the_refund_room_an_amount_refund_left():
    order = _order([_line("a", 2, 1000, 2000)])
    _, change = rules.request_refund(order, 1500)
    with pytest.raises(errors.NotAcceptable) as refused:
        rules.request_line_refund(change.after, [{"sku_id": "a", "quantity": 1}])
    assert refused.value.message == "these units paid 1000 fen; at most 500 fen can still be refunded"
    # an amount refund is unchanged: still bounded by the room alone
    assert rules.request_refund(change.after, 500)[0] == 500


def test_an_order_that_is_not_paid_cannot_refund_lines():
    order = _order([_line("a", 1, 1000, 1000)], status=rules.PENDING)
    with pytest.raises(errors.InvalidState):
        rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])


def test_a_failed_line_refund_gives_its_units_and_fen_back_and_a_success_reports_its_lines():
    order = _order([_line("a", 2, 1000, 1500), _line("b", 1, 1000, 500)])
    amount, lines, change = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])
    failed = rules.finish_refund(change.after, "o1R1", amount, False, "t2", lines)
    assert failed.after.line_refunds == {"0": {"units": 0, "amount": 0}}
    assert (failed.after.refund_room, failed.after.status, failed.events) == (2000, rules.PAID, ())
    done = rules.finish_refund(change.after, "o1R1", amount, True, "t2", lines)
    assert done.after.line_refunds == {"0": {"units": 1, "amount": 750}}
    (event,) = done.events
    assert event.payload["lines"] == [{"line": 0, "sku_id": "a", "units": 1, "amount": 750}]
    assert event.payload["amount"] == 750 and event.payload["refunded_total"] == 750


def test_an_amount_refund_names_no_lines_in_its_event():
    order = _order([_line("a", 2, 1000, 1500)])
    amount, change = rules.request_refund(order, 100)
    (event,) = rules.finish_refund(change.after, "o1R1", amount, True, "t2").events
    assert "lines" not in event.payload


def test_a_late_success_takes_the_units_again():
    order = _order([_line("a", 2, 1000, 2000)])
    amount, lines, change = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])
    failed = rules.finish_refund(change.after, "o1R1", amount, False, "t2", lines).after
    late = rules.late_refund_success(failed, "o1R1", amount, "t3", lines)
    assert late.after.line_refunds == {"0": {"units": 1, "amount": 1000}}
    assert late.events[0].payload["lines"][0]["units"] == 1


def test_an_old_order_without_paid_refunds_lines_on_the_derived_shares():
    items = [{"sku_id": "a", "quantity": 2, "unit_price": 3000}, {"sku_id": "b", "quantity": 1, "unit_price": 1000}]
    amounts = {"goods": 7000, "discount": 700, "shipping": 800, "payable": 7100}
    order = _order(items, amounts)
    assert paid_shares.line_paid(items, amounts) == [5400, 900]
    amount, _, change = rules.request_line_refund(order, [{"sku_id": "a", "quantity": 1}])
    assert amount == 2700
    rest, _, _ = rules.request_line_refund(change.after, [{"sku_id": "a", "quantity": 1}, {"sku_id": "b", "quantity": 1}])
    assert rest == 2700 + 900  # every unit: exactly the lines' shares; shipping stays in the room


def test_worth_never_goes_below_zero_after_a_failure_in_between():
    # paid 1 over 3 units: F = 0, 0, 1. Two units (0 fen), then the last (1 fen); the first
    # refund fails and gives back its two units: one more unit is worth F(2) - 1 -> 0, not -1.
    assert line_refunds.worth(1, 3, 1, 1, 1) == 0
    assert line_refunds.worth(1, 3, 2, 1, 1) == 0  # the last unit: 1 - 1
    assert line_refunds.worth(1000, 4, 0, 0, 4) == 1000
    assert line_refunds.worth(0, 4, 0, 0, 4) == 0


# -- property: random orders with stored `paid`, random sequences of line refunds -----------

@st.composite
def _orders(draw):
    n = draw(st.integers(1, 4))
    items = []
    for i in range(n):
        quantity = draw(st.integers(1, 6))
        unit_price = draw(st.integers(0, 5000))
        gift = unit_price == 0
        items.append(_line(f"s{i}", quantity, unit_price, 0, **({"gift": True} if gift else {})))
    goods = [it["unit_price"] * it["quantity"] for it in items]
    paid_goods = draw(st.integers(0, sum(goods)))
    for it, share in zip(items, paid_shares.share(goods, paid_goods), strict=True):
        it["paid"] = share
    shipping = draw(st.integers(0, 1000))
    amounts = {"goods": sum(goods), "discount": sum(goods) - paid_goods, "shipping": shipping,
               "payable": paid_goods + shipping}
    return _order(items, amounts)


@settings(max_examples=200, deadline=None)
@given(_orders(), st.data())
def test_line_refunds_never_exceed_a_lines_paid_and_every_unit_refunded_is_exactly_its_paid(order, data):
    """Any sequence of line refunds, some failing (their units given back), never takes
    more than a line paid; once every unit of every line is refunded, exactly the sum of
    the lines' paid is."""
    paid = [it["paid"] for it in order.items]
    refunded_by_line = [0] * len(order.items)
    spent: set[int] = set()  # lines whose units left are worth nothing: all they paid is back
    for n in range(60):
        left = line_refunds.units_left(order.items, order.line_refunds)
        open_lines = [i for i, u in enumerate(left) if u > 0 and not order.items[i].get("gift") and i not in spent]
        if not open_lines or order.status == rules.REFUNDED:  # REFUNDED: the whole payment is back
            break
        i = data.draw(st.sampled_from(open_lines))
        wanted = [{"sku_id": order.items[i]["sku_id"], "quantity": data.draw(st.integers(1, left[i]))}]
        try:
            amount, lines, change = rules.request_line_refund(order, wanted)
        except errors.NotAcceptable as exc:
            assert "paid nothing" in exc.message
            if line_refunds.worth(paid[i], order.items[i]["quantity"], *line_refunds.taken(order.line_refunds, i),
                                  left[i]) == 0:
                assert refunded_by_line[i] == paid[i]  # only a line with all its money back is stuck
                spent.add(i)
            continue
        succeeded = data.draw(st.booleans())
        order = rules.finish_refund(change.after, f"o1R{n}", amount, succeeded, "t", lines).after
        if succeeded:
            for ln in lines:
                refunded_by_line[ln["line"]] += ln["amount"]
        for j, total in enumerate(refunded_by_line):
            assert 0 <= total <= paid[j]
        assert order.refunded_amount == sum(refunded_by_line)
    if order.status == rules.REFUNDED:
        # lines alone never refund the shipping: only an order without one is all refunded
        assert order.amounts["shipping"] == 0 and order.refunded_amount == sum(paid) == order.paid
    left = line_refunds.units_left(order.items, order.line_refunds)
    if all(u == 0 for i, u in enumerate(left) if not order.items[i].get("gift")):
        assert refunded_by_line == [0 if it.get("gift") else p for it, p in zip(order.items, paid, strict=True)]
        assert order.refunded_amount == sum(paid)


@settings(max_examples=200, deadline=None)
@given(_orders(), st.data())
def test_refunding_every_unit_in_random_steps_without_failures_sums_exactly_to_the_lines_paid(order, data):
    lines_to_go = [i for i, it in enumerate(order.items) if not it.get("gift") and it["paid"] > 0]
    steps = []
    for i in lines_to_go:
        q = order.items[i]["quantity"]
        cuts = sorted(data.draw(st.sets(st.integers(1, q - 1), max_size=q - 1))) if q > 1 else []
        bounds = [0, *cuts, q]
        steps += [(i, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    steps = data.draw(st.permutations(steps))
    carried = dict.fromkeys(lines_to_go, 0)  # units refused (worth 0 fen) go with the line's next step
    last = {i: max(n for n, (j, _) in enumerate(steps) if j == i) for i in lines_to_go}
    total = 0
    for n, (i, units) in enumerate(steps):
        units += carried[i]
        # the rule for k more units after r: floor(paid*(r+k)/Q) - floor(paid*r/Q)
        r = line_refunds.taken(order.line_refunds, i)[0]
        q, p = order.items[i]["quantity"], order.items[i]["paid"]
        expected = p * (r + units) // q - p * r // q
        try:
            amount, lines, change = rules.request_line_refund(order, [{"sku_id": order.items[i]["sku_id"],
                                                                       "quantity": units}])
        except errors.NotAcceptable as exc:
            assert expected == 0 and "paid nothing" in exc.message and n != last[i]
            carried[i] = units
            continue
        carried[i] = 0
        assert amount == expected
        order = rules.finish_refund(change.after, f"o1R{n}", amount, True, "t", lines).after
        total += amount
    assert total == sum(order.items[i]["paid"] for i in lines_to_go)
    assert order.refunded_amount == total
