"""Campaign reviews through the real path on DynamoDB Local: random (seeded) orders in
two group buys, a flash sale and a bargain, placed through different channels, some paid,
some groups filled, some expired and refunded, bargains started, helped to their floor
and bought; every event through the events consumer (twice, shuffled), every fact
through FOUR concurrent analytics consumers with each batch delivered twice. Each
campaign's review (`GET /admin/analytics/campaigns/{kind}/{id}`) equals a recount
made here from its orders, groups and instances, and the nightly recount finds no
difference."""

from __future__ import annotations

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import ADDRESS, body, login, post
from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
from tests.integration.test_campaigns import new_bargain
from tests.integration.test_flash_sales import new_sale
from tests.integration.test_group_buys import new_activity, new_user
from tests.integration.test_payments import deliver, drain_events_queue, pay_through_notification

pytestmark = pytest.mark.integration

CHANNELS = ["moments", "poster_a", None]


def _group_input(channel):
    from functions import schemas

    return schemas.GroupOrderInput.model_validate({"address": ADDRESS, **({"channel": channel} if channel else {})})


def _flash_input(channel):
    from functions import schemas

    return schemas.OrderInput.model_validate({"quantity": 1, "address": ADDRESS,
                                              **({"channel": channel} if channel else {})})


def _refund_succeeds(client, sandbox, order_id: str) -> None:
    """Every refund of the order WeChat was asked for, succeeded."""
    from functions import wiring

    for refund in wiring.refund_repository().for_order(order_id):
        if refund.refund_id in sandbox.refunds:
            headers, raw = sandbox.build_notification("REFUND.SUCCESS",
                                                      sandbox.refund_resource(refund.refund_id, "SUCCESS"))
            assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)


def _pipeline(shop) -> None:
    """The events (each batch twice, shuffled) through every handler, until no new event
    comes; then the facts through four concurrent analytics consumers, twice, shuffled."""
    from functions import wiring
    from functions.analytics import consume_batch
    from layers.events import handle_event_batch

    rng = random.Random(11)
    while True:
        events = [json.dumps(m) for m in drain_events_queue(shop["sqs"])]
        if not events:
            break
        batches = [events[n:n + 10] for n in range(0, len(events), 10)] * 2
        rng.shuffle(batches)
        for batch in batches:
            assert handle_event_batch(_sqs_event(batch), wiring.event_handlers()) == {"batchItemFailures": []}
    facts = _drain_analytics_queue(shop["sqs"])
    batches = [facts[n:n + 10] for n in range(0, len(facts), 10)] * 2
    rng.shuffle(batches)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda b: consume_batch(_sqs_event(b)), batches))
    assert all(a == {"batchItemFailures": []} for a in answers)


def _recount(kind: str, order_ids: list[str], groups=(), instances=()) -> dict:
    """The review from the records, as the test sees them (independent of the rules)."""
    from functions import wiring
    from layers.storage.analytics import BuyerItem, buyer_key

    orders = [wiring.order_repository().get(oid, consistent=True) for oid in order_ids]
    paid = [o for o in orders if o.paid_at and o.status_before_refund != "CLOSED"]

    def first_ever(o) -> bool:
        try:
            return BuyerItem.get(*buyer_key(o.user_id, "ALL")).first == o.order_id
        except BuyerItem.DoesNotExist:
            return False

    out = {"orders": len(orders), "paid_orders": len(paid), "gmv": sum(o.paid for o in paid),
           "refunds": sum(o.refunded_amount for o in paid), "new_customers": sum(first_ever(o) for o in paid)}
    by_channel = {}
    for o in orders:
        row = by_channel.setdefault(o.channel, {"channel": o.channel, "orders": 0, "paid_orders": 0, "gmv": 0})
        row["orders"] += 1
        if o in paid:
            row["paid_orders"] += 1
            row["gmv"] += o.paid
    out["by_channel"] = sorted(by_channel.values(), key=lambda r: (-r["gmv"], -r["orders"], r["channel"] or ""))
    if kind == "group_buy":
        out["participants"] = len({o.user_id for o in orders})
        opened = [g for g in groups if g.expires_at]
        out |= {"groups_opened": len(opened), "groups_succeeded": sum(g.status == "SUCCEEDED" for g in groups),
                "groups_failed": sum(g.status == "FAILED" for g in opened)}
    elif kind == "flash_sale":
        out["participants"] = len({o.user_id for o in orders})
    elif kind == "bargain":
        out |= {"participants": len({i.user_id for i in instances}), "bargains_started": len(instances),
                "bargains_succeeded": sum(i.succeeded_at is not None for i in instances),
                "bargains_bought": len(paid)}
    return out


def test_each_campaigns_review_equals_a_recount_from_its_orders_and_records(client, admin_headers, shop,
                                                                           monkeypatch):
    from functions import schemas, wiring
    from layers import clock
    from layers.domain import errors

    rng = random.Random(2026)
    sandbox = shop["sandbox"]
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])

    # -- two group buys: groups opened, some filled, some left to fail --
    group_buys = [new_activity(client, admin_headers, group_size=2, stock=40),
                  new_activity(client, admin_headers, group_size=3, stock=40)]
    placed: dict[str, list[str]] = {g["id"]: [] for g in group_buys}
    for gb in group_buys:
        for _ in range(rng.randint(3, 5)):
            leader = wiring.group_buys().open(new_user(), gb["id"], _group_input(rng.choice(CHANNELS)), None)
            placed[gb["id"]].append(leader["id"])
            if rng.random() < 0.2:
                continue  # the leader never pays: the group is never opened
            pay_through_notification(client, sandbox, leader["id"])
            wiring.group_buys().on_order_paid(f"order.paid:{leader['id']}", {"order_id": leader["id"]})
            for _ in range(rng.randint(0, gb["group_size"] - 1)):
                try:
                    member = wiring.group_buys().join(new_user(), leader["group_id"],
                                                      _group_input(rng.choice(CHANNELS)), None)
                except errors.DomainError:
                    continue
                placed[gb["id"]].append(member["id"])
                if rng.random() < 0.8:
                    pay_through_notification(client, sandbox, member["id"])
                    wiring.group_buys().on_order_paid(f"order.paid:{member['id']}", {"order_id": member["id"]})

    # -- a flash sale: some buyers pay, some twice over two orders' limits --
    sale = new_sale(client, admin_headers, stock=30, per_user_limit=2)
    placed[sale["id"]] = []
    buyers = [new_user() for _ in range(6)]
    for _ in range(10):
        try:
            order = wiring.flash_sales().place_order(rng.choice(buyers), sale["id"], _flash_input(rng.choice(CHANNELS)),
                                                     None)
        except errors.DomainError:
            continue
        placed[sale["id"]].append(order["id"])
        if rng.random() < 0.7:
            pay_through_notification(client, sandbox, order["id"])

    # -- a bargain: started, helped to its floor, bought --
    bargain = new_bargain(client, admin_headers, helpers_needed=2, stock=10)
    placed[bargain["id"]] = []
    instance_ids = []
    for _ in range(4):
        owner = login(client)
        instance = body(post(client, f"/bargains/{bargain['id']}/instances", {}, owner))
        instance_ids.append(instance["id"])
        if rng.random() < 0.3:
            continue
        for _ in range(2):
            assert post(client, f"/bargain-instances/{instance['id']}/helps", {}, login(client)).status_code == 201
        if rng.random() < 0.8:
            user_id = wiring.bargain_instance_repository().get(instance["id"]).user_id
            order = wiring.bargains().buy(user_id, instance["id"], schemas.BargainOrderInput.model_validate(
                {"address": ADDRESS, "channel": "poster_a"}), None)
            placed[bargain["id"]].append(order["id"])
            if rng.random() < 0.7:
                pay_through_notification(client, sandbox, order["id"])

    # -- the groups' expiry: those short of their size fail and their members are refunded --
    moved = clock.now() + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: moved)
    wiring.group_buys().expire_due()
    for gb in group_buys:
        for oid in placed[gb["id"]]:
            _refund_succeeds(client, sandbox, oid)

    _pipeline(shop)

    groups = {gb["id"]: wiring.analytics().campaigns.groups(gb["id"]) for gb in group_buys}
    assert any(g.status == "FAILED" for gs in groups.values() for g in gs)
    assert any(g.status == "SUCCEEDED" for gs in groups.values() for g in gs)
    instances = [wiring.bargain_instance_repository().get(i) for i in instance_ids]
    expected = {("group_buy", gb["id"]): _recount("group_buy", placed[gb["id"]], groups[gb["id"]])
                for gb in group_buys}
    expected[("flash_sale", sale["id"])] = _recount("flash_sale", placed[sale["id"]])
    expected[("bargain", bargain["id"])] = _recount("bargain", placed[bargain["id"]], instances=instances)
    for (kind, campaign_id), want in expected.items():
        r = client.http.get(f"/admin/analytics/campaigns/{kind}/{campaign_id}", headers=admin_headers)
        assert r.status_code == 200, r.body
        assert body(r) == want, (kind, campaign_id)
        assert wiring.analytics().recount_review(f"{kind}#{campaign_id}") == {}
    assert sum(e["refunds"] for e in expected.values()) > 0
    group_reviews = [expected[("group_buy", gb["id"])] for gb in group_buys]
    assert sum(r["groups_failed"] for r in group_reviews) > 0 and sum(r["groups_succeeded"] for r in group_reviews)
    assert expected[("bargain", bargain["id"])]["bargains_bought"] > 0
    assert all(e["participants"] > 0 and e["new_customers"] > 0 for e in expected.values())
    assert {row["channel"] for e in expected.values() for row in e["by_channel"]} == set(CHANNELS)


def test_the_route_answers_400_for_an_unknown_kind_404_for_an_unknown_campaign_401_without_admin(
        client, admin_headers):
    sale = new_sale(client, admin_headers)
    r = client.http.get(f"/admin/analytics/campaigns/flash_sale/{sale['id']}", headers=admin_headers)
    assert r.status_code == 200, r.body
    assert body(r) == {"participants": 0, "orders": 0, "paid_orders": 0, "gmv": 0, "refunds": 0,
                       "new_customers": 0, "by_channel": []}
    r = client.http.get("/admin/analytics/campaigns/raffle/x1", headers=admin_headers)
    assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", r.body
    for kind in ("flash_sale", "group_buy", "bargain", "assist", "promotion", "coupon"):
        r = client.http.get(f"/admin/analytics/campaigns/{kind}/nope{uuid.uuid4().hex[:6]}", headers=admin_headers)
        assert r.status_code == 404 and body(r)["error"]["code"] == "NOT_FOUND", (kind, r.body)
    assert client.http.get(f"/admin/analytics/campaigns/flash_sale/{sale['id']}").status_code == 401
