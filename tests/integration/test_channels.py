"""Channels through the real path on DynamoDB Local: many shoppers open the mini-program
through channels at once (POST /visits, some calls retried), orders name a channel, take
the last visit's, or are too late for it, they are paid through WeChat Pay's notification,
the events go through the events consumer and the facts through four concurrent
analytics consumers with every batch delivered twice. GET /admin/analytics/channels
equals a recount from the visits and the orders as stored; the nightly recount agrees."""

from __future__ import annotations

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, order_payload, post
from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
from tests.integration.test_payments import drain_events_queue, pay_through_notification

pytestmark = pytest.mark.integration


def _visit(client, shopper, payload, key=None):
    headers = {**shopper, **({"Idempotency-Key": key} if key else {})}
    return post(client, "/visits", payload, headers)


def _consume_concurrently(facts: list[str], consumers: int = 4) -> None:
    from functions.analytics import consume_batch

    batches = [facts[n:n + 10] for n in range(0, len(facts), 10)] * 2
    random.Random(11).shuffle(batches)
    with ThreadPoolExecutor(consumers) as pool:
        answers = list(pool.map(lambda b: consume_batch(_sqs_event(b)), batches))
    assert all(a == {"batchItemFailures": []} for a in answers)


def _through_the_pipeline(shop, wanted) -> None:
    from functions import wiring
    from layers.events import handle_event_batch

    events = [json.dumps(m) for m in drain_events_queue(shop["sqs"]) if wanted(m)]
    for _ in range(2):
        for n in range(0, len(events), 10):
            assert handle_event_batch(_sqs_event(events[n:n + 10]), wiring.event_handlers()) == {
                "batchItemFailures": []}
    _consume_concurrently(_drain_analytics_queue(shop["sqs"]))


def test_visits_and_orders_through_channels_equal_a_recount(client, admin_headers, shop, monkeypatch):
    from functions import wiring
    from functions.schemas import VisitInput
    from layers import clock
    from layers.clock import iso
    from layers.domain.analytics import day_of
    from layers.storage import placement

    tag = uuid.uuid4().hex[:8]
    poster, sms, article = f"poster-{tag}", f"sms-{tag}", f"mp-{tag}"
    sku = create_product(client, admin_headers, price=2_000, stock=100)["skus"][0]["id"]
    shoppers = [login(client) for _ in range(24)]
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    window = wiring.shop_settings_repository().load_settings(fresh=True).share_binding_ttl_s

    # B's only visit is older than the window: a moment past it when B orders
    real_now = clock.now
    late = shoppers[1]
    moment = real_now() - timedelta(seconds=window + 120)
    monkeypatch.setattr(clock, "now", lambda: moment)
    assert _visit(client, late, {"path": "pages/index/index", "scene": 1011, "channel": article}).status_code == 204
    monkeypatch.setattr(clock, "now", real_now)

    # many shoppers at once, over three channels; a third call again (the same visit)
    plan = [(n, [poster, sms, article][n % 3]) for n in range(2, 24)] + [(0, poster), (2, sms), (3, poster)]
    calls = [(n, ch, f"launch-{tag}-{n}-{ch}") for n, ch in plan]
    retried = random.Random(tag).sample(calls, 8)

    def call(c):  # the service the route calls (Chalice's test client is one request at a time)
        n, ch, key = c
        payload = VisitInput(path="pages/goods/detail", scene=1047, channel=ch)
        wiring.channels().visit(shoppers[n]["X-User-Id"], payload, key if n % 2 else None)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, calls + retried))
    for n in (2, 3):  # and through the route, retried
        for _ in range(2):
            payload = {"path": "pages/index/index", "scene": 1047, "channel": [poster, sms, article][n % 3]}
            assert _visit(client, shoppers[n], payload, f"route-{tag}-{n}").status_code == 204
    today = day_of(iso(clock.now()))
    visitors = {}
    for n, ch in plan:
        visitors.setdefault(ch, set()).add(shoppers[n]["X-User-Id"])

    # orders: A takes the last visit's channel, B is too late for it, C names its own
    a, b, c = shoppers[0], late, shoppers[3]
    batch_reads = []
    real_batch = placement.batch_get_raw
    monkeypatch.setattr(placement, "batch_get_raw",
                        lambda keys, **how: batch_reads.append(keys) or real_batch(keys, **how))
    placed_a = post(client, "/orders", order_payload(sku, 2), a)
    assert placed_a.status_code == 201, placed_a.body
    assert len(batch_reads) == 1  # the last visit is one key of placement's one read
    monkeypatch.setattr(placement, "batch_get_raw", real_batch)
    placed_b = post(client, "/orders", order_payload(sku, 1), b)
    placed_c = post(client, "/orders", order_payload(sku, 3, channel=sms, scene=1065), c)
    placed_d = post(client, "/orders", order_payload(sku, 1), shoppers[4])  # visited sms: 4 % 3 == 1
    unpaid = post(client, "/orders", order_payload(sku, 1), shoppers[5])  # a channel, never paid
    orders = [body(r) for r in (placed_a, placed_b, placed_c, placed_d, unpaid)]
    assert [o.get("channel") for o in orders] == [poster, None, sms, sms, article]
    assert orders[2]["scene"] == 1065 and "scene" not in orders[0]
    for o in orders[:4]:
        pay_through_notification(client, shop["sandbox"], o["id"])

    mine = {o["id"] for o in orders}
    users = {s["X-User-Id"] for s in shoppers}
    _through_the_pipeline(shop, lambda m: m["payload"].get("order_id") in mine
                          or m["payload"].get("visitor_id") in users)

    stored = [wiring.order_repository().get(o["id"], consistent=True) for o in orders]
    expected = {}
    for ch in (poster, sms, article):
        paid = [o for o in stored if o.channel == ch and o.paid_at and day_of(o.paid_at) == today]
        expected[ch] = {"channel": ch, "visitors": len(visitors[ch]), "orders": len(paid),
                        "buyers": len({o.user_id for o in paid}), "gmv": sum(o.paid for o in paid)}
    assert expected[poster]["orders"] == 1 and expected[sms]["orders"] == 2 and expected[article]["orders"] == 0

    r = client.http.get(f"/admin/analytics/channels?from={today}&to={today}", headers=admin_headers)
    assert r.status_code == 200, r.body
    got = [row for row in body(r)["items"] if row["channel"].endswith(tag)]
    assert got == sorted(expected.values(), key=lambda x: (-x["gmv"], x["channel"]))
    gmvs = [row["gmv"] for row in body(r)["items"]]
    assert gmvs == sorted(gmvs, reverse=True)

    # the late visit counts on its own day, for its channel
    old_day = day_of(iso(moment))
    r = client.http.get(f"/admin/analytics/channels?from={old_day}&to={old_day}", headers=admin_headers)
    assert {x["channel"]: x["visitors"] for x in body(r)["items"]}.get(article) == 1
    # a range: the sums of each day's distinct counts
    r = client.http.get(f"/admin/analytics/channels?from={old_day}&to={today}", headers=admin_headers)
    ranged = {x["channel"]: x for x in body(r)["items"]}
    assert late["X-User-Id"] not in visitors[article]
    assert ranged[article]["visitors"] == expected[article]["visitors"] + 1  # visitor-days
    assert ranged[sms]["gmv"] == expected[sms]["gmv"]

    # the nightly recount finds the same channels' orders, gmv and buyers
    recount = wiring.analytics().recount(today)
    assert {ch: recount["channels"].get(ch) for ch in (poster, sms)} == {
        ch: {k: expected[ch][k] for k in ("orders", "gmv", "buyers")} for ch in (poster, sms)}
    assert not {ch for ch in recount["channel_differences"] if ch.endswith(tag)}


def test_a_visit_with_a_share_token_is_also_the_share_visit_and_an_unknown_token_is_ignored(
        client, admin_headers, shop):
    from functions import wiring
    from tests.integration.test_distribution import new_distributor, share, uid

    guide = new_distributor(client, admin_headers)
    token = share(client, guide)
    shopper = login(client)
    tag = uuid.uuid4().hex[:8]
    payload = {"path": "pages/index/index", "scene": 1007, "channel": f"guide-{tag}", "share_token": token}
    assert _visit(client, shopper, payload, f"k-{tag}").status_code == 204
    binding = wiring.distribution().current_binding(shopper["X-User-Id"])
    assert binding is not None and binding.distributor_id == uid(guide)
    events = [m for m in drain_events_queue(shop["sqs"]) if m["payload"].get("visitor_id") == shopper["X-User-Id"]]
    assert sorted(m["type"] for m in events) == ["channel.visited", "share.visited"]
    # a token that names no share: the visit still counts for its channel, nothing binds
    other = login(client)
    unknown = {**payload, "share_token": "no-such-share"}
    assert _visit(client, other, unknown).status_code == 204
    assert wiring.distribution().current_binding(other["X-User-Id"]) is None
    assert wiring.last_visits().get(other["X-User-Id"]).channel == f"guide-{tag}"
    # no channel: nothing kept
    third = login(client)
    assert _visit(client, third, {"path": "pages/index/index", "scene": 1001}).status_code == 204
    assert wiring.last_visits().get(third["X-User-Id"]) is None


def test_an_older_visit_never_replaces_a_newer_one(shop):
    from layers.domain.channels import LastVisit
    from layers.storage.channels import DynamoLastVisits

    visits, user = DynamoLastVisits(), "u_" + uuid.uuid4().hex[:20]
    assert visits.record(user, LastVisit("b", "2026-12-01T02:00:00Z", 1011))
    assert not visits.record(user, LastVisit("a", "2026-12-01T01:59:59Z", None))
    assert visits.record(user, LastVisit("c", "2026-12-01T02:00:00Z", None))  # the same moment: the later call
    assert visits.get(user) == LastVisit("c", "2026-12-01T02:00:00Z", None)


def test_bad_visits_and_bad_periods_are_400(client, admin_headers):
    shopper = login(client)
    for bad in ({"path": "p", "scene": 12}, {"scene": 1001}, {"path": "p"}, {"path": "", "scene": 1001},
                {"path": "p", "scene": 1001, "channel": "a b"}, {"path": "p", "scene": 1001, "extra": 1},
                {"path": "p", "scene": "1001"}):
        r = _visit(client, shopper, bad)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", bad
    assert post(client, "/visits", {"path": "p", "scene": 1001}, {}).status_code == 401
    for query in ("from=2026-12-01&to=2026-11-30", "from=2025-01-01&to=2026-01-02", "from=2026-13-01&to=2026-12-01",
                  "from=2026-12-01", "to=2026-12-01", "from=x&to=y", ""):
        r = client.http.get(f"/admin/analytics/channels?{query}", headers=admin_headers)
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", query
    assert client.http.get("/admin/analytics/channels?from=2026-12-01&to=2026-12-01").status_code == 401
    r = client.http.get("/admin/analytics/channels?from=2026-11-01&to=2026-11-30", headers=admin_headers)
    assert r.status_code == 200 and isinstance(body(r)["items"], list)
