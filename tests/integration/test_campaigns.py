"""Bargains and friend assistance against DynamoDB Local: crowds of helpers, racing
buyers and racing rewards, and the refusals over HTTP."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import ADDRESS, body, create_product, login, post

pytestmark = pytest.mark.integration


def new_user() -> str:
    from layers import clock
    from layers.storage.users import upsert_user

    return upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id


def window(**kw) -> dict:
    from layers import clock

    now = clock.now()
    return {"starts_at": clock.iso(now - timedelta(minutes=1)), "ends_at": clock.iso(now + timedelta(days=1)), **kw}


def new_bargain(client, admin_headers, price=19_900, floor_price=9_900, helpers_needed=5, stock=5, **kw) -> dict:
    product = create_product(client, admin_headers, price=price, stock=1, title="生日蛋糕", category="烘焙")
    r = post(client, "/admin/bargains", window(
        sku_id=product["skus"][0]["id"], floor_price=floor_price, helpers_needed=helpers_needed, ttl_s=3600,
        stock=stock, per_user_limit=2, **kw), admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def retrying(call):
    """A call as a client makes it: again while the answer is "busy" (429)."""
    from layers.domain import errors

    for _ in range(20):
        try:
            return call()
        except errors.RateLimited:
            continue
        except errors.DomainError as exc:
            return exc.code
    return "BUSY"


def test_twenty_helpers_on_five_cuts_make_exactly_five_helps(client, admin_headers):
    from functions import wiring

    bargain = new_bargain(client, admin_headers, helpers_needed=5)
    owner = new_user()
    instance = wiring.bargains().start(owner, bargain["id"])
    helpers = [new_user() for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda h: retrying(lambda: wiring.bargains().help(h, instance["id"])), helpers))
    helped = [r for r in results if isinstance(r, dict)]
    assert len(helped) == 5, results
    assert {r for r in results if not isinstance(r, dict)} <= {"INVALID_STATE"}
    assert sorted(r["helps"] for r in helped) == [1, 2, 3, 4, 5]
    stored = wiring.bargain_instance_repository().get(instance["id"])
    helps = wiring.help_repository().for_instance(instance["id"])
    assert [h.seq for h in helps] == [1, 2, 3, 4, 5]
    assert [h.cut for h in helps] == list(stored.cuts) and all(h.cut >= 1 for h in helps)
    assert sum(h.cut for h in helps) == stored.cut_total == 19_900 - 9_900
    assert sum(r["cut"] for r in helped) == 10_000
    assert stored.status == "SUCCEEDED" and stored.price_now == 9_900 and stored.helps == 5


def test_refusals_over_http_change_nothing(client, admin_headers, monkeypatch):
    from functions import wiring
    from layers import clock

    bargain = new_bargain(client, admin_headers, helpers_needed=3, helps_per_user_per_day=1)
    owner, friend = login(client), login(client)
    r = post(client, f"/bargains/{bargain['id']}/instances", {}, owner)
    assert r.status_code == 201, r.body
    one = body(r)
    assert set(one) >= {"id", "bargain_id", "status", "start_price", "floor_price", "price_now", "helps",
                        "helpers_needed", "expires_at"}
    other = body(post(client, f"/bargains/{bargain['id']}/instances", {}, login(client)))

    def helps(instance_id):
        return body(client.http.get(f"/bargain-instances/{instance_id}"))["helps"]

    r = post(client, f"/bargain-instances/{one['id']}/helps", {}, owner)
    assert r.status_code == 403 and body(r)["error"]["code"] == "NOT_ALLOWED"
    r = post(client, f"/bargain-instances/{one['id']}/helps", {}, friend)
    assert r.status_code == 201 and set(body(r)) >= {"cut", "price_now", "helps"}
    r = post(client, f"/bargain-instances/{one['id']}/helps", {}, friend)
    assert r.status_code == 409 and body(r)["error"]["code"] == "ALREADY_HELPED"
    r = post(client, f"/bargain-instances/{other['id']}/helps", {}, friend)
    assert r.status_code == 409 and body(r)["error"]["code"] == "LIMIT_EXCEEDED"
    assert helps(one["id"]) == 1 and helps(other["id"]) == 0
    r = post(client, f"/bargain-instances/{one['id']}/orders", {"address": ADDRESS}, owner)
    assert r.status_code == 409 and body(r)["error"]["code"] == "INVALID_STATE"

    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert body(client.http.get(f"/bargain-instances/{one['id']}"))["status"] == "EXPIRED"
    r = post(client, f"/bargain-instances/{one['id']}/helps", {}, login(client))
    assert r.status_code == 409 and body(r)["error"]["code"] == "INVALID_STATE"
    assert helps(one["id"]) == 1
    r = post(client, "/admin/jobs/expire-campaigns/run", {}, admin_headers)
    assert r.status_code == 200 and body(r)["result"]["bargain_instances_expired"] >= 2
    assert wiring.bargain_instance_repository().get(one["id"]).status == "EXPIRED"
    r = post(client, "/admin/bargains", window(sku_id=bargain["sku_id"], floor_price=19_898, helpers_needed=3,
                                               ttl_s=3600, stock=1, per_user_limit=1), admin_headers)
    assert r.status_code == 422  # 2 fen cannot make 3 cuts
    r = post(client, "/admin/bargains", window(sku_id=bargain["sku_id"], floor_price=100, helpers_needed=3,
                                               ttl_s=30, stock=1, per_user_limit=1), admin_headers)
    assert r.status_code == 400


def succeeded_instance(client, admin_headers, **kw):
    from functions import wiring

    bargain = new_bargain(client, admin_headers, helpers_needed=2, **kw)
    owner = login(client)
    instance = body(post(client, f"/bargains/{bargain['id']}/instances", {}, owner))
    for _ in range(2):
        assert post(client, f"/bargain-instances/{instance['id']}/helps", {}, login(client)).status_code == 201
    assert wiring.bargain_instance_repository().get(instance["id"]).status == "SUCCEEDED"
    return bargain, instance, owner


def test_two_concurrent_buys_make_one_order_and_payment_makes_it_purchased(client, admin_headers, shop):
    from functions import schemas, wiring

    bargain, instance, owner = succeeded_instance(client, admin_headers, stock=3)
    user_id = owner["X-User-Id"]
    order_body = schemas.BargainOrderInput.model_validate({"address": ADDRESS})
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: retrying(lambda: wiring.bargains().buy(user_id, instance["id"],
                                                                                   order_body, None)), range(2)))
    orders = [r for r in results if isinstance(r, dict)]
    assert len(orders) == 1 and [r for r in results if not isinstance(r, dict)] == ["INVALID_STATE"], results
    [order] = orders
    assert order["amounts"]["goods"] == 9_900 and order["bargain_instance_id"] == instance["id"]
    assert order["payment"]["signType"] == "RSA"
    mine, _ = wiring.order_repository().list_for_user(user_id, None, 100, None)
    assert [o.order_id for o in mine] == [order["id"]]
    assert wiring.bargain_repository().remaining(bargain["id"]) == 2
    stored = wiring.bargain_instance_repository().get(instance["id"])
    assert stored.status == "ORDERED" and stored.order_id == order["id"]

    shop["sandbox"].pay(order["id"], notify=False)
    assert wiring.orders().close_unpaid(order["id"], reason="EXPIRED").status == "PAID"
    wiring.bargains().on_order_paid("order.paid:" + order["id"], {"order_id": order["id"], "user_id": user_id})
    assert body(client.http.get(f"/bargain-instances/{instance['id']}"))["status"] == "PURCHASED"


def test_a_closed_bargain_order_returns_the_instance(client, admin_headers):
    from functions import wiring

    bargain, instance, owner = succeeded_instance(client, admin_headers, stock=1)
    r = post(client, f"/bargain-instances/{instance['id']}/orders", {"address": ADDRESS},
             {**owner, "Idempotency-Key": "buy-1"})
    assert r.status_code == 201, r.body
    order = body(r)
    again = post(client, f"/bargain-instances/{instance['id']}/orders", {"address": ADDRESS},
                 {**owner, "Idempotency-Key": "buy-1"})
    assert again.status_code == 201 and body(again)["id"] == order["id"]
    assert wiring.bargain_repository().remaining(bargain["id"]) == 0
    r = post(client, f"/orders/{order['id']}/cancel", {}, owner)
    assert r.status_code == 200 and body(r)["status"] == "CLOSED", r.body
    view = body(client.http.get(f"/bargain-instances/{instance['id']}"))
    assert view["status"] == "SUCCEEDED" and view["price_now"] == bargain["floor_price"]
    assert wiring.bargain_repository().remaining(bargain["id"]) == 1
    r = post(client, f"/bargain-instances/{instance['id']}/orders", {"address": ADDRESS}, owner)
    assert r.status_code == 201 and body(r)["id"] != order["id"]


def test_twenty_concurrent_helps_on_an_assistance_give_one_reward(client, admin_headers):
    from functions import wiring
    from layers import clock

    now = clock.now()
    r = post(client, "/admin/coupons", {
        "name": "蛋糕券", "kind": "fixed", "value": 5000, "threshold": 0, "claim_starts_at": clock.iso(now),
        "claim_ends_at": clock.iso(now + timedelta(days=1)), "valid_days": 30, "total": 100,
        "per_user_limit": 10}, admin_headers)
    assert r.status_code == 201, r.body
    template = body(r)
    r = post(client, "/admin/assist-campaigns", window(
        name="集 5 个赞领蛋糕", helpers_needed=5, reward_coupon_template_id=template["id"], ttl_s=3600,
        per_user_limit=1), admin_headers)
    assert r.status_code == 201, r.body
    campaign = body(r)
    owner = login(client)
    r = post(client, f"/assist-campaigns/{campaign['id']}/instances", {}, owner)
    assert r.status_code == 201, r.body
    instance = body(r)
    assert set(instance) >= {"id", "campaign_id", "status", "helps", "helpers_needed", "expires_at",
                             "reward_coupon_id"}
    helpers = [new_user() for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda h: retrying(lambda: wiring.assistance().help(h, instance["id"])), helpers))
    assert len([r for r in results if isinstance(r, dict)]) == 5, results
    for _ in range(3):  # the job running meanwhile changes nothing
        wiring.assistance().retry_rewards()
    view = body(client.http.get(f"/assist-instances/{instance['id']}"))
    assert view["status"] == "SUCCEEDED" and view["helps"] == 5 and view["reward_coupon_id"]
    mine = body(client.http.get("/me/coupons", headers=owner))["items"]
    assert [c["id"] for c in mine] == [view["reward_coupon_id"]]
    assert wiring.coupon_template_repository().issued_total(template["id"]) == 1
    r = post(client, f"/assist-instances/{instance['id']}/helps", {}, owner)
    assert r.status_code == 403 and body(r)["error"]["code"] == "NOT_ALLOWED"


def test_new_users_only_and_owed_rewards_for_operators(client, admin_headers):
    from layers import clock

    now = clock.now()
    template = body(post(client, "/admin/coupons", {
        "name": "限量蛋糕券", "kind": "fixed", "value": 5000, "threshold": 0, "claim_starts_at": clock.iso(now),
        "claim_ends_at": clock.iso(now + timedelta(days=1)), "valid_days": 30, "total": 1,
        "per_user_limit": 1}, admin_headers))
    assert post(client, f"/coupons/{template['id']}/claim", {}, login(client)).status_code == 201  # none left
    old_friend = login(client)
    campaign = body(post(client, "/admin/assist-campaigns", window(
        name="拉新助力", helpers_needed=1, reward_coupon_template_id=template["id"], ttl_s=600, per_user_limit=1,
        new_users_only=True), admin_headers))
    instance = body(post(client, f"/assist-campaigns/{campaign['id']}/instances", {}, login(client)))
    r = post(client, f"/assist-instances/{instance['id']}/helps", {}, old_friend)
    assert r.status_code == 403 and body(r)["error"]["code"] == "NOT_ALLOWED"
    import time

    time.sleep(1.1)  # RFC 3339 to the second: a first login after the start
    r = post(client, f"/assist-instances/{instance['id']}/helps", {}, login(client))
    assert r.status_code == 201, r.body
    assert body(r)["status"] == "SUCCEEDED" and body(r)["reward_coupon_id"] is None
    owed = body(client.http.get("/admin/assist-rewards?status=OWED", headers=admin_headers))["items"]
    assert instance["id"] in [i["id"] for i in owed]
    assert next(i for i in owed if i["id"] == instance["id"])["reward_error"] == "SOLD_OUT"


# -- stopping a bargain or an assistance campaign -------------------------------------------------

def new_assist_campaign(client, admin_headers) -> dict:
    from layers import clock

    now = clock.now()
    template = body(post(client, "/admin/coupons", {
        "name": "蛋糕券", "kind": "fixed", "value": 500, "threshold": 0, "claim_starts_at": clock.iso(now),
        "claim_ends_at": clock.iso(now + timedelta(days=1)), "valid_days": 30, "total": 100,
        "per_user_limit": 10}, admin_headers))
    r = post(client, "/admin/assist-campaigns", window(
        name="集赞", helpers_needed=2, reward_coupon_template_id=template["id"], ttl_s=3600, per_user_limit=3),
        admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


@pytest.mark.parametrize("kind", ["bargain", "assist"])
def test_a_stopped_campaign_starts_no_instance_and_running_ones_go_on(client, admin_headers, kind):
    """Over HTTP: the stop is 200 (twice: nothing changes), a start after it is 409
    INVALID_STATE and writes nothing; an instance started before keeps taking helps."""
    if kind == "bargain":
        campaign = new_bargain(client, admin_headers, helpers_needed=2)
        base, instances, helps = "/admin/bargains", f"/bargains/{campaign['id']}/instances", "/bargain-instances"
    else:
        campaign = new_assist_campaign(client, admin_headers)
        base, instances, helps = "/admin/assist-campaigns", f"/assist-campaigns/{campaign['id']}/instances", \
            "/assist-instances"
    owner = login(client)
    running = post(client, instances, {}, owner)
    assert running.status_code == 201, running.body
    stopped = post(client, f"{base}/{campaign['id']}/stop", None, admin_headers)
    assert stopped.status_code == 200 and body(stopped)["stopped_at"], stopped.body
    again = post(client, f"{base}/{campaign['id']}/stop", None, admin_headers)
    assert again.status_code == 200 and body(again)["stopped_at"] == body(stopped)["stopped_at"]
    refused = post(client, instances, {}, login(client))
    assert refused.status_code == 409 and body(refused)["error"]["code"] == "INVALID_STATE", refused.body
    helped = post(client, f"{helps}/{body(running)['id']}/helps", None, login(client))
    assert helped.status_code == 201, helped.body
    assert post(client, f"{base}/nope/stop", None, admin_headers).status_code == 404
    assert post(client, f"{base}/{campaign['id']}/stop", None, owner).status_code in (401, 403)


@pytest.mark.parametrize("kind", ["bargain", "assist"])
def test_a_stop_racing_a_start_never_both_win(client, admin_headers, monkeypatch, kind):
    """The start read the campaign before the stop committed: its transaction's condition
    on the campaign refuses it (DynamoDB Local), so nothing is written."""
    from functions import wiring

    if kind == "bargain":
        campaign = new_bargain(client, admin_headers)
        service, repo = wiring.bargains(), wiring.bargain_repository()
        stop, start = service.stop_bargain, service.start
    else:
        campaign = new_assist_campaign(client, admin_headers)
        service, repo = wiring.assistance(), service_campaigns()
        stop, start = service.stop_campaign, service.start
    before = repo.get(campaign["id"])
    stop(campaign["id"])
    monkeypatch.setattr(type(repo), "get", lambda self, _id: before)  # the read that came first
    user = new_user()
    outcome = retrying(lambda: start(user, campaign["id"]))
    assert outcome == "INVALID_STATE"
    monkeypatch.undo()
    assert repo.get(campaign["id"]).stopped_at is not None

    # and many at once: starts and a stop racing; once the stop is in, every start is refused
    if kind == "bargain":
        campaign = new_bargain(client, admin_headers)
        stop = service.stop_bargain
    else:
        campaign = new_assist_campaign(client, admin_headers)
        stop = service.stop_campaign
    users = [new_user() for _ in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(retrying, lambda u=u: start(u, campaign["id"])) for u in users[:8]]
        stop_result = pool.submit(stop, campaign["id"])
        futures += [pool.submit(retrying, lambda u=u: start(u, campaign["id"])) for u in users[8:]]
        results = [f.result() for f in futures]
    assert stop_result.result()["stopped_at"]
    assert {r for r in results if not isinstance(r, dict)} <= {"INVALID_STATE"}
    assert retrying(lambda: start(new_user(), campaign["id"])) == "INVALID_STATE"


def service_campaigns():
    from layers.storage.assistance import DynamoAssistCampaignRepository

    return DynamoAssistCampaignRepository()
