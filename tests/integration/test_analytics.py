"""Analytics, end to end from the events' facts to the counters, against the in-memory
repositories and DynamoDB Local alike: an event counts once, days are Beijing days
from the event's own time, buyers and repeat buyers, rankings, and the recount."""

from __future__ import annotations

import random
import uuid

import pytest

from layers.domain.analytics import Fact
from tests.analytics_world import beijing, dynamo_world, memory_world, random_year


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def world(request):
    if request.param == "memory":
        return memory_world()
    request.getfixturevalue("dynamodb")
    return dynamo_world()


def _user() -> str:
    return "u_" + uuid.uuid4().hex[:12]


def _day(world, day: str) -> dict:
    [row] = world.service.daily(day, day)["items"]
    return row


class TestCountedOnce:
    def test_an_event_delivered_three_times_counts_once(self, world):
        year = random_year()
        order = world.paid(_user(), beijing(year, 3, 1), [("p1", 2, 1500)])
        for _ in range(3):
            world.emit_paid(order)  # the events queue delivers it three times
        assert len(world.sent) == 3
        first = world.drain(batch=2)  # two in one batch, the third in the next
        assert first == {"counted": 1, "duplicates": 2}
        world.sent.append(Fact.from_message(Fact(f"order.paid:{order.order_id}", "sale", order.paid_at,
                                                 order.user_id, 3000, order.order_id).to_message()).to_message())
        assert world.drain() == {"counted": 0, "duplicates": 1}  # a week later, alone in its batch
        row = _day(world, f"{year}-03-01")
        assert (row["gmv"], row["orders"], row["buyers"], row["net"], row["aov"]) == (3000, 1, 1, 3000, 3000)
        products = world.service.products(f"{year}-03-01", f"{year}-03-01")["items"]
        assert products == [{"product_id": "p1", "title": "商品 p1", "quantity": 2, "gmv": 3000}]

    def test_a_duplicate_among_new_events_does_not_hold_them_back(self, world):
        year = random_year()
        a = world.paid(_user(), beijing(year, 3, 2), [("p1", 1, 100)])
        world.emit_paid(a)
        world.drain()
        b = world.paid(_user(), beijing(year, 3, 2), [("p1", 1, 200)])
        world.emit_paid(a)
        world.emit_paid(b)
        assert world.drain() == {"counted": 1, "duplicates": 1}
        assert _day(world, f"{year}-03-02")["gmv"] == 300


class TestBeijingDays:
    def test_paid_at_235959_counts_that_day_and_its_refund_next_day_lowers_only_the_next_days_net(self, world):
        year = random_year()
        order = world.paid(_user(), beijing(year, 5, 10, 23, 59, 59), [("p1", 1, 5000)])
        world.emit_paid(order)
        world.drain()
        refund_id = world.refund(order.order_id, 2000, beijing(year, 5, 11, 0, 0, 1))
        world.emit_refunded(order.order_id, refund_id, 2000)
        world.drain()
        first, second = world.service.daily(f"{year}-05-10", f"{year}-05-11")["items"]
        assert (first["date"], first["gmv"], first["orders"], first["refunds"], first["net"]) == (
            f"{year}-05-10", 5000, 1, 0, 5000)
        assert (second["date"], second["gmv"], second["orders"], second["refunds"], second["net"]) == (
            f"{year}-05-11", 0, 0, 2000, -2000)
        # 23:59:59 Beijing is 15:59:59 UTC: the UTC date is the same here, so also check
        # an order paid at 00:30 Beijing, which is the previous day in UTC.
        early = world.paid(_user(), beijing(year, 5, 12, 0, 30), [("p1", 1, 700)])
        world.emit_paid(early)
        world.drain()
        assert _day(world, f"{year}-05-11")["gmv"] == 0
        assert _day(world, f"{year}-05-12")["gmv"] == 700


class TestTopUps:
    def test_a_top_up_is_top_ups_not_gmv_and_counts_once(self, world):
        year = random_year()
        payload = {"user_id": _user(), "amount": 50_000, "paid_at": f"{year}-02-03T16:30:00Z"}  # 00:30 on the 4th
        for _ in range(2):
            world.service.on_top_up_paid("member.top_up.paid:t1-" + str(year), payload)
        world.drain()
        row = _day(world, f"{year}-02-04")
        assert (row["top_ups"], row["gmv"], row["orders"], row["buyers"]) == (50_000, 0, 0, 0)


class TestBuyers:
    def test_second_order_in_a_month_adds_one_repeat_buyer_and_the_third_none(self, world):
        year = random_year()
        buyer = _user()
        for day in (3, 9, 20):
            order = world.paid(buyer, beijing(year, 7, day), [("p1", 1, 1000)])
            world.emit_paid(order)
            world.drain()
        rows = {r["date"][-2:]: r for r in world.service.daily(f"{year}-07-01", f"{year}-07-31")["items"]}
        assert [(rows[d]["buyers"], rows[d]["new_buyers"], rows[d]["repeat_buyers"]) for d in ("03", "09", "20")] == [
            (1, 1, 0), (1, 0, 1), (1, 0, 0)]
        assert sum(r["repeat_buyers"] for r in rows.values()) == 1
        # Next month the same buyer is a buyer again, not new, and no repeat yet.
        order = world.paid(buyer, beijing(year, 8, 1), [("p1", 1, 1000)])
        world.emit_paid(order)
        world.drain()
        row = _day(world, f"{year}-08-01")
        assert (row["buyers"], row["new_buyers"], row["repeat_buyers"]) == (1, 0, 0)

    def test_two_orders_of_one_buyer_in_one_day_and_one_batch(self, world):
        year = random_year()
        buyer = _user()
        for _ in range(2):
            world.emit_paid(world.paid(buyer, beijing(year, 9, 9), [("p1", 1, 1000)]))
        world.drain()
        row = _day(world, f"{year}-09-09")
        assert (row["orders"], row["buyers"], row["new_buyers"], row["repeat_buyers"]) == (2, 1, 1, 1)


# Sales alone: no share was made or opened.
NO_REACH = {"shares": 0, "visits": 0, "visitors": 0}


class TestRankings:
    def test_distributors_and_products_best_first(self, world):
        year = random_year()
        plan = {"d_small": (1, 1000, 100), "d_big": (3, 3000, 300), "d_mid": (2, 2000, 200)}
        for did, (n, price, commission) in plan.items():
            for _ in range(n):
                world.emit_paid(world.paid(_user(), beijing(year, 11, 5), [("p" + did, 1, price)],
                                           distributor_id=did, commission=commission))
        world.emit_paid(world.paid(_user(), beijing(year, 11, 6), [("pd_small", 20, 1000)]))  # no distributor
        world.drain(batch=3)
        ranking = world.service.distributors(f"{year}-11")["items"]
        assert ranking == [
            {"distributor_id": "d_big", "sales_amount": 9000, "orders": 3, "commission": 900, **NO_REACH},
            {"distributor_id": "d_mid", "sales_amount": 4000, "orders": 2, "commission": 400, **NO_REACH},
            {"distributor_id": "d_small", "sales_amount": 1000, "orders": 1, "commission": 100, **NO_REACH}]
        day = world.service.products(f"{year}-11-05", f"{year}-11-05")["items"]
        assert [(p["product_id"], p["gmv"]) for p in day] == [("pd_big", 9000), ("pd_mid", 4000), ("pd_small", 1000)]
        month = world.service.products(f"{year}-11-01", f"{year}-11-30")["items"]
        assert [(p["product_id"], p["quantity"], p["gmv"]) for p in month] == [
            ("pd_small", 21, 21000), ("pd_big", 3, 9000), ("pd_mid", 2, 4000)]
        span = world.service.products(f"{year}-11-06", f"{year}-12-31")["items"]
        assert [(p["product_id"], p["gmv"]) for p in span] == [("pd_small", 20000)]

    def test_product_gmv_is_the_goods_after_discount_without_shipping_and_the_coupon_brought_it(self, world):
        year = random_year()
        template = "tpl-" + uuid.uuid4().hex[:6]
        world.emit_paid(world.paid(_user(), beijing(year, 1, 2), [("pa", 1, 3000), ("pb", 1, 1000)],
                                   discount=1000, shipping=800, coupon_template=template))
        world.drain()
        mine = [c for c in world.service.coupons()["items"] if c["template_id"] == template]
        assert mine == [{"template_id": template, "issued": 0, "used": 1, "discount": 1000, "gmv": 3800}]
        items = world.service.products(f"{year}-01-02", f"{year}-01-02")["items"]
        assert [(p["product_id"], p["gmv"]) for p in items] == [("pa", 2250), ("pb", 750)]
        assert _day(world, f"{year}-01-02")["gmv"] == 3800


class TestRecount:
    def test_after_1000_random_paid_and_refunded_events_the_recount_equals_the_aggregates(self, world):
        year = random_year()
        rng = random.Random(year)
        buyers = [_user() for _ in range(60)]
        paid: list = []
        events = 0
        while events < 1000:
            if paid and rng.random() < 0.3:
                order = rng.choice(paid)
                left = order.paid - world.orders.get(order.order_id, consistent=True).refunded_amount
                if left <= 0:
                    continue
                amount = rng.randint(1, left)
                # succeeded the same day or up to two days later (may cross into the next month)
                when = _paid_time(order) + _days(rng.randint(0, 2), rng.randint(0, 3600))
                refund_id = world.refund(order.order_id, amount, when)
                world.emit_refunded(order.order_id, refund_id, amount)
            else:
                day = rng.randint(27, 30)
                order = world.paid(rng.choice(buyers), beijing(year, 6, day, rng.randint(0, 23), rng.randint(0, 59),
                                                               rng.choice([0, 59])),
                                   [(f"p{rng.randint(1, 8)}", rng.randint(1, 3), rng.randint(1, 500) * 10)],
                                   distributor_id=rng.choice([None, "d1", "d2"]), commission=rng.randint(0, 50))
                world.emit_paid(order)
                paid.append(order)
            events += 1
            if world.sent and rng.random() < 0.05:
                world.sent.append(rng.choice(world.sent))  # a redelivery
        world.drain(batch=100)
        for d in range(27, 31):
            day = f"{year}-06-{d:02d}"
            result = world.service.recount(day)
            assert result["differences"] == {}, (day, result)
            assert result["recount"]["orders"] > 0
        # and the aggregate totals agree with the orders themselves
        all_orders = [world.orders.get(o.order_id, consistent=True) for o in paid]
        rows = world.service.daily(f"{year}-06-27", f"{year}-07-03")["items"]
        assert sum(r["gmv"] for r in rows) == sum(o.paid for o in all_orders)
        assert sum(r["refunds"] for r in rows) == sum(o.refunded_amount for o in all_orders)
        assert sum(r["net"] for r in rows) == sum(o.paid - o.refunded_amount for o in all_orders)

    def test_a_difference_raises_the_alarm(self, world, monkeypatch):
        from layers.services import analytics as module

        logged = []
        monkeypatch.setattr(module.logger, "error", lambda msg, extra=None: logged.append(extra))
        year = random_year()
        order = world.paid(_user(), beijing(year, 4, 4), [("p1", 1, 1234)])  # paid, never counted
        del order
        result = world.service.recount(f"{year}-04-04")
        assert result["differences"] == {"gmv": {"recount": 1234, "aggregate": 0},
                                          "orders": {"recount": 1, "aggregate": 0},
                                          "buyers": {"recount": 1, "aggregate": 0}}
        assert [e["alarm"] for e in logged] == ["ANALYTICS_MISMATCH"]


def _paid_time(order):
    from datetime import datetime

    return datetime.fromisoformat(order.paid_at.replace("Z", "+00:00"))


def _days(days: int, seconds: int):
    from datetime import timedelta

    return timedelta(days=days, seconds=seconds)
