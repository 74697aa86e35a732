"""A promotion's figures (orders, discount, gmv), counted from the paid orders its lines took
part in: the increments of a sale, and the analytics service over a paid order, in memory
and on DynamoDB Local."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from layers.domain import analytics as rules
from layers.domain.analytics import Fact, Key, Positions, PromotionShare
from tests.analytics_world import beijing, dynamo_world, iso, memory_world, random_year


def _order(items, amounts, **kw):
    base = dict(order_id="o1", user_id="u1", paid_at="2026-12-05T04:00:00Z", status_before_refund=None,
                paid=amounts["payable"], items=tuple(items), amounts=amounts, distributor_id=None, coupon_id=None,
                refunded_amount=0, channel=None)
    base.update(kw)
    return SimpleNamespace(**base)


# 满300减50 on two teas; 第2件半价 on the cups; a gift line of 满199赠; a line in no promotion.
LINES = [
    {"sku_id": "s_tea", "product_id": "p_tea", "quantity": 2, "unit_price": 15000, "promotion_id": "pr_off",
     "promotion_discount": 3000, "paid": 26500},
    {"sku_id": "s_tea2", "product_id": "p_tea", "quantity": 1, "unit_price": 5000, "promotion_id": "pr_off",
     "promotion_discount": 2000, "paid": 2800},
    {"sku_id": "s_cup", "product_id": "p_cup", "quantity": 2, "unit_price": 2000, "promotion_id": "pr_nth",
     "promotion_discount": 1000, "paid": 2900},
    {"sku_id": "s_gift", "product_id": "p_gift", "quantity": 1, "unit_price": 0, "gift": True,
     "promotion_id": "pr_gift", "paid": 0},
    {"sku_id": "s_pen", "product_id": "p_pen", "quantity": 1, "unit_price": 800, "paid": 700},
]
AMOUNTS = {"goods": 39800, "promotion_discount": 6000, "discount": 0, "shipping": 600, "payable": 33500}


def test_each_promotion_counts_its_lines_discount_and_paid():
    shares = rules.promotion_shares(_order(LINES, AMOUNTS))
    assert shares == (PromotionShare("pr_off", 5000, 29300), PromotionShare("pr_nth", 1000, 2900),
                      PromotionShare("pr_gift", 0, 0))


def test_an_order_stored_before_lines_carried_paid_shares_it_out():
    lines = [{k: v for k, v in line.items() if k != "paid"} for line in LINES[:3]]
    amounts = {"goods": 39000, "discount": 0, "shipping": 0, "payable": 33000}
    (off, nth) = rules.promotion_shares(_order(lines, amounts))
    assert off.gmv + nth.gmv == 33000 and off.gmv > nth.gmv
    assert rules.promotion_shares(_order(LINES[4:], {"goods": 800, "shipping": 0, "payable": 700})) == ()


def test_a_sale_moves_each_promotions_counter_once_per_order():
    fact = rules.sale_fact("e", _order(LINES, AMOUNTS))
    found = {i.key: i.add for i in rules.increments(fact, Positions(1, 1, 1))}
    assert found[Key(rules.PROMOTION, "-", "pr_off")] == {"orders": 1, "discount": 5000, "gmv": 29300}
    assert found[Key(rules.PROMOTION, "-", "pr_nth")] == {"orders": 1, "discount": 1000, "gmv": 2900}
    assert found[Key(rules.PROMOTION, "-", "pr_gift")] == {"orders": 1, "discount": 0, "gmv": 0}
    assert not [k for k in found if k.kind == rules.PROMOTION and k.subject not in ("pr_off", "pr_nth", "pr_gift")]
    two = rules.merge(rules.increments(fact, Positions(1, 1, 1)) + rules.increments(
        rules.sale_fact("e2", _order(LINES[:1], AMOUNTS, order_id="o2")), Positions(2, 2, 2)))
    assert two[Key(rules.PROMOTION, "-", "pr_off")].add == {"orders": 2, "discount": 8000, "gmv": 55800}


def test_the_promotions_travel_through_the_queue():
    fact = rules.sale_fact("order.paid:o1", _order(LINES, AMOUNTS))
    message = fact.to_message()
    assert message["promotions"][0] == {"promotion_id": "pr_off", "discount": 5000, "gmv": 29300}
    assert Fact.from_message(message) == fact
    plain = rules.sale_fact("e", _order(LINES[4:], {"goods": 800, "shipping": 0, "payable": 700}))
    assert "promotions" not in plain.to_message() and Fact.from_message(plain.to_message()).promotions == ()
    with pytest.raises(Exception, match="not an analytics fact"):
        Fact.from_message({**message, "promotions": [{"promotion_id": "pr_off", "discount": "many"}]})


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def world(request):
    if request.param == "memory":
        return memory_world()
    request.getfixturevalue("dynamodb")
    return dynamo_world()


def test_a_paid_order_adds_to_its_promotions_figures_once(world):
    from layers.domain.order import Order

    tag = uuid.uuid4().hex[:8]
    lines = [{**line, "title": line["product_id"], "commission": None,
              **({"promotion_id": f"{line['promotion_id']}_{tag}"} if "promotion_id" in line else {})}
             for line in LINES]
    paid_at = beijing(random_year(), 12, 5)
    order = Order(order_id="o" + uuid.uuid4().hex[:25], user_id="u_" + tag, openid="openid", status="PAID",
                  items=tuple(lines), amounts=AMOUNTS, created_at=iso(paid_at - timedelta(minutes=1)),
                  expires_at=iso(paid_at), transaction_id="42" + tag, paid_at=iso(paid_at), paid_amount=33500,
                  refund_room=33500, version=1)
    tx = world.new_tx()
    world.orders.stage_create(tx, order, on_exists=RuntimeError)
    tx.commit()
    world.emit_paid(order)
    world.emit_paid(order)  # delivered twice: counted once
    assert world.drain() == {"counted": 1, "duplicates": 1}
    figures = world.analytics.promotions([f"pr_off_{tag}", f"pr_nth_{tag}", f"pr_none_{tag}"])
    assert set(figures) == {f"pr_off_{tag}", f"pr_nth_{tag}"}
    assert {k: figures[f"pr_off_{tag}"][k] for k in ("orders", "discount", "gmv")} == {
        "orders": 1, "discount": 5000, "gmv": 29300}
    assert {k: figures[f"pr_nth_{tag}"][k] for k in ("orders", "discount", "gmv")} == {
        "orders": 1, "discount": 1000, "gmv": 2900}
