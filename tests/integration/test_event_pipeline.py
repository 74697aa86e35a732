"""After payment: the order.paid event travels through SQS to its consumers, which are
idempotent per event (a duplicate can arrive as a new message) and report failures per
record."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.helpers import body, create_product, login, order_payload, post
from tests.integration.test_distribution import new_distributor, share, uid, visit
from tests.integration.test_payments import drain_events_queue, pay_through_notification

pytestmark = pytest.mark.integration


def sqs_event(messages: list[dict]) -> dict:
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": json.dumps(m),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:shop-events-test",
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1")} for m in messages]}


@pytest.fixture
def paid_template(client, admin_headers):
    from tests.helpers import put

    assert put(client, "/admin/settings", {"subscription_templates": {"order_paid": "TPL_PAID"}},
               admin_headers).status_code == 200
    yield "TPL_PAID"
    put(client, "/admin/settings", {"subscription_templates": {}}, admin_headers)


def test_order_paid_reaches_its_consumers_once(client, admin_headers, shop, paid_template):
    from functions import wiring
    from layers import clock
    from layers.events import handle_event_batch

    now = clock.now()
    gift = post(client, "/admin/coupons", {
        "name": "支付有礼", "kind": "fixed", "value": 500, "threshold": 0, "valid_days": 30, "total": 1000,
        "per_user_limit": 10, "post_payment": {"min_payable": 1},
        "claim_starts_at": clock.iso(now.replace(year=now.year - 1)),
        "claim_ends_at": clock.iso(now.replace(year=now.year + 1))}, admin_headers)
    assert gift.status_code == 201
    product = create_product(client, admin_headers, price=10_000, stock=10)
    guide = new_distributor(client, admin_headers)
    token = share(client, guide, product["id"])
    buyer = login(client)
    assert post(client, "/me/subscriptions", {"results": {paid_template: "accept"}}, buyer).status_code == 201
    assert visit(client, buyer, token).status_code == 204
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), buyer))
    drain_events_queue(shop["sqs"])
    pay_through_notification(client, shop["sandbox"], order["id"])

    published = [m for m in drain_events_queue(shop["sqs"]) if m["payload"].get("order_id") == order["id"]]
    assert [m["type"] for m in published] == ["order.paid"]
    poison = {"event_id": "order.paid:nope", "type": "order.paid", "payload": {}}
    # The same event twice (as two messages) and a poison message in one batch.
    answer = handle_event_batch(sqs_event([published[0], published[0], poison]), wiring.event_handlers())
    assert len(answer["batchItemFailures"]) == 1  # only the poison message comes back

    commission = wiring.commission_repository().get(uid(guide), order["id"])
    assert commission is not None and commission.status == "PENDING" and commission.amount > 0
    assert wiring.commission_repository().stats(uid(guide)).pending == commission.amount
    mine, _ = wiring.coupons().my_coupons(uid(buyer), None, 100, None)
    assert [c["template_id"] for c in mine].count(body(gift)["id"]) == 1
    from layers.storage.users import get_user

    told = [m for m in shop["sandbox"].messages
            if m["template_id"] == paid_template and m["touser"] == get_user(uid(buyer)).openid]
    assert len(told) == 1
