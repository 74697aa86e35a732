"""The pure rules of analytics: Beijing days, facts, increments, merging and chunking."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import analytics as rules
from layers.domain import errors
from layers.domain.analytics import Fact, Key, Line, Positions


def test_days_are_beijing_days_from_the_events_own_time():
    assert rules.day_of("2026-11-22T15:59:59Z") == "2026-11-22"  # 23:59:59 Beijing
    assert rules.day_of("2026-11-22T16:00:00Z") == "2026-11-23"  # 00:00:00 Beijing
    assert rules.day_of("2026-11-30T23:59:59+08:00") == "2026-11-30"
    assert rules.month_of("2026-11-30T16:00:00Z") == "2026-12"
    with pytest.raises(ValueError):
        rules.day_of("2026-11-22T15:59:59")  # no zone: refused, never guessed


def _order(**kw):
    base = dict(order_id="o1", user_id="u1", paid_at="2026-11-22T15:59:59Z", status_before_refund=None, paid=1000,
                items=({"sku_id": "s1", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": 700},
                       {"sku_id": "s2", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": 700},
                       {"sku_id": "s3", "product_id": "p2", "title": "杯", "quantity": 2, "unit_price": 300}),
                amounts={"goods": 2000, "discount": 200, "shipping": 0, "payable": 1800},
                distributor_id=None, coupon_id=None, refunded_amount=0, channel=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_a_late_payment_sent_straight_back_never_counts():
    assert rules.sale_fact("e", _order(status_before_refund="CLOSED")) is None
    assert rules.refund_fact("e", _order(status_before_refund="CLOSED"), 100, "2026-11-23T00:00:00Z") is None
    assert rules.sale_fact("e", _order(paid_at=None)) is None


def test_product_lines_share_the_goods_after_discount_and_sum_to_it():
    lines = rules.product_lines(_order())
    assert lines == (Line("p1", "茶", 2, 1260), Line("p2", "杯", 2, 540))
    assert sum(line.gmv for line in lines) == 1800


def test_a_products_gmv_is_what_the_shopper_paid_for_it():
    """The member level's discount and the points spent are off a product's gmv too (not
    only the coupon); shipping is no product's."""
    amounts = {"goods": 2000, "discount": 200, "member_discount": 90, "points_discount": 100, "shipping": 500,
               "payable": 2000 - 200 - 90 - 100 + 500}
    lines = rules.product_lines(_order(amounts=amounts))
    assert sum(line.gmv for line in lines) == 1610
    assert lines == (Line("p1", "茶", 2, 1127), Line("p2", "杯", 2, 483))


def test_a_products_gmv_is_the_sum_of_its_lines_paid_and_a_gift_is_no_sale():
    """Lines priced with promotions carry `paid`: a product's gmv is its lines' `paid`
    summed (not the goods' proportion), and a free gift line counts for nothing, neither
    in the product figures nor in the storefront's sales quantity."""
    items = ({"sku_id": "s1", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": 700, "paid": 350},
             {"sku_id": "s2", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": 700, "paid": 700},
             {"sku_id": "s3", "product_id": "p2", "title": "杯", "quantity": 2, "unit_price": 300, "paid": 450},
             {"sku_id": "g1", "product_id": "p3", "title": "赠品", "quantity": 1, "unit_price": 0, "paid": 0,
              "gift": True},
             {"sku_id": "s3", "product_id": "p2", "title": "杯", "quantity": 1, "unit_price": 0, "paid": 0,
              "gift": True})
    amounts = {"goods": 2000, "discount": 0, "promotion_discount": 500, "shipping": 300, "payable": 1800}
    order = _order(items=items, amounts=amounts, paid=1800)
    assert rules.product_lines(order) == (Line("p1", "茶", 2, 1050), Line("p2", "杯", 2, 450))
    fact = rules.sale_fact("e", order)
    incs = {i.key: i.add for i in rules.increments(fact, Positions(day=1, month=1, ever=1))}
    assert incs[Key(rules.SALES, "ALL", "p2")] == {"quantity": 2}
    assert Key(rules.SALES, "ALL", "p3") not in incs and Key(rules.PRODUCT, "2026-11", "p3") not in incs
    full = rules.refund_fact("e2", order, 1800, "2026-11-23T00:00:00Z", completes=True)
    assert [(line.product_id, line.quantity) for line in full.lines] == [("p1", 2), ("p2", 2)]


def test_a_fact_survives_the_queue_and_a_malformed_one_is_refused():
    fact = rules.sale_fact("order.paid:o1", _order(coupon_id="c1", distributor_id="d1"), 55, "tpl")
    assert Fact.from_message(fact.to_message()) == fact
    for bad in ({}, {**fact.to_message(), "kind": "gift"}, {**fact.to_message(), "at": "yesterday"},
                {**fact.to_message(), "amount": "lots"}):
        with pytest.raises(errors.InvalidRequest):
            Fact.from_message(bad)


def test_a_sale_moves_day_products_distributor_and_coupon():
    fact = rules.sale_fact("e", _order(coupon_id="c1", distributor_id="d1"), 55, "tpl")
    incs = {i.key: i.add for i in rules.increments(fact, Positions(day=1, month=2, ever=3))}
    assert incs[Key(rules.DAY, "2026-11-22")] == {"gmv": 1000, "orders": 1, "buyers": 1, "new_buyers": 0,
                                                  "repeat_buyers": 1}
    assert incs[Key(rules.PRODUCT, "2026-11", "p2")] == {"quantity": 2, "gmv": 540}
    assert incs[Key(rules.DISTRIBUTOR, "2026-11", "d1")] == {"sales_amount": 1000, "orders": 1, "commission": 55}
    assert incs[Key(rules.COUPON, "-", "tpl")] == {"used": 1, "discount": 200, "gmv": 1000}


def test_a_refund_counts_on_its_day_and_on_its_orders_paid_day():
    fact = rules.refund_fact("e", _order(), 300, "2026-11-22T16:00:01Z")
    assert {i.key.period: i.add for i in rules.increments(fact)} == {
        "2026-11-23": {"refunds": 300, "refund_count": 1}, "2026-11-22": {"paid_refunds": 300}}


def test_daily_row_net_aov_conversion():
    row = rules.daily_row("2026-11-22", {"gmv": 1001, "orders": 2, "buyers": 2, "refunds": 300}, 40)
    assert (row["net"], row["aov"], row["conversion"]) == (701, 500, 0.05)
    assert rules.daily_row("2026-11-22", None)["aov"] == 0


_facts = st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.integers(1, 5), st.integers(0, 10_000),
                            st.sampled_from([None, "d1", "d2"])), min_size=1, max_size=60)


@settings(deadline=None)  # a busy shared machine: the property, not the timing
# A sale with a guide moves at most 10 items: its marker, the DAY, two PRODUCT (day and
# month) for its one line, four DISTRIBUTOR (day, week, month, ALL), SALES and
# GUIDE_CUSTOMER; the smallest transaction tried must hold one such sale.
@given(_facts, st.integers(10, 100))
def test_chunks_fit_a_transaction_and_add_up_to_the_facts(raw, max_items):
    planned = []
    for n, (pid, q, amount, did) in enumerate(raw):
        fact = Fact(f"e{n}", rules.SALE, f"2026-11-{1 + n % 3:02d}T04:00:00Z", f"u{n % 7}", amount,
                    f"o{n}", (Line(pid, "", q, amount),), did)
        planned.append((fact, rules.increments(fact, Positions(1 + n % 3, 1 + n % 2, 3))))
    chunks = rules.chunks(planned, max_items)
    assert [f.event_id for c in chunks for f in c.facts] == [f.event_id for f, _ in planned]
    for c in chunks:
        keys = [i.key for i in c.increments]
        assert len(keys) == len(set(keys)) and len(c.facts) + len(keys) <= max_items
    total = rules.merge(i for c in chunks for i in c.increments)
    expected = rules.merge(i for _, incs in planned for i in incs)
    assert {k: v.add for k, v in total.items()} == {k: v.add for k, v in expected.items()}


def test_a_guides_customer_counts_orders_and_goods_spent_less_the_goods_part_of_refunds():
    # goods paid 1800 + shipping 200: spent counts the goods only, as the customer record does
    order = _order(distributor_id="d1", paid=2000,
                   amounts={"goods": 2000, "discount": 200, "shipping": 200, "payable": 2000})
    key = rules.guide_customer_key("d1", "u1")
    assert key == Key(rules.GUIDE_CUSTOMER, "ALL", "d1#u1")
    sale = rules.sale_fact("order.paid:o1", order)
    assert Fact.from_message(sale.to_message()) == sale
    assert {i.key: i.add for i in rules.increments(sale, Positions(1, 1, 1))}[key] == {"orders": 1, "spent": 1800}
    # refunds go against the goods first: 1500, then 500 of which 300 goods and 200 shipping
    first = rules.refund_fact("order.refunded:r1", order, 1500, "2026-11-23T00:00:00Z", refunded_total=1500)
    second = rules.refund_fact("order.refunded:r2", order, 500, "2026-11-23T00:00:00Z", refunded_total=2000)
    assert Fact.from_message(second.to_message()) == second
    moved = [{i.key: i.add for i in rules.increments(f)}[key] for f in (first, second)]
    assert moved == [{"spent": -1500}, {"spent": -300}]
    merged = rules.merge(i for f in (sale, first, second)
                         for i in rules.increments(f, Positions(1, 1, 1) if f.kind == rules.SALE else None))
    assert merged[key].add == {"orders": 1, "spent": 0}
    # an order nobody brought moves no guide's counter
    plain = rules.sale_fact("order.paid:o2", _order(order_id="o2"))
    assert not [i for i in rules.increments(plain, Positions(1, 1, 1)) if i.key.kind == rules.GUIDE_CUSTOMER]
    refund = rules.refund_fact("order.refunded:r3", _order(order_id="o2"), 100, "2026-11-23T00:00:00Z")
    assert not [i for i in rules.increments(refund) if i.key.kind == rules.GUIDE_CUSTOMER]
