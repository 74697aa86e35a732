"""The customer record's pure rules: spent less refunds (goods first), first/last order
times, masking, the list's `q`, rule tags and the RFM segments."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from layers.domain import customers as rules
from layers.domain.customers import Customer, Filters, Tag

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_masked_number_keeps_three_and_four():
    assert rules.mask_phone("13800000000") == "138****0000"
    assert rules.mask_phone("5551234") == "****1234"


def test_q_is_a_whole_number_or_its_last_four():
    assert rules.normalise_query("13912345678") == ("phone", "13912345678")
    assert rules.normalise_query("+86 139-1234-5678") == ("phone", "13912345678")
    assert rules.normalise_query("5678") == ("last4", "5678")
    for bad in ("", "abc", "567", "1" * 21, "13x"):
        assert rules.normalise_query(bad) is None


def test_a_refund_counts_against_goods_first_then_shipping():
    # goods paid 9000, shipping 1000: refunds of 5000 then 5000 take 5000 then 4000 of goods
    assert rules.refunded_goods(9000, 0, 5000) == 5000
    assert rules.refunded_goods(9000, 5000, 5000) == 4000
    assert rules.refunded_goods(9000, 10000, 1) == 0


@given(goods=st.integers(0, 10**6), shipping=st.integers(0, 10**4), cuts=st.lists(st.integers(1, 10**5), max_size=8))
def test_refunds_never_take_more_than_the_goods_and_a_whole_refund_takes_all(goods, shipping, cuts):
    paid, before, taken = goods + shipping, 0, 0
    for cut in cuts:
        cut = min(cut, paid - before)
        if cut <= 0:
            break
        taken += rules.refunded_goods(goods, before, cut)
        before += cut
    assert 0 <= taken <= goods
    if before == paid:
        assert taken == goods


def test_applied_keeps_the_earliest_first_and_latest_last_order():
    c = Customer("u1")
    c = rules.applied(c, rules.paid_delta("u1", 1000, "2026-11-02T00:00:00Z", "金卡", "d1"))
    c = rules.applied(c, rules.paid_delta("u1", 500, "2026-11-01T00:00:00Z", "金卡", None))
    assert (c.orders, c.spent, c.first_order_at, c.last_order_at) == (2, 1500, "2026-11-01T00:00:00Z",
                                                                      "2026-11-02T00:00:00Z")
    assert c.distributor_id == "d1" and c.level == "金卡"
    c = rules.applied(c, rules.refund_delta("u1", 1000, 1000, 1000, None))
    assert (c.orders, c.spent, c.level) == (2, 500, None)


def test_segments_from_recency_frequency_money():
    def seg(orders, spent, last):
        return rules.segment(Customer("u", orders=orders, spent=spent, last_order_at=last), NOW)

    recent, old = "2026-11-20T00:00:00Z", "2026-06-01T00:00:00Z"
    assert seg(3, 50000, recent) == "important_value"
    assert seg(3, 50000, old) == "at_risk"
    assert seg(1, 50000, recent) == "important_develop"
    assert seg(1, 50000, old) == "important_recover"
    assert seg(3, 49999, recent) == "general_value"
    assert seg(1, 100, recent) == "general_develop"
    assert seg(5, 100, old) == "general_retain"
    assert seg(1, 100, old) == "general_recover"
    assert seg(0, 0, None) == "new"
    assert set(rules.SEGMENTS.values()) | {"new"} == set(rules.SEGMENT_NAMES)


def test_a_rule_holds_when_every_condition_does():
    c = Customer("u", orders=3, spent=20000, last_order_at="2026-11-25T00:00:00Z", level="金卡")
    assert rules.rule_holds({"min_orders": 3, "min_spent": 20000, "last_order_within_days": 7, "level": "金卡"}, c, NOW)
    assert not rules.rule_holds({"min_orders": 4}, c, NOW)
    assert not rules.rule_holds({"min_spent": 20001}, c, NOW)
    assert not rules.rule_holds({"last_order_within_days": 5}, c, NOW)
    assert not rules.rule_holds({"no_order_for_days": 7}, c, NOW)
    assert rules.rule_holds({"no_order_for_days": 6}, c, NOW)
    assert rules.rule_holds({"no_order_for_days": 30}, Customer("never"), NOW)
    assert not rules.rule_holds({"level": "银卡"}, c, NOW)
    assert not rules.rule_holds({}, c, NOW)
    tags = [Tag("active", {"last_order_within_days": 7}), Tag("vip", {"min_spent": 10**6}), Tag("manual")]
    assert rules.rule_tags(tags, c, NOW) == ("active",)


def test_filters_work_together():
    c = Customer("u", orders=2, spent=3000, last_order_at="2026-11-10T00:00:00Z", level="金卡",
                 manual_tags=("a",), rule_tags=("b",))
    assert Filters(tag="b", level="金卡", min_spent=3000, min_orders=2, last_order_after="2026-11-01T00:00:00Z",
                   last_order_before="2026-11-11T00:00:00Z").matches(c)
    for f in (Filters(tag="c"), Filters(level="银卡"), Filters(min_spent=3001), Filters(min_orders=3),
              Filters(last_order_before="2026-11-10T00:00:00Z"), Filters(last_order_after="2026-11-10T00:00:00Z")):
        assert not f.matches(c)
    assert not Filters(last_order_after="2000-01-01T00:00:00Z").matches(Customer("never"))
