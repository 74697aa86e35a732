"""The pure rules of channels: which channel an order counts for (the last visit's within
the window, the boundary itself included), what a channel visit and a sale through a
channel add, how a range of days adds up, and the nightly recount of channels."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from layers.domain import analytics as rules
from layers.domain.analytics import Fact, Key, Positions
from layers.domain.channels import LastVisit, order_channel, visit_subject

WINDOW = 7 * 24 * 3600
VISIT = LastVisit("poster-1", "2026-12-01T02:00:00Z", 1011)


def test_the_named_channel_wins_over_the_last_visit():
    assert order_channel("sms-1212", VISIT, "2026-12-01T03:00:00Z", WINDOW) == "sms-1212"


def test_no_channel_named_takes_the_last_visits_within_the_window_boundary_included():
    assert order_channel(None, VISIT, "2026-12-01T02:00:00Z", WINDOW) == "poster-1"
    assert order_channel(None, VISIT, "2026-12-08T02:00:00Z", WINDOW) == "poster-1"  # exactly the window
    assert order_channel(None, VISIT, "2026-12-08T02:00:01Z", WINDOW) is None  # one second past it
    assert order_channel("", VISIT, "2026-12-02T02:00:00Z", WINDOW) == "poster-1"


def test_no_visit_or_a_zero_window_gives_no_channel_but_a_visit_of_the_same_second():
    assert order_channel(None, None, "2026-12-01T02:00:00Z", WINDOW) is None
    assert order_channel(None, VISIT, "2026-12-01T02:00:00Z", 0) == "poster-1"
    assert order_channel(None, VISIT, "2026-12-01T02:00:01Z", 0) is None
    # a visit stamped a moment after the order's clock (two machines): just now
    assert order_channel(None, VISIT, "2026-12-01T01:59:59Z", WINDOW) == "poster-1"


def test_one_visit_per_key_else_per_visitor_channel_and_day():
    assert visit_subject("u1", "poster-1", "k1", "2026-12-01") == "u1#poster-1#k1"
    assert visit_subject("u1", "poster-1", None, "2026-12-01") == "u1#poster-1#2026-12-01"


def _visit(at="2026-11-30T16:30:00Z", channel="poster-1"):  # 00:30 Beijing, December 1st
    return rules.channel_visit_fact("channel.visited:x", channel, "u1", at)


def test_a_channel_visit_moves_the_channels_day_and_month_by_its_firsts():
    fact = _visit()
    assert Fact.from_message(fact.to_message()) == fact
    got = {i.key: i.add for i in rules.increments(fact, None, {"day": True, "month": True})}
    assert got == {Key(rules.CHANNEL, "2026-12-01", "poster-1"): {"visitors": 1},
                   Key(rules.CHANNEL, "2026-12", "poster-1"): {"visitors": 1, "visitor_days": 1}}
    again = {i.key: i.add for i in rules.increments(fact, None, {"day": True, "month": False})}
    assert again[Key(rules.CHANNEL, "2026-12", "poster-1")] == {"visitors": 0, "visitor_days": 1}
    with pytest.raises(ValueError):
        rules.increments(fact)


def _order(**kw):
    base = dict(order_id="o1", user_id="u1", paid_at="2026-11-30T15:59:59Z", status_before_refund=None, paid=1800,
                items=({"sku_id": "s1", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": 2000},),
                amounts={"goods": 2000, "discount": 200, "shipping": 0, "payable": 1800},
                distributor_id=None, coupon_id=None, refunded_amount=0, channel="poster-1")
    base.update(kw)
    return SimpleNamespace(**base)


def test_a_sale_through_a_channel_moves_its_orders_gmv_and_buyers_on_the_paid_day():
    fact = rules.sale_fact("order.paid:o1", _order())
    incs = rules.increments(fact, Positions(day=1, month=1, ever=1), {"day": True, "month": False})
    channel = {i.key: i.add for i in incs if i.key.kind == rules.CHANNEL}
    assert channel == {
        Key(rules.CHANNEL, "2026-11-30", "poster-1"): {"orders": 1, "gmv": 1800, "buyers": 1},
        Key(rules.CHANNEL, "2026-11", "poster-1"): {"orders": 1, "gmv": 1800, "buyers": 0, "buyer_days": 1}}
    plain = rules.sale_fact("order.paid:o2", _order(order_id="o2", channel=None))
    assert not [i for i in rules.increments(plain, Positions(1, 1, 1)) if i.key.kind == rules.CHANNEL]
    with pytest.raises(ValueError):  # a sale through a channel needs its buyer's firsts
        rules.increments(fact, Positions(1, 1, 1))
    refund = rules.refund_fact("order.refunded:o1", _order(), 1800, "2026-12-02T02:00:00Z", completes=True)
    assert not [i for i in rules.increments(refund) if i.key.kind == rules.CHANNEL]  # gmv is what was paid


def test_channels_are_ranked_by_gmv():
    assert rules.RANKED_BY[rules.CHANNEL] == "gmv"


def _c(subject, **figures):
    return {"kind": rules.CHANNEL, "subject": subject, **figures}


def test_one_day_or_one_month_gives_distinct_counts_a_longer_range_their_daily_sums():
    month = [_c("a", visitors=5, visitor_days=9, buyers=2, buyer_days=3, orders=4, gmv=400)]
    assert rules.channel_totals({"2026-11": month}) == [
        {"channel": "a", "visitors": 5, "orders": 4, "buyers": 2, "gmv": 400}]
    found = {"2026-11": month, "2026-12-01": [_c("a", visitors=2, buyers=1, orders=1, gmv=100),
                                              _c("b", visitors=1, buyers=1, orders=2, gmv=900)],
             "2026-12-02": [_c("b", visitors=1)]}
    assert rules.channel_totals(found) == [
        {"channel": "b", "visitors": 2, "orders": 2, "buyers": 1, "gmv": 900},
        {"channel": "a", "visitors": 11, "orders": 5, "buyers": 4, "gmv": 500}]
    assert rules.channel_totals({"2026-12-03": []}) == []


def test_the_recount_of_channels_from_the_days_paid_orders():
    orders = [_order(), _order(order_id="o2", paid=500), _order(order_id="o3", user_id="u2", channel="sms"),
              _order(order_id="o4", channel=None), _order(order_id="o5", paid_at=None),
              _order(order_id="o6", status_before_refund="CLOSED")]
    recounted = rules.recount_channels(orders)
    assert recounted == {"poster-1": {"orders": 2, "gmv": 2300, "buyers": 1},
                         "sms": {"orders": 1, "gmv": 1800, "buyers": 1}}
    counters = [_c("poster-1", orders=2, gmv=2300, buyers=1, visitors=9), _c("sms", orders=1, gmv=1700, buyers=1),
                _c("seen-only", visitors=3), _c("ghost", orders=1, gmv=5, buyers=1)]
    assert rules.channel_differences(recounted, counters) == {
        "ghost": {"orders": {"recount": 0, "aggregate": 1}, "gmv": {"recount": 0, "aggregate": 5},
                  "buyers": {"recount": 0, "aggregate": 1}},
        "sms": {"gmv": {"recount": 1800, "aggregate": 1700}}}
