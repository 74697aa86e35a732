"""The customer service over the in-memory repository: whatever order the paid and
refunded events of a shopper arrive in, however often each is delivered, the record is
the shopper's paid orders, their goods less the goods part of the refunds, the first and
last paid times; the phone from WeChat stored masked; a refused code changes nothing; the
retag job changes only what its rules say and nothing on a second run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain.customers import Tag, refunded_goods
from layers.domain.miniprogram import InvalidCode, WeChatUnavailable
from layers.services.customers import CustomerService
from tests.fakes.customers import MemoryCustomerRepository

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Orders:
    def __init__(self):
        self.orders = {}

    def add(self, order_id, user_id, lines, shipping, paid_at):
        items = tuple({"sku_id": f"s{i}", "quantity": 1, "unit_price": p, "paid": p} for i, p in enumerate(lines))
        goods = sum(lines)
        self.orders[order_id] = SimpleNamespace(order_id=order_id, user_id=user_id, items=items, paid_at=paid_at,
                                                amounts={"goods": goods, "discount": 0, "shipping": shipping,
                                                         "payable": goods + shipping}, distributor_id=None)

    def get(self, order_id, consistent=False):
        return self.orders.get(order_id)


class Phones:
    def __init__(self):
        self.codes = {}

    def get_phone_number(self, code):
        if code == "down":
            raise WeChatUnavailable("timeout")
        if code not in self.codes:
            raise InvalidCode("40029")
        return {"phone": self.codes.pop(code), "country_code": "86"}


def service(orders=None, phones=None, now=NOW):
    repo = MemoryCustomerRepository()
    clock = SimpleNamespace(now=lambda: now)
    return CustomerService(customers=repo, orders=orders or Orders(), phone_api=phones or Phones(),
                           level_of=lambda u: None, clock=clock), repo


order_plans = st.lists(st.tuples(st.lists(st.integers(1, 50_000), min_size=1, max_size=3), st.integers(0, 2000),
                                 st.lists(st.integers(1, 30_000), max_size=3)), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(plans=order_plans, seed=st.integers(0, 2**32 - 1))
def test_any_order_of_events_delivered_any_number_of_times_makes_the_same_record(plans, seed):
    rng = random.Random(seed)
    orders = Orders()
    svc, repo = service(orders)
    events, expected_spent, times = [], 0, []
    for n, (lines, shipping, cuts) in enumerate(plans):
        paid_at = (NOW - timedelta(days=rng.randint(0, 400))).strftime("%Y-%m-%dT%H:%M:%SZ")
        times.append(paid_at)
        orders.add(f"o{n}", "u1", lines, shipping, paid_at)
        events.append(("paid", f"order.paid:o{n}", {"order_id": f"o{n}"}))
        goods, payable, refunded = sum(lines), sum(lines) + shipping, 0
        taken = 0
        for k, cut in enumerate(cuts):
            cut = min(cut, payable - refunded)
            if cut <= 0:
                break
            taken += refunded_goods(goods, refunded, cut)
            refunded += cut
            events.append(("refunded", f"r{n}_{k}", {"order_id": f"o{n}", "amount": cut, "refunded_total": refunded}))
        expected_spent += goods - taken
    deliveries = events + [rng.choice(events) for _ in range(len(events))]
    rng.shuffle(deliveries)
    for kind, event_id, payload in deliveries:
        getattr(svc, f"on_order_{kind}")(event_id, payload)
    c = repo.get("u1")
    assert (c.orders, c.spent) == (len(plans), expected_spent)
    assert (c.first_order_at, c.last_order_at) == (min(times), max(times))
    assert c.spent >= 0


def test_the_phone_is_kept_masked_and_a_refused_code_or_wechat_down_changes_nothing():
    phones = Phones()
    svc, repo = service(phones=phones)
    phones.codes["c1"] = "13800000000"
    assert svc.set_phone("u1", "c1") == {"phone_masked": "138****0000"}
    with pytest.raises(errors.NotAcceptable):
        svc.set_phone("u1", "c1")  # used once
    with pytest.raises(errors.UpstreamUnavailable):
        svc.set_phone("u2", "down")
    assert repo.get("u2") is None and repo.phone("u1") == "13800000000"
    assert [c["user_id"] for c in svc.page(_q("0000"), 20, None)[0]] == ["u1"]
    with pytest.raises(errors.InvalidRequest):
        svc.page(_q("000"), 20, None)
    svc.remove_phone("u1")
    with pytest.raises(errors.NotFound):
        svc.remove_phone("u1")
    assert svc.page(_q("13800000000"), 20, None)[0] == []


def _q(q):
    from layers.services.customers import CustomerQuery

    return CustomerQuery(q=q)


def test_retag_changes_only_what_the_rules_say_and_a_second_run_nothing():
    orders = Orders()
    svc, repo = service(orders)
    repo.create_tag(Tag("recent", {"last_order_within_days": 30}, "2026-11-01T00:00:00Z"))
    repo.create_tag(Tag("manual", None, "2026-11-01T00:00:00Z"))
    for n, days in enumerate((1, 10, 100)):
        orders.add(f"o{n}", f"u{n}", [1000], 0, (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        svc.on_order_paid(f"e{n}", {"order_id": f"o{n}"})
    svc.set_manual_tags("u2", ["manual"])
    assert svc.retag() == {"done": True, "customers": 3, "retagged": 2}
    assert svc.retag() == {"done": True, "customers": 3, "retagged": 0}
    assert repo.users_with_tag("recent") == (["u0", "u1"], None)
    assert repo.get("u2").tags == ["manual"]
    with pytest.raises(errors.NotAcceptable):
        svc.set_manual_tags("u2", ["recent"])
    with pytest.raises(errors.NotFound):
        svc.set_manual_tags("nobody", ["manual"])


class Refunds:
    def __init__(self):
        self.by_order = {}

    def for_order(self, order_id):
        return self.by_order.get(order_id, [])


class Progress(dict):
    def set(self, key, value):
        self[key] = dict(value)


def test_the_backfill_counts_what_the_consumers_did_not_and_nothing_twice():
    from layers.services.customers import CustomerBackfill

    orders, refunds = Orders(), Refunds()
    svc, repo = service(orders)
    days = {"2026-11-29": [], "2026-11-30": [], "2026-12-01": []}
    for n, day in enumerate(("2026-11-29", "2026-11-30", "2026-12-01")):
        orders.add(f"o{n}", "u1", [10_000], 1000, f"{day}T02:00:00Z")
        days[day].append(orders.orders[f"o{n}"])
    orders.paid_on = lambda day: days.get(day, [])
    refunds.by_order["o0"] = [SimpleNamespace(refund_id="r2", amount=5000, status="SUCCESS", updated_at="2026-11-30T01:00:00Z"),
                              SimpleNamespace(refund_id="r1", amount=6000, status="SUCCESS", updated_at="2026-11-29T05:00:00Z"),
                              SimpleNamespace(refund_id="r3", amount=1, status="CLOSED", updated_at="2026-11-30T02:00:00Z")]
    svc.on_order_paid("order.paid:o2", {"order_id": "o2"})  # the consumer counted the newest already
    svc.on_order_refunded("order.refunded:r1", {"order_id": "o0", "amount": 6000, "refunded_total": 6000})
    ticks = iter(range(1000))
    backfill = CustomerBackfill(service=svc, orders=orders, refunds=refunds, progress=Progress(),
                                first_day=lambda: "2026-11-29", clock=SimpleNamespace(now=lambda: NOW),
                                budget_s=2, monotonic=lambda: next(ticks))
    first = backfill.run()  # the budget lets it walk one day, then it stops and keeps its place
    assert first == {"done": False, "applied": 0, "next_day": "2026-11-30"}  # 12-01 (Beijing): counted already
    second = backfill.run()
    assert second["done"] is False and second["applied"] == 1
    assert backfill.run() == {"done": True, "applied": 2, "next_day": None}  # o0 and r2; r1 was counted
    c = repo.get("u1")
    # goods 30,000 less the goods part of 11,000 refunded from o0 (10,000: shipping last)
    assert (c.orders, c.spent) == (3, 20_000)
    svc.on_order_paid("order.paid:o0", {"order_id": "o0"})  # delivered late: counted already
    backfill.run()  # a new pass: nothing new
    assert (repo.get("u1").orders, repo.get("u1").spent) == (3, 20_000)


def test_retag_with_a_budget_goes_on_where_it_stopped_and_starts_again_for_a_new_rule_tag():
    orders = Orders()
    svc, repo = service(orders)
    repo.create_tag(Tag("recent", {"last_order_within_days": 30}, "2026-11-01T00:00:00Z"))
    for n in range(250):
        orders.add(f"o{n}", f"u{n:03d}", [1000], 0, (NOW - timedelta(days=n % 60)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        svc.on_order_paid(f"e{n}", {"order_id": f"o{n}"})
    ticks = iter(range(10_000))
    svc.progress, svc.budget_s, svc.monotonic = Progress(), 1, lambda: next(ticks)
    first = svc.retag()  # one page of 100, then the budget is spent
    assert first["done"] is False and first["customers"] == 100
    assert svc.retag()["customers"] == 100
    last = svc.retag()
    assert last["done"] is True and last["customers"] == 50
    held = set(repo.users_with_tag("recent", 1000)[0])
    assert held == {f"u{n:03d}" for n in range(250) if n % 60 <= 30}
    assert svc.progress["retag-customers"]["retagged"] == len(held)
    assert svc.retag() == {"done": True, "customers": 0, "retagged": 0, "current_since": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}
    repo.create_tag(Tag("many", {"min_orders": 1}, "2026-12-01T00:00:01Z"))  # a new rule tag: a new pass
    assert svc.retag()["customers"] == 100
