"""Coupon grants against DynamoDB Local, through the HTTP API: a grant run twice, and by
two runners at once, gives each customer exactly one coupon within the template's total
and per-user limit, and counts what it skipped and why."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, post

pytestmark = pytest.mark.integration


def template(client, admin_headers, **overrides) -> dict:
    from layers import clock

    now = clock.now()
    payload = {"name": "老客回馈券", "kind": "fixed", "value": 1000, "threshold": 5000,
               "claim_starts_at": clock.iso(now - timedelta(minutes=1)),
               "claim_ends_at": clock.iso(now + timedelta(days=1)), "valid_days": 7, "total": 100,
               "per_user_limit": 1, **overrides}
    r = post(client, "/admin/coupons", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def new_users(n: int) -> list[str]:
    from layers import clock
    from layers.storage.users import upsert_user

    return [upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id for _ in range(n)]


def grants():
    from functions import wiring

    return wiring.coupon_grants()


def coupons_of(user_id: str, template_id: str) -> list:
    from functions import wiring

    mine, _ = wiring.user_coupon_repository().for_user(user_id, 100, None)
    return [c for c in mine if c.template_id == template_id]


def issued_total(template_id: str) -> int:
    from functions import wiring

    return wiring.coupon_template_repository().issued_total(template_id)


def run_until_done(grant_id: str) -> dict:
    """A runner as the queue drives it: a runner that dies (a transaction that kept
    conflicting with the other runner's) is followed by another."""
    from layers.storage.tx import TransactionConflicted

    while True:
        try:
            return grants().run(grant_id)
        except TransactionConflicted:
            continue


@pytest.fixture
def small_batches(monkeypatch):
    from layers.domain import coupon_grant

    monkeypatch.setattr(coupon_grant, "BATCH_SIZE", 7)


def test_a_grant_answers_202_runs_and_shows_its_progress(client, admin_headers, small_batches):
    t = template(client, admin_headers, total=20, per_user_limit=1)
    users = new_users(25)
    r = post(client, "/admin/coupon-grants", {"template_id": t["id"], "user_ids": users + users[:3],
                                              "note": "双12老客回馈"}, admin_headers)
    assert r.status_code == 202, r.body
    started = body(r)
    assert {k: started[k] for k in ("status", "total", "issued", "skipped")} == {
        "status": "RUNNING", "total": 25, "issued": 0, "skipped": 0}
    grants().on_run_due("e1", {"grant_id": started["id"], "step": 0})  # the message the POST sent
    shown = body(client.http.get(f"/admin/coupon-grants/{started['id']}", headers=admin_headers))
    assert (shown["status"], shown["issued"], shown["skipped"]) == ("DONE", 20, 5)
    assert shown["skipped_by_reason"]["OUT_OF_STOCK"] == 5 and shown["progress"] == 100
    listed = body(client.http.get("/admin/coupon-grants?limit=50", headers=admin_headers))["items"]
    assert started["id"] in [g["id"] for g in listed]
    assert issued_total(t["id"]) == 20
    assert sum(len(coupons_of(u, t["id"])) for u in users) == 20


def test_a_grant_run_twice_and_by_two_runners_at_once_gives_one_coupon_each(client, admin_headers, small_batches):
    t = template(client, admin_headers, total=40, per_user_limit=2, shards=3)
    users = new_users(30)
    for u in users[:4]:  # four already hold one: the grant's is their second, which the limit allows
        grants().coupons.claim(u, t["id"], None)
    for u in users[4:6]:  # two already hold two: at their limit
        grants().coupons.claim(u, t["id"], None)
        grants().coupons.claim(u, t["id"], None)
    gid = body(post(client, "/admin/coupon-grants", {"template_id": t["id"], "user_ids": users},
                    admin_headers))["id"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(run_until_done, [gid, gid])
    again = run_until_done(gid)
    assert first == second == again
    assert (again["status"], again["issued"], again["skipped"]) == ("DONE", 28, 2)
    assert again["skipped_by_reason"]["LIMIT_REACHED"] == 2
    from layers.domain.coupon_grant import grant_coupon_id

    for u in users:
        from_grant = [c for c in coupons_of(u, t["id"]) if c.coupon_id == grant_coupon_id(gid, u)]
        assert len(from_grant) == (0 if u in users[4:6] else 1)
        assert len(coupons_of(u, t["id"])) <= 2
    assert issued_total(t["id"]) == 4 + 4 + 28


def test_bad_grants_are_4xx(client, admin_headers):
    t = template(client, admin_headers)
    cases = [({"template_id": t["id"], "tag": "没有这个标签"}, 404, "NOT_FOUND"),
             ({"template_id": "tnosuchtemplate", "user_ids": ["u1"]}, 404, "NOT_FOUND"),
             ({"template_id": t["id"]}, 400, "INVALID_REQUEST"),
             ({"template_id": t["id"], "user_ids": ["u1"], "tag": "vip"}, 400, "INVALID_REQUEST"),
             ({"template_id": t["id"], "user_ids": []}, 400, "INVALID_REQUEST"),
             ({"template_id": t["id"], "user_ids": ["u" + str(i) for i in range(10_001)]}, 400, "INVALID_REQUEST")]
    for payload, status, code in cases:
        r = post(client, "/admin/coupon-grants", payload, admin_headers)
        assert (r.status_code, body(r)["error"]["code"]) == (status, code), payload
    assert client.http.get("/admin/coupon-grants/gnosuch", headers=admin_headers).status_code == 404
    assert post(client, "/admin/coupon-grants", {"template_id": t["id"], "user_ids": ["u1"]}).status_code == 401


def test_a_goodwill_coupon_through_the_grant_path_is_one_coupon_per_request_key(client, admin_headers):
    t = template(client, admin_headers, per_user_limit=3)
    [u] = new_users(1)
    first = grants().give_one(u, t["id"], "漏发赠品补偿", "req-1")
    assert grants().give_one(u, t["id"], "漏发赠品补偿", "req-1")["id"] == first["id"]
    assert [c.coupon_id for c in coupons_of(u, t["id"])] == [first["id"]]
    shown = body(client.http.get(f"/admin/coupon-grants/{first['grant_id']}", headers=admin_headers))
    assert (shown["status"], shown["issued"], shown["reason"]) == ("DONE", 1, "漏发赠品补偿")


def test_coupon_received_goes_once_and_only_to_those_who_consented(client, admin_headers, shop):
    from tests.helpers import login, put

    settings = {"subscription_templates": {"coupon_received": "TPL_GRANTED"}}
    assert put(client, "/admin/settings", settings, admin_headers).status_code == 200
    try:
        sandbox = shop["sandbox"]
        consenting, silent = login(client), login(client)
        r = post(client, "/me/subscriptions", {"results": {"TPL_GRANTED": "accept"}}, consenting)
        assert r.status_code == 201
        t = template(client, admin_headers, name="回馈10元券")
        users = [consenting["X-User-Id"], silent["X-User-Id"]]
        gid = body(post(client, "/admin/coupon-grants", {"template_id": t["id"], "user_ids": users},
                        admin_headers))["id"]
        run_until_done(gid)
        # A runner that died before counting works the target again: the message is not sent twice.
        batch = grants().take_batch(gid) or _first_batch_again(gid)
        grants().work(batch, consenting["X-User-Id"])
        from functions import wiring

        openids = {wiring.user_repository().get_user(u).openid: u for u in users}
        sent = [m for m in sandbox.messages if m["template_id"] == "TPL_GRANTED" and m["touser"] in openids]
        assert [openids[m["touser"]] for m in sent] == [consenting["X-User-Id"]]
        assert sent[0]["data"]["thing1"]["value"] == "回馈10元券"
    finally:
        put(client, "/admin/settings", {"subscription_templates": {}}, admin_headers)


def _first_batch_again(grant_id: str):
    """The first batch of a DONE grant, as a runner that read the grant before it ended has it."""
    from dataclasses import replace

    from layers.domain.coupon_grant import RUNNING
    from layers.services.coupon_grants import Batch

    service = grants()
    grant = replace(service.grants.get(grant_id), status=RUNNING, cursor=None, step=0)
    return Batch(grant, service.templates.get(grant.template_id), service.grants.listed_batch(grant_id, 0),
                 None, last=True)


def test_a_grant_runs_to_done_through_the_events_queue_message_by_message(client, admin_headers, small_batches,
                                                                          monkeypatch):
    """The POST's message, handled as the events consumer handles it, works a little and
    sends the next; the grant is DONE after a message per batch, each target given once."""
    import json
    import os
    import time

    import boto3

    from functions import wiring
    from layers import events
    from layers.services import coupon_grants

    monkeypatch.setattr(coupon_grants, "MESSAGE_BUDGET_S", 0.0)  # one batch a message
    t = template(client, admin_headers, total=50)
    users = new_users(20)  # batches of 7: three messages
    gid = body(post(client, "/admin/coupon-grants", {"template_id": t["id"], "user_ids": users},
                    admin_headers))["id"]
    sqs = boto3.client("sqs", endpoint_url=os.environ["SQS_ENDPOINT"])
    url = os.environ["EVENTS_QUEUE_URL"]
    handled = 0
    deadline = time.monotonic() + 60
    while grants().get(gid)["status"] != "DONE":
        assert time.monotonic() < deadline, grants().get(gid)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in got:
            message = json.loads(m["Body"])
            if message.get("type") != "coupon_grant.run" or message["payload"]["grant_id"] != gid:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
                continue
            record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                      "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                      "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:events", "awsRegion": "us-east-1"}
            answer = events.handle_event_batch({"Records": [record, record]}, wiring.event_handlers())  # twice
            assert answer == {"batchItemFailures": []}
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            handled += 1
    done = grants().get(gid)
    assert (done["issued"], done["skipped"], handled) == (20, 0, 3)
    assert issued_total(t["id"]) == 20
    assert all(len(coupons_of(u, t["id"])) == 1 for u in users)


def test_a_retried_post_with_its_idempotency_key_is_one_grant(client, admin_headers):
    t = template(client, admin_headers, per_user_limit=3)
    users = new_users(2)
    keyed = {**admin_headers, "Idempotency-Key": "grant-" + uuid.uuid4().hex}
    payload = {"template_id": t["id"], "user_ids": users, "note": "重试"}
    first, again = (post(client, "/admin/coupon-grants", payload, keyed) for _ in range(2))
    assert first.status_code == again.status_code == 202 and body(first)["id"] == body(again)["id"]
    other = post(client, "/admin/coupon-grants", {**payload, "note": "另一次"}, keyed)
    assert (other.status_code, body(other)["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    run_until_done(body(first)["id"])
    assert all(len(coupons_of(u, t["id"])) == 1 for u in users)
    bad = post(client, "/admin/coupon-grants", payload, {**admin_headers, "Idempotency-Key": "x" * 65})
    assert bad.status_code == 400


def test_a_grant_to_a_tag_gives_its_members_one_coupon_each_and_nobody_else(client, admin_headers, small_batches):
    from functions import wiring

    tag = "回头客" + uuid.uuid4().hex[:6]
    assert post(client, "/admin/tags", {"name": tag}, admin_headers).status_code == 201
    members, outsider = new_users(9), new_users(1)[0]
    for user_id in members:
        wiring.customer_repository().set_tags(user_id, manual=(tag,))
    t = template(client, admin_headers)
    r = post(client, "/admin/coupon-grants", {"template_id": t["id"], "tag": tag, "note": "标签发券"}, admin_headers)
    assert r.status_code == 202, r.body
    done = run_until_done(body(r)["id"])
    assert (done["status"], done["total"], done["issued"]) == ("DONE", 9, 9)
    run_until_done(body(r)["id"])  # again: nothing new
    assert all(len(coupons_of(u, t["id"])) == 1 for u in members) and coupons_of(outsider, t["id"]) == []
    assert issued_total(t["id"]) == 9
    unknown = post(client, "/admin/coupon-grants", {"template_id": t["id"], "tag": "没有这个标签", "note": ""},
                   admin_headers)
    assert unknown.status_code == 404
