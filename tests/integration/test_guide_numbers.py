"""A guide's numbers through the real path on DynamoDB Local: shares and visits made
through the service at three Beijing days (a Sunday, the Monday after it, the first of
the next month), the events through the events consumer, the facts through FOUR
concurrent analytics consumers with every batch delivered twice, and some visits
repeated (a retried call). Each guide's shares, visits and distinct visitors per day,
ISO week, month and all time equal a recount from what was done; the period export of
paid orders through a share agrees with the counters and with the orders."""

from __future__ import annotations

import csv
import io
import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from tests.helpers import body, create_product, login
from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
from tests.integration.test_distribution import (
    auth,
    new_distributor,
    new_template,
    share,
    uid,
    visit,
)
from tests.integration.test_guide_customers import _paid, _through_the_consumers
from tests.integration.test_payments import drain_events_queue

pytestmark = pytest.mark.integration

# 10:00 Beijing time on: Sunday of 2026-W48 (November), Monday of 2026-W49 (November),
# Tuesday of 2026-W49 (December).
DAYS = {"2026-11-29": "2026-11-29T02:00:00Z", "2026-11-30": "2026-11-30T02:00:00Z",
        "2026-12-01": "2026-12-01T02:00:00Z"}
WEEK = {"2026-11-29": "2026-W48", "2026-11-30": "2026-W49", "2026-12-01": "2026-W49"}


def _at(monkeypatch, when: str) -> None:
    from layers import clock

    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    monkeypatch.setattr(clock, "now", lambda: moment)


def _events_of(shop, guides: set[str]) -> list[str]:
    return [json.dumps(m) for m in drain_events_queue(shop["sqs"])
            if m["type"].startswith("share.") and m["payload"].get("distributor_id") in guides]


def _consume_concurrently(facts: list[str], consumers: int = 4) -> None:
    """Batches of 10, each delivered twice, shuffled, on `consumers` threads at once."""
    from functions.analytics import consume_batch

    batches = [facts[n:n + 10] for n in range(0, len(facts), 10)] * 2
    random.Random(7).shuffle(batches)
    with ThreadPoolExecutor(consumers) as pool:
        answers = list(pool.map(lambda b: consume_batch(_sqs_event(b)), batches))
    assert all(a == {"batchItemFailures": []} for a in answers)


def test_shares_visits_and_distinct_visitors_per_day_week_month_and_ever(client, admin_headers, shop,
                                                                          monkeypatch):
    from functions import wiring
    from layers.events import handle_event_batch

    template = new_template(client, admin_headers)
    a, b = new_distributor(client, admin_headers, template), new_distributor(client, admin_headers, template)
    visitors = [login(client) for _ in range(30)]
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])

    _at(monkeypatch, DAYS["2026-11-29"])
    tokens = {"a1": share(client, a), "a2": share(client, a), "b1": share(client, b), "b2": share(client, b)}
    sharer = {t: uid(a) if name.startswith("a") else uid(b) for name, t in tokens.items()}
    plan = {"2026-11-29": [(v, t) for v in range(20) for t in ("a1", "b1")],            # 40
            "2026-11-30": [(v, t) for v in range(10, 30) for t in ("a1", "a2", "b2")],  # 60
            "2026-12-01": [(v, t) for v in range(10) for t in ("a2", "b1")]}            # 20
    assert sum(len(p) for p in plan.values()) == 120
    done: list[tuple[str, str, str]] = []  # (guide, visitor, day)
    for day, visits in plan.items():
        _at(monkeypatch, DAYS[day])
        repeated = random.Random(day).sample(visits, 15)  # a retried call: the same visit again
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda vt: wiring.distribution().visit(uid(visitors[vt[0]]), tokens[vt[1]]),
                          visits + repeated))
        done += [(sharer[tokens[t]], uid(visitors[v]), day) for v, t in visits]
    # the guide opening their own share is no visit of theirs
    wiring.distribution().visit(uid(a), tokens["a1"])

    events = _events_of(shop, {uid(a), uid(b)})
    # a retried visit is the same event (published again: counted once downstream)
    assert len({json.loads(e)["event_id"] for e in events}) == 4 + 120 and len(events) == 4 + 120 + 45
    for _ in range(2):
        for n in range(0, len(events), 10):
            assert handle_event_batch(_sqs_event(events[n:n + 10]), wiring.event_handlers()) == {
                "batchItemFailures": []}
    facts = _drain_analytics_queue(shop["sqs"])
    mine = [f for f in facts if json.loads(f).get("distributor_id") in {uid(a), uid(b)}]
    assert len(mine) == 2 * len(events)  # each event handled twice: each fact sent twice
    _consume_concurrently(mine)

    repo = wiring.analytics_repository()
    for guide in (uid(a), uid(b)):
        mine_done = [(v, d) for g, v, d in done if g == guide]
        periods = {"ALL": lambda d: True, "2026-11": lambda d: d[:7] == "2026-11",
                   "2026-12": lambda d: d[:7] == "2026-12"}
        periods.update({d: (lambda day: lambda d: d == day)(d) for d in DAYS})
        periods.update({w: (lambda week: lambda d: WEEK[d] == week)(w) for w in set(WEEK.values())})
        for period, within in periods.items():
            counters = repo.distributors([guide], period).get(guide, {})
            expected_visits = [v for v, d in mine_done if within(d)]
            shares = 2 if within("2026-11-29") else 0
            assert (counters.get("shares", 0), counters.get("visits", 0), counters.get("visitors", 0)) == (
                shares, len(expected_visits), len(set(expected_visits))), (guide, period)
            assert counters.get("orders", 0) == 0 and counters.get("sales_amount", 0) == 0

    # what the guide, the operators and the rankings show
    monkeypatch.undo()
    r = client.http.get("/me/distribution", headers=auth(a))
    assert r.status_code == 200
    assert {k: body(r)[k] for k in ("shares", "visits", "visitors")} == {"shares": 2, "visits": 70, "visitors": 30}
    r = client.http.get("/admin/analytics/distributors?week=2026-W49", headers=admin_headers)
    assert r.status_code == 200, r.body
    rows = {row["distributor_id"]: row for row in body(r)["items"]}
    assert (rows[uid(b)]["shares"], rows[uid(b)]["visits"], rows[uid(b)]["visitors"]) == (0, 30, 30)
    r = client.http.get(f"/admin/distributors/{uid(b)}", headers=admin_headers)
    assert {k: body(r)[k] for k in ("shares", "visits", "visitors")} == {"shares": 2, "visits": 50, "visitors": 30}
    for bad in ("2026-W54", "2026-48", "2026-W4", "W48", "2025-W53"):
        r = client.http.get(f"/admin/analytics/distributors?week={bad}", headers=admin_headers)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", bad
    r = client.http.get("/admin/analytics/distributors?week=2026-W53&month=2026-12", headers=admin_headers)
    assert r.status_code == 400


def _export(client, admin_headers, first: str, last: str) -> list[dict]:
    r = client.http.get(f"/admin/distributors.csv?from={first}&to={last}", headers=admin_headers)
    assert r.status_code == 303, r.body
    got = requests.get(r.headers["Location"], timeout=10)
    assert got.status_code == 200
    assert got.headers.get("Content-Disposition", "").startswith("attachment")
    return list(csv.DictReader(io.StringIO(got.content.decode())))


def test_the_period_export_agrees_with_the_counters_and_the_orders(client, admin_headers, shop):
    from functions import wiring
    from layers.clock import iso
    from layers.domain.analytics import day_of, week_of_day

    guide = new_distributor(client, admin_headers)
    sku = create_product(client, admin_headers, price=10_000, stock=100)["skus"][0]["id"]
    buyers = [login(client) for _ in range(3)]
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    token = share(client, guide)
    for buyer in buyers:
        assert visit(client, buyer, token).status_code == 204
    assert visit(client, buyers[0], token).status_code == 204  # again the same day: the same visit
    events = _events_of(shop, {uid(guide)})
    orders = [_paid(client, shop, buyers[0], sku, 2, token), _paid(client, shop, buyers[1], sku, 1, token)]
    _through_the_consumers(shop, {o["id"] for o in orders})
    facts = [f for f in _drain_analytics_queue(shop["sqs"]) if json.loads(f).get("distributor_id") == uid(guide)]
    from layers.events import handle_event_batch

    assert handle_event_batch(_sqs_event(events), wiring.event_handlers()) == {"batchItemFailures": []}
    _consume_concurrently(facts + _drain_analytics_queue(shop["sqs"]))

    today = day_of(iso(wiring.clock().now()))
    [row] = [r for r in _export(client, admin_headers, today, today) if r["distributor_id"] == uid(guide)]
    stored = [wiring.order_repository().get(o["id"], consistent=True) for o in orders]
    commission = sum(wiring.commission_repository().get(uid(guide), o.order_id).amount for o in stored)
    assert (int(row["sales_amount"]), int(row["orders"]), int(row["commission"])) == (
        sum(o.paid for o in stored), 2, commission)
    assert (int(row["shares"]), int(row["visits"]), row["visitors"]) == (1, 3, "3")
    counters = wiring.analytics_repository().distributors([uid(guide)], today)[uid(guide)]
    assert int(row["sales_amount"]) == counters["sales_amount"] and int(row["visits"]) == counters["visits"]
    # the week: visitors given; a range of two days: visitors cannot be summed, left empty
    week = week_of_day(today)
    r = client.http.get(f"/admin/analytics/distributors?week={week}", headers=admin_headers)
    ranked = {x["distributor_id"]: x for x in body(r)["items"]}[uid(guide)]
    assert ranked["sales_amount"] == int(row["sales_amount"]) and ranked["visitors"] == 3
    from datetime import date, timedelta

    before = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    [two_days] = [r for r in _export(client, admin_headers, before, today) if r["distributor_id"] == uid(guide)]
    assert two_days["visitors"] == "" and two_days["sales_amount"] == row["sales_amount"]


def test_bad_periods_are_400_and_change_nothing(client, admin_headers):
    for query in ("from=2026-12-01&to=2026-11-30", "from=2025-01-01&to=2026-01-02", "from=2026-13-01&to=2026-12-01",
                  "from=2026-12-01", "to=2026-12-01", "from=x&to=y"):
        r = client.http.get(f"/admin/distributors.csv?{query}", headers=admin_headers)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", query
    r = client.http.get("/admin/distributors.csv", headers=admin_headers)  # all-time: as before
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.body.decode().splitlines()[0].startswith("id,manager_id,template_id")


def test_no_bucket_is_503_exports_unavailable(client, admin_headers, monkeypatch):
    from functions import wiring

    monkeypatch.setattr(wiring.analytics(), "exports", None)
    r = client.http.get("/admin/distributors.csv?from=2026-12-01&to=2026-12-06", headers=admin_headers)
    assert r.status_code == 503 and body(r)["error"]["code"] == "EXPORTS_UNAVAILABLE"


def test_a_guides_customer_list_and_the_period_export_agree_with_the_same_orders(client, admin_headers, shop):
    """One guide's day: customers bound by a share and by an order's token, several paid
    orders each, one partly refunded, one never paid, and an order of another guide's
    customer. The guide's customer list (orders, spent) and the export's row (orders,
    sales, commission) are two views kept by different counters; both equal a recount from
    the orders as stored, and they differ from each other by exactly shipping and the
    goods part of the refunds (sales are never lowered by refunds; spending is)."""
    from functions import wiring
    from layers.clock import iso
    from layers.domain import paid_shares
    from layers.domain.analytics import day_of
    from layers.domain.customers import refunded_goods
    from tests.integration.test_guide_customers import _listed, _order, _recount, _refunded

    guide, other = new_distributor(client, admin_headers), new_distributor(client, admin_headers)
    sku = create_product(client, admin_headers, price=12_345, stock=100)["skus"][0]["id"]
    c1, c2, c3, stranger = (login(client) for _ in range(4))
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])

    token = share(client, guide)
    assert visit(client, c1, token).status_code == 204
    assert visit(client, c3, token).status_code == 204
    assert visit(client, stranger, share(client, other)).status_code == 204
    from layers.events import handle_event_batch

    reach = _events_of(shop, {uid(guide), uid(other)})
    assert handle_event_batch(_sqs_event(reach), wiring.event_handlers()) == {"batchItemFailures": []}
    reach_facts = _drain_analytics_queue(shop["sqs"])
    paid = [_paid(client, shop, c1, sku, 2), _paid(client, shop, c1, sku, 1),
            _paid(client, shop, c2, sku, 3, token), _paid(client, shop, c3, sku, 1)]
    _refunded(client, shop, c1, paid[0]["id"], 5_000)
    unpaid = _order(client, c2, sku, 1)
    theirs = _paid(client, shop, stranger, sku, 4)
    _through_the_consumers(shop, {o["id"] for o in (*paid, unpaid, theirs)})
    _consume_concurrently(reach_facts)

    customers = _listed(client, f"/admin/distributors/{uid(guide)}/customers", admin_headers)
    assert _listed(client, "/me/distribution/customers", auth(guide)) == customers
    today = day_of(iso(wiring.clock().now()))
    [row] = [r for r in _export(client, admin_headers, today, today) if r["distributor_id"] == uid(guide)]

    stored = [wiring.order_repository().get(o["id"], consistent=True) for o in paid]
    assert all(o.distributor_id == uid(guide) for o in stored)
    recount = _recount(uid(guide), {o["id"] for o in (*paid, unpaid, theirs)})
    assert {c["user_id"]: (c["orders"], c["spent"]) for c in customers} == recount
    assert sorted(recount) == sorted([uid(c1), uid(c2), uid(c3)])
    commissions = [wiring.commission_repository().get(uid(guide), o.order_id) for o in stored]
    # like sales, the export's commission is what the orders earned when paid: the refund's
    # reversal lowers the guide's balance, not the period's figures
    assert (int(row["orders"]), int(row["sales_amount"]), int(row["commission"])) == (
        len(stored), sum(o.paid for o in stored), sum(c.accrued for c in commissions))
    assert sum(c.amount for c in commissions) < sum(c.accrued for c in commissions)

    # the two views against each other
    assert int(row["orders"]) == sum(c["orders"] for c in customers) == 4
    goods = {o.order_id: sum(paid_shares.line_paid(o.items, o.amounts)) for o in stored}
    refunded = sum(refunded_goods(goods[o.order_id], 0, int(o.refunded_amount or 0)) for o in stored)
    shipping = sum(o.paid - goods[o.order_id] for o in stored)
    assert refunded > 0
    assert int(row["sales_amount"]) - shipping - refunded == sum(c["spent"] for c in customers)
    assert (int(row["shares"]), int(row["visits"]), row["visitors"]) == (1, 2, "2")
    # the other guide's customer is in neither of this guide's views
    assert uid(stranger) not in {c["user_id"] for c in customers}
    [their_row] = [r for r in _export(client, admin_headers, today, today) if r["distributor_id"] == uid(other)]
    assert int(their_row["orders"]) == 1
