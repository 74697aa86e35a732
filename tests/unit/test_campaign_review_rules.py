"""The campaign review's pure rules: which campaigns an order is in, what each fact moves,
and that the counters a random history moves (each batch merged, each fact once) equal
the recount of the same history from its orders and instances."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import analytics as rules
from layers.domain import campaign_events
from layers.domain.analytics import Positions

AT = "2026-11-22T02:00:00Z"


def order(order_id, user_id="u1", *, reservations=(), flash_sale_id=None, coupon_id=None, items=None,
          channel=None, paid=None, refunded=0, payable=1000):
    items = items or ({"sku_id": "s1", "product_id": "p1", "title": "茶", "quantity": 1, "unit_price": payable},)
    return SimpleNamespace(order_id=order_id, user_id=user_id, reservations=reservations, flash_sale_id=flash_sale_id,
                           coupon_id=coupon_id, items=items, amounts={"goods": payable, "discount": 0, "shipping": 0,
                                                                      "payable": payable},
                           channel=channel, paid_at=AT if paid else None, paid_amount=None, payable=payable,
                           paid=payable, refunded_amount=refunded, status_before_refund=None, created_at=AT,
                           distributor_id=None)


def test_an_order_is_in_its_flash_sale_group_buy_bargain_promotions_and_coupon_template():
    o = order("o1", reservations=({"kind": "flash", "sale_id": "fs1"}, {"kind": "sku", "sku_id": "s1"}),
              flash_sale_id="fs1", coupon_id="c1",
              items=({"sku_id": "s1", "product_id": "p1", "quantity": 1, "unit_price": 1000,
                      "promotion_id": "pr1", "paid": 900},))
    assert rules.order_campaigns(o, "t1") == ("flash_sale#fs1", "promotion#pr1", "coupon#t1")
    assert rules.order_campaigns(order("o2", reservations=({"kind": "group", "group_buy_id": "g1"},))) == (
        "group_buy#g1",)
    assert rules.order_campaigns(order("o3", reservations=({"kind": "bargain", "bargain_id": "b1"},))) == (
        "bargain#b1",)
    assert rules.placed_fact("order.placed:o4", order("o4")) is None  # in no campaign: no fact


def test_a_placement_counts_an_order_a_participant_once_and_its_record():
    fact = rules.placed_fact("order.placed:o1", order("o1", channel="moments",
                                                      reservations=({"kind": "group", "group_buy_id": "g1"},)))
    incs = {(i.key.kind, i.key.subject): i.add for i in rules.increments(fact, {"group_buy#g1": True})}
    assert incs == {("CAMPAIGN", "group_buy#g1"): {"orders": 1, "participants": 1},
                    ("CAMPAIGN_CHANNEL", "moments"): {"orders": 1},
                    ("CAMPAIGN_RECORD", "order#o1"): {"orders": 1}}
    again = rules.increments(fact, {"group_buy#g1": False})
    assert again[0].add == {"orders": 1, "participants": 0}
    # a fact survives the queue
    assert rules.Fact.from_message(fact.to_message()) == fact


def test_a_sale_of_a_bargain_is_bought_a_new_customer_on_the_buyers_first_order_ever():
    o = order("o1", reservations=({"kind": "bargain", "bargain_id": "b1"},), paid=True)
    fact = rules.sale_fact("order.paid:o1", o)
    incs = {i.key: i.add for i in rules.increments(fact, Positions(1, 1, 1))}
    assert incs[rules.Key("CAMPAIGN", "-", "bargain#b1")] == {"paid_orders": 1, "gmv": 1000, "new_customers": 1,
                                                             "bargains_bought": 1}
    assert incs[rules.Key("CAMPAIGN_CHANNEL", "bargain#b1", "-")] == {"paid_orders": 1, "gmv": 1000}
    later = {i.key: i.add for i in rules.increments(fact, Positions(2, 2, 2))}
    assert later[rules.Key("CAMPAIGN", "-", "bargain#b1")]["new_customers"] == 0


def test_milestones_name_one_campaign_and_a_known_figure():
    fact = rules.milestone_fact("bargain.started:i1", "bargains_started", "b1", "i1", "u1", AT)
    assert rules.Fact.from_message(fact.to_message()) == fact
    with pytest.raises(ValueError):
        rules.milestone_fact("x:1", "raffles_won", "b1", "i1", "u1", AT)
    with pytest.raises(rules.errors.InvalidRequest):
        rules.Fact.from_message({**fact.to_message(), "figure": "raffles_won"})


@pytest.mark.parametrize(("before", "after", "events"), [
    ("PENDING", "OPEN", ["group.opened"]),
    ("PENDING", "SUCCEEDED", ["group.opened", "group.succeeded"]),
    ("OPEN", "SUCCEEDED", ["group.succeeded"]),
    ("OPEN", "FAILED", ["group.failed"]),
    ("PENDING", "FAILED", []),  # the leader never paid: never opened, never failed
    ("OPEN", "OPEN", []),
])
def test_a_groups_moves_and_their_events(before, after, events):
    def group(status):
        return SimpleNamespace(status=status, group_id="gr1", group_buy_id="g1", leader_id="u1")

    out = campaign_events.group_events(group(before), group(after), AT)
    assert [e.type for e in out] == events
    assert all(e.event_id == f"{e.type}:gr1" and e.payload["figure"] == campaign_events.FIGURES[e.type]
               for e in out)


def test_the_review_shows_no_channel_as_null_and_the_kinds_own_figures():
    view = rules.review("group_buy", {"orders": 3, "groups_opened": 1},
                        [{"subject": "-", "orders": 1, "gmv": 0}, {"subject": "moments", "orders": 2, "gmv": 500}])
    assert view["groups_opened"] == 1 and view["groups_failed"] == 0 and "bargains_started" not in view
    assert view["by_channel"] == [{"channel": "moments", "orders": 2, "paid_orders": 0, "gmv": 500},
                                  {"channel": None, "orders": 1, "paid_orders": 0, "gmv": 0}]
    with pytest.raises(rules.errors.InvalidRequest):
        rules.parse_campaign_kind("raffle")


# -- the counters of a random history equal its recount ------------------------------------

KINDS = {"group_buy": lambda cid: ({"kind": "group", "group_buy_id": cid},),
         "bargain": lambda cid: ({"kind": "bargain", "bargain_id": cid},),
         "flash_sale": lambda cid: ({"kind": "flash", "sale_id": cid},)}

step = st.tuples(st.sampled_from(sorted(KINDS)), st.sampled_from(["u1", "u2", "u3"]),
                 st.sampled_from([None, "moments", "poster"]), st.integers(0, 3), st.integers(100, 5000))


@settings(max_examples=60, deadline=None)
@given(st.lists(step, max_size=25), st.randoms(use_true_random=False))
def test_the_counters_of_any_history_equal_its_recount(steps, rnd):
    """`fate`: 0 placed only, 1 paid, 2 paid and partly refunded, 3 paid then fully refunded."""
    facts, orders, first_ever = [], [], {}
    for n, (kind, user, channel, fate, payable) in enumerate(steps):
        refunded = {0: 0, 1: 0, 2: payable // 3, 3: payable}[fate]
        o = order(f"o{n}", user, reservations=KINDS[kind]("c1"), channel=channel, paid=fate > 0,
                  refunded=refunded, payable=payable)
        orders.append(o)
        facts.append(rules.placed_fact(f"order.placed:o{n}", o))
        if fate:
            first_ever.setdefault(user, o.order_id)
            facts.append(rules.sale_fact(f"order.paid:o{n}", o))
        if refunded:
            facts.append(rules.refund_fact(f"order.refunded:r{n}", o, refunded, AT))
    facts = facts + facts  # every fact delivered twice, in any order
    rnd.shuffle(facts)
    counted, slots, batch = set(), {}, []
    for fact in facts:
        if fact.event_id in counted:
            continue
        counted.add(fact.event_id)
        if fact.kind == rules.SALE:
            positions = Positions(1, 1, 1 if first_ever[fact.user_id] == fact.order_id else 2)
        else:
            positions = {ref: slots.setdefault((ref, fact.user_id), fact.event_id) == fact.event_id
                         for ref in rules.joins(fact)}
        # (a sale through a channel moves the channel's own counters too: any firsts will do here)
        batch += rules.increments(fact, positions, {"day": True, "month": True})
    merged = rules.merge(batch)
    for kind in KINDS:
        ref = rules.campaign_ref(kind, "c1")
        counters = merged.get(rules.Key(rules.CAMPAIGN, "-", ref))
        channels = [{"subject": k.subject, **inc.add} for k, inc in merged.items()
                    if k.kind == rules.CAMPAIGN_CHANNEL and k.period == ref]
        mine = [o for o in orders if rules.order_campaigns(o) == (ref,)]
        recounted = rules.recount_review(kind, mine, set(first_ever.values()))
        if kind == "bargain":
            recounted["participants"] = 0  # a bargain's participants are its starters: none here
        assert rules.review_differences(recounted, rules.review(kind, counters and counters.add, channels)) == {}
