"""Analytics through the real pipeline: a payment's `order.paid` goes through the events
queue to the analytics queue and its consumer; the operators read the figures; the
daily jobs fetch WeChat's visitors (sandbox datacube) and recount."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.helpers import body, create_product, login, order_payload, post
from tests.integration.test_payments import drain_events_queue, pay_through_notification

pytestmark = pytest.mark.integration


def _sqs_event(bodies: list[str]) -> dict:
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": b,
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shop-analytics-test"}
                        for b in bodies]}


def _drain_analytics_queue(sqs_endpoint: str) -> list[str]:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint)
    url = os.environ["ANALYTICS_QUEUE_URL"]
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _today() -> str:
    from layers import clock
    from layers.domain.analytics import day_of

    return day_of(clock.now_iso())


def _daily(client, admin_headers, day: str) -> dict:
    r = client.http.get(f"/admin/analytics/daily?from={day}&to={day}", headers=admin_headers)
    assert r.status_code == 200, r.body
    [row] = body(r)["items"]
    return row


def test_a_payment_reaches_the_figures_once_through_both_queues(client, admin_headers, shop):
    from functions import wiring
    from functions.analytics import consume_batch
    from layers.events import handle_event_batch

    day = _today()
    product = create_product(client, admin_headers, price=4321, stock=5, title="analytics-" + uuid.uuid4().hex[:6])
    buyer = login(client)
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"], quantity=2), buyer))
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    pay_through_notification(client, shop["sandbox"], order["id"])
    events = [m for m in drain_events_queue(shop["sqs"]) if m["payload"].get("order_id") == order["id"]]
    assert [m["type"] for m in events] == ["order.paid"]
    before = _daily(client, admin_headers, day)

    handle_event_batch({"Records": _sqs_event([json.dumps(events[0])] * 2)["Records"]}, wiring.event_handlers())
    facts = [b for b in _drain_analytics_queue(shop["sqs"]) if order["id"] in b]
    assert len(facts) == 2  # delivered twice to the events consumer: forwarded twice
    answer = consume_batch(_sqs_event([*facts, "not json", json.dumps({"kind": "sale"})]))
    assert len(answer["batchItemFailures"]) == 2  # only the malformed records come back
    assert consume_batch(_sqs_event(facts)) == {"batchItemFailures": []}  # redelivered: counted already

    after = _daily(client, admin_headers, day)
    payable = order["amounts"]["payable"]
    assert (after["gmv"] - before["gmv"], after["orders"] - before["orders"]) == (payable, 1)
    assert after["buyers"] - before["buyers"] == 1 and after["new_buyers"] - before["new_buyers"] == 1
    products = body(client.http.get(f"/admin/analytics/products?from={day}&to={day}", headers=admin_headers))
    mine = [p for p in products["items"] if p["product_id"] == product["id"]]
    assert mine == [{"product_id": product["id"], "title": product["title"], "quantity": 2,
                     "gmv": order["amounts"]["goods"] - order["amounts"]["discount"]}]


def test_the_routes_refuse_bad_input_and_strangers(client, admin_headers):
    assert client.http.get("/admin/analytics/daily?from=2026-11-01&to=2026-11-02").status_code == 401
    for path in ("/admin/analytics/daily?from=2026-11-31&to=2026-12-01", "/admin/analytics/daily?from=2026-11-02",
                 "/admin/analytics/daily?from=2026-11-02&to=2026-11-01",
                 "/admin/analytics/daily?from=2026-01-01&to=2027-12-31",
                 "/admin/analytics/distributors?month=2026-13", "/admin/analytics/distributors",
                 "/admin/analytics/products?from=x&to=y"):
        r = client.http.get(path, headers=admin_headers)
        assert r.status_code == 400, (path, r.body)
        assert body(r)["error"]["code"] == "INVALID_REQUEST"
    days = body(client.http.get("/admin/analytics/daily?from=1999-02-27&to=1999-03-01", headers=admin_headers))
    assert [(d["date"], d["gmv"], d["aov"], d["visitors"]) for d in days["items"]] == [
        ("1999-02-27", 0, 0, None), ("1999-02-28", 0, 0, None), ("1999-03-01", 0, 0, None)]
    assert body(client.http.get("/admin/analytics/distributors?month=1999-02", headers=admin_headers)) == {
        "period": "1999-02", "items": []}
    assert client.http.get("/admin/analytics/coupons", headers=admin_headers).status_code == 200


def test_the_daily_job_fetches_yesterdays_visitors_and_conversion_is_buyers_over_them(client, admin_headers, shop):
    from layers import clock
    from layers.domain.analytics import yesterday
    from sandbox.datacube import set_visits

    day = yesterday(clock.now())
    set_visits(shop["sandbox"], day, 250)
    r = post(client, "/admin/jobs/fetch-visitors/run", None, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["result"] == {"day": day, "visitors": 250}
    row = _daily(client, admin_headers, day)
    assert row["visitors"] == 250 and row["conversion"] == round(row["buyers"] / 250, 4)
    asked = [q for q in shop["sandbox"].requests_log if q["path"].startswith("/datacube/")]
    assert asked[-1]["query"].get("access_token")


def test_wechat_refuses_today_and_the_client_says_so(shop):
    from functions import wiring
    from layers.domain.miniprogram import WeChatApiError

    with pytest.raises(WeChatApiError) as refused:
        wiring.visit_stats().daily_visitors(_today())
    assert refused.value.errcode == 61501


def test_the_recount_job_runs_on_yesterday(client, admin_headers):
    r = post(client, "/admin/jobs/recount-analytics/run", None, admin_headers)
    assert r.status_code == 200, r.body
    result = body(r)["result"]
    # the channels' and the day's campaigns' recounts too: their figures, and their differences
    assert set(result) == {"day", "recount", "differences", "channels", "channel_differences", "campaigns",
                           "campaign_differences"}


def test_when_wechat_fails_the_job_answers_503_and_stores_nothing(client, admin_headers, shop):
    shop["sandbox"].fail_next("/datacube/", status=500)
    r = post(client, "/admin/jobs/fetch-visitors/run", None, admin_headers)
    assert r.status_code == 503, r.body
    assert body(r)["error"]["code"] == "UPSTREAM_UNAVAILABLE"


def test_a_revoked_token_at_datacube_is_refreshed_once_and_the_figures_come(client, admin_headers, shop):
    from layers import clock
    from layers.domain.analytics import yesterday
    from sandbox.datacube import set_visits

    day = yesterday(clock.now())
    set_visits(shop["sandbox"], day, 321)
    shop["sandbox"].mp.expire_token()  # WeChat answers 40001 to the token we hold
    r = post(client, "/admin/jobs/fetch-visitors/run", None, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["result"] == {"day": day, "visitors": 321}


def test_figures_wechat_has_not_made_yet_are_fetched_again_until_it_has_them(client, admin_headers, shop):
    from layers import clock
    from layers.domain.analytics import yesterday
    from sandbox.datacube import set_visits, visits_pending

    day = yesterday(clock.now())
    set_visits(shop["sandbox"], day, 222)
    before = _daily(client, admin_headers, day)["visitors"]
    visits_pending(shop["sandbox"], day)  # WeChat answers an empty list for the day
    r = post(client, "/admin/jobs/fetch-visitors/run", None, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["result"] == {"day": day, "visitors": None, "ready": False}
    assert _daily(client, admin_headers, day)["visitors"] == before  # nothing stored as 0 visitors
    visits_pending(shop["sandbox"], day, pending=False)
    r = post(client, "/admin/jobs/fetch-visitors/run", None, admin_headers)
    assert body(r)["result"] == {"day": day, "visitors": 222}
    assert _daily(client, admin_headers, day)["visitors"] == 222
