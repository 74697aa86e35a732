"""Commissions follow the lines' `paid`: a line's base is what the shopper paid for it (a
bigger discount earns less, a free gift nothing), a refund of lines takes back those lines'
commission and a refund of an amount its proportion, in any order to the same total; an
order stored before lines carried `paid` earns and is reversed exactly as before."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import commission as rules
from layers.domain import commission_entry as cm
from layers.domain import order as order_rules
from layers.domain import paid_shares
from layers.domain.order import Order
from tests.unit.test_distribution_service import World


def _item(sku, quantity, unit_price, paid=None, commission=None, **extra):
    item = {"sku_id": sku, "product_id": "p-" + sku, "title": sku, "category": None, "quantity": quantity,
            "unit_price": unit_price, "commission": commission, **extra}
    if paid is not None:
        item["paid"] = paid
    return item


def test_a_lines_base_is_its_paid_so_a_bigger_discount_earns_less():
    items = [_item("a", 1, 10_000, paid=5_000), _item("b", 1, 10_000, paid=9_000)]
    result = rules.order_commission(items, {"goods": 20_000, "shipping": 800, "payable": 14_800}, 1000)
    assert [r.base for r in result] == [5_000, 9_000]
    assert [r.amount for r in result] == [500, 900]


def test_a_gift_line_earns_nothing_even_at_a_fixed_rate():
    items = [_item("a", 1, 10_000, paid=10_000),
             _item("g", 1, 0, paid=0, commission={"mode": "fixed", "rate_bps": 5000}, gift=True)]
    result = rules.order_commission(items, {"goods": 10_000, "shipping": 0, "payable": 10_000}, 1000)
    assert [(r.base, r.amount) for r in result] == [(10_000, 1000), (0, 0)]


@given(st.lists(st.tuples(st.integers(1, 50_000), st.integers(1, 5)), min_size=1, max_size=5),
       st.integers(0, 99), st.integers(0, 2000), st.integers(0, 10_000))
def test_an_old_order_earns_exactly_as_before_on_the_shares_of_its_paid_goods(lines, pct, shipping, rate):
    items = [_item(f"s{i}", q, p) for i, (p, q) in enumerate(lines)]
    goods = sum(p * q for p, q in lines)
    paid_goods = goods - goods * pct // 100
    amounts = {"goods": goods, "shipping": shipping, "payable": paid_goods + shipping}
    before = paid_shares.share(paid_shares.line_goods(items), min(paid_goods, goods))  # the rule before `paid`
    assert [r.base for r in rules.order_commission(items, amounts, rate)] == before
    assert [r.amount for r in rules.order_commission(items, amounts, rate)] == [b * rate // 10_000 for b in before]


def _commission(items, amounts, rate=1000) -> cm.Commission:
    order = Order(order_id="o1", user_id="buyer", openid="x", status=order_rules.PAID, items=tuple(items),
                  amounts=amounts, created_at="t", expires_at="t", distributor_id="d1", paid_at="t",
                  paid_amount=int(amounts["payable"]))
    return cm.accrue(order, rules.Tier("基础", rate), "t").after


def _apply(c, refund_id, amount, total, lines=()):
    change = cm.reverse(c, refund_id, amount, total, "t", lines)
    return c if change is None else change.after


ITEMS = [_item("a", 2, 10_000, paid=12_000), _item("b", 1, 10_000, paid=8_000)]
AMOUNTS = {"goods": 30_000, "shipping": 1_000, "payable": 21_000}  # P = 21000, shipping never earns


def test_a_refund_of_a_line_takes_back_that_lines_commission():
    c = _commission(ITEMS, AMOUNTS)
    assert (c.accrued, [ln["amount"] for ln in c.lines]) == (2000, [1200, 800])
    after = _apply(c, "R1", 8_000, 8_000, [{"line": 1, "sku_id": "b", "units": 1, "amount": 8_000}])
    assert (after.amount, after.reversed) == (1200, 800)  # line b's all; line a keeps all of its own
    assert after.lines[1]["refunded"] == 8_000 and after.sales_base == 12_000
    half = _apply(after, "R2", 6_000, 14_000, [{"line": 0, "sku_id": "a", "units": 1, "amount": 6_000}])
    assert (half.amount, half.reversed) == (600, 1400)
    # a refund of an amount now takes its proportion of what is left: the shipping, here
    rest = _apply(half, "R3", 7_000, 21_000)
    assert (rest.amount, rest.reversed, rest.status) == (0, 2000, "REVERSED")


def test_a_refund_of_an_amount_stays_proportional():
    c = _commission(ITEMS, AMOUNTS)
    after = _apply(c, "R1", 7_000, 7_000)
    assert after.amount == rules.kept_after_refunds(2000, 21_000, 7_000) == 1333
    assert after.lines == c.lines  # no line named


def test_a_commission_kept_without_lines_reverses_a_line_refund_in_proportion():
    c = _commission(ITEMS, AMOUNTS)
    bare = replace(c, lines=())
    after = _apply(bare, "R1", 8_000, 8_000, [{"line": 1, "sku_id": "b", "units": 1, "amount": 8_000}])
    assert after.amount == rules.kept_after_refunds(2000, 21_000, 8_000)


def test_a_refund_after_payout_of_a_line_is_a_debt_of_that_lines_commission():
    c = _commission(ITEMS, AMOUNTS)
    settled = replace(c, status=cm.SETTLED)
    change = cm.reverse(settled, "R1", 8_000, 8_000, "t", [{"line": 1, "sku_id": "b", "units": 1, "amount": 8_000}])
    assert change.creates == ()
    assert (change.debt.kind, change.debt.amount, change.debt.order_id, change.debt.refund_id) == (
        "DEBT", 800, c.order_id, "R1")
    assert change.after.adjusted == 800 and change.stats["debt"] == 800 and change.stats["reversed"] == 800
    assert change.after.amount == c.amount and change.after.status == cm.SETTLED  # what was paid stays paid


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20_000), st.integers(1, 4), st.integers(0, 100)), min_size=1, max_size=4),
       st.integers(0, 1000), st.integers(0, 10_000), st.data())
def test_refunds_in_any_order_reverse_the_same_total_and_everything_refunded_keeps_nothing(
        lines, shipping, rate, data):
    goods = [p * q for p, q, _ in lines]
    paid = [g * pct // 100 for g, (_, _, pct) in zip(goods, lines, strict=True)]
    items = [_item(f"s{i}", q, p, paid=pd) for i, ((p, q, _), pd) in enumerate(zip(lines, paid, strict=True))]
    P = sum(paid) + shipping
    if P == 0:
        return
    c = _commission(items, {"goods": sum(goods), "shipping": shipping, "payable": P}, rate)
    # refunds: each line's paid in one or two refunds of lines, and the shipping as an amount
    refunds = []
    for i, pd in enumerate(paid):
        if pd:
            cut = data.draw(st.integers(0, pd))
            refunds += [(f"L{i}a", cut, [{"line": i, "sku_id": f"s{i}", "units": 1, "amount": cut}]),
                        (f"L{i}b", pd - cut, [{"line": i, "sku_id": f"s{i}", "units": 1, "amount": pd - cut}])]
    if shipping:
        refunds.append(("S", shipping, []))
    refunds = [r for r in refunds if r[1] > 0]
    orders = [refunds, data.draw(st.permutations(refunds))]
    finals = []
    for sequence in orders:
        current, total, last_amount = c, 0, c.accrued
        for refund_id, amount, named in sequence:
            total += amount
            current = _apply(current, refund_id, amount, total, named)
            assert 0 <= current.amount <= last_amount  # never more taken back than accrued, never given back
            last_amount = current.amount
            assert current.amount + current.reversed == c.accrued
        finals.append(current)
    assert all(f.amount == 0 and f.reversed == c.accrued for f in finals)
    # a prefix: after only the refunds of lines, each untouched line keeps all it earned
    if len(refunds) > 1:
        first_id, first_amount, named = refunds[0]
        one = _apply(c, first_id, first_amount, first_amount, named)
        if named:
            i = named[0]["line"]
            others = sum(ln["amount"] for j, ln in enumerate(c.lines) if j != i)
            assert one.amount >= others


# -- through the distribution service: the event's lines reach the reversal --------------

@pytest.fixture
def w():
    return World()


def test_the_order_refunded_events_lines_take_back_the_lines_commission(w):
    a = w.distributor(w.template([{"name": "基础", "rate_bps": 1000}]))
    buyer = w.shopper()
    w._n += 1
    order = Order(order_id=f"o{w._n:025d}", user_id=buyer, openid="x", status=order_rules.PAID,
                  items=tuple(ITEMS), amounts=AMOUNTS, created_at=w.now(), expires_at=w.now(), distributor_id=a,
                  transaction_id="42x", paid_at=w.now(), paid_amount=21_000)
    tx = w.store.tx()
    w.orders.stage_create(tx, order, on_exists=RuntimeError)
    tx.commit()
    w.svc.on_order_paid(f"order.paid:{order.order_id}", {"order_id": order.order_id})
    assert w.commissions.get(a, order.order_id).amount == 2000
    w.svc.on_order_refunded("order.refunded:R1", {
        "order_id": order.order_id, "refund_id": "R1", "amount": 8_000, "order_payable": 21_000,
        "refunded_total": 8_000, "lines": [{"line": 1, "sku_id": "b", "units": 1, "amount": 8_000}]})
    c = w.commissions.get(a, order.order_id)
    assert (c.amount, c.reversed, c.sales_base) == (1200, 800, 12_000)
    d = w.svc.dashboard(a)
    assert d["commissions"]["pending"] == 1200 and d["commissions"]["reversed"] == 800
    assert d["sales_amount"] == 12_000
