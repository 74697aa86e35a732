"""WeChat Pay notifications, refunds and the paid path, with notifications built, signed
and encrypted the way WeChat Pay builds them (by the sandbox), against DynamoDB Local."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def sku_stock(sku_id: str) -> int:
    from layers.storage.catalog import get_skus

    return int(get_skus([sku_id])[sku_id].stock)


def new_order(client, admin_headers, price=1500, stock=5, quantity=1):
    product = create_product(client, admin_headers, price=price, stock=stock)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    r = post(client, "/orders", order_payload(sku_id, quantity), shopper)
    assert r.status_code == 201, r.body
    return body(r), sku_id, shopper


def paid_resource(sandbox, order_id: str) -> dict:
    """WeChat's transaction for an order the shopper paid (the notification's resource)."""
    sandbox.pay(order_id, notify=False)
    return sandbox.transaction(order_id)


def deliver(client, headers: dict, raw: str, path="/wechatpay/notify"):
    return client.http.post(path, body=raw, headers={"Content-Type": "application/json", **headers})


def stored_order(order_id: str):
    from functions import wiring

    return wiring.order_repository().get(order_id, consistent=True)


def order_status(order_id: str) -> str:
    return stored_order(order_id).status


def events_for(order_id: str, event_type: str) -> list:
    from layers.storage.outbox import OutboxItem, outbox_key

    try:
        return [OutboxItem.get(*outbox_key(f"{event_type}:{order_id}"))]
    except OutboxItem.DoesNotExist:
        return []


def ledger_payments(order_id: str) -> int:
    from layers.storage.ledger import LedgerEntry

    return sum(1 for e in LedgerEntry.scan((LedgerEntry.sk == f"PAY#{order_id}")
                                           & LedgerEntry.pk.startswith("LEDGER#")))


def ledger_refunds(refund_id: str) -> int:
    from layers.storage.ledger import LedgerEntry

    return sum(1 for e in LedgerEntry.scan((LedgerEntry.sk == f"REFUND#{refund_id}")
                                           & LedgerEntry.pk.startswith("LEDGER#")))


def drain_events_queue(sqs_endpoint: str) -> list[dict]:
    import os

    import boto3

    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint)
    out = []
    while True:
        r = sqs.receive_message(QueueUrl=os.environ["EVENTS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = r.get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=os.environ["EVENTS_QUEUE_URL"], ReceiptHandle=m["ReceiptHandle"])


def test_a_genuine_notification_pays_the_order_once(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order, sku_id, _ = new_order(client, admin_headers)
    drain_events_queue(shop["sqs"])
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order["id"]))
    r = deliver(client, headers, raw)
    assert r.status_code in (200, 204), r.body
    assert order_status(order["id"]) == "PAID"
    assert ledger_payments(order["id"]) == 1
    published = [e for e in drain_events_queue(shop["sqs"]) if e["payload"].get("order_id") == order["id"]]
    assert [e["type"] for e in published] == ["order.paid"]
    # WeChat retries the same notification a day later: nothing more happens.
    again = deliver(client, headers, raw)
    assert again.status_code in (200, 204)
    assert ledger_payments(order["id"]) == 1
    assert drain_events_queue(shop["sqs"]) == []


@pytest.mark.parametrize("tamper", ["signature", "stale", "future", "probe", "body"])
def test_a_notification_that_does_not_verify_changes_nothing(client, admin_headers, shop, tamper):
    sandbox = shop["sandbox"]
    order, _, _ = new_order(client, admin_headers)
    resource = paid_resource(sandbox, order["id"])
    if tamper == "stale":
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", resource, timestamp=int(time.time()) - 301)
    elif tamper == "future":
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", resource, timestamp=int(time.time()) + 301)
    else:
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", resource)
        if tamper == "signature":
            headers = {**headers, "Wechatpay-Signature": headers["Wechatpay-Signature"][:-8] + "AAAAAAA="}
        elif tamper == "probe":
            headers = {**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]}
        elif tamper == "body":
            raw = raw.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ')
    r = deliver(client, headers, raw)
    assert r.status_code == 401
    assert body(r)["code"] == "FAIL"
    assert order_status(order["id"]) == "PENDING_PAYMENT"
    assert events_for(order["id"], "order.paid") == []


@pytest.mark.parametrize("field", ["amount", "mchid", "appid", "unknown_order"])
def test_a_payment_that_does_not_match_never_pays_and_is_recorded(client, admin_headers, shop, field):
    from layers.storage.anomalies import for_order

    sandbox = shop["sandbox"]
    order, _, _ = new_order(client, admin_headers)
    resource = dict(paid_resource(sandbox, order["id"]))
    target = order["id"]
    if field == "amount":
        resource["amount"] = {**resource["amount"], "total": resource["amount"]["total"] - 1}
    elif field == "mchid":
        resource["mchid"] = "1900000999"
    elif field == "appid":
        resource["appid"] = "wx0000000000000000"
    else:
        target = "o" + uuid.uuid4().hex[:25]
        resource["out_trade_no"] = target
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", resource)
    r = deliver(client, headers, raw)
    assert r.status_code in (200, 204)  # recorded durably: a retry cannot make it match
    assert order_status(order["id"]) == "PENDING_PAYMENT"
    assert events_for(order["id"], "order.paid") == []
    assert [a.kind for a in for_order(target)] == ["PAYMENT_MISMATCH"]


def test_ten_concurrent_duplicates_make_one_transition(client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    order, _, _ = new_order(client, admin_headers)
    drain_events_queue(shop["sqs"])
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order["id"]))

    def handle(_):
        notification = wiring.notification_verifier().verify(headers, raw.encode())
        wiring.payment_notifications().on_payment(notification)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(handle, range(10)))
    assert order_status(order["id"]) == "PAID"
    assert ledger_payments(order["id"]) == 1
    published = [e for e in drain_events_queue(shop["sqs"]) if e["payload"].get("order_id") == order["id"]]
    assert len(published) == 1


def test_paid_after_close_is_reinstated_when_stock_allows(client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    order, sku_id, _ = new_order(client, admin_headers, stock=1)
    # Our side closes in the same second the shopper pays at WeChat.
    wiring.orders().close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    assert sku_stock(sku_id) == 1
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order["id"]))
    assert deliver(client, headers, raw).status_code in (200, 204)
    assert order_status(order["id"]) == "PAID"
    assert sku_stock(sku_id) == 0
    assert ledger_payments(order["id"]) == 1


def test_paid_after_close_without_stock_is_refunded(client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    order, sku_id, _ = new_order(client, admin_headers, stock=1)
    wiring.orders().close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    someone = post(client, "/orders", order_payload(sku_id), login(client))
    assert someone.status_code == 201  # the unit sold again
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order["id"]))
    assert deliver(client, headers, raw).status_code in (200, 204)
    assert order_status(order["id"]) == "REFUNDING"
    [refund] = wiring.refund_repository().for_order(order["id"])
    assert refund.amount == order["amounts"]["payable"]
    assert refund.refund_id in sandbox.refunds  # asked of WeChat Pay with its fixed out_refund_no
    assert sku_stock(sku_id) == 0  # the other shopper keeps the unit
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund.refund_id, "SUCCESS"))
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    assert order_status(order["id"]) == "REFUNDED"
    assert sku_stock(sku_id) == 0


def pay_through_notification(client, sandbox, order_id):
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order_id))
    assert deliver(client, headers, raw).status_code in (200, 204)


def test_full_refund_of_an_unshipped_order_returns_stock_once(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order, sku_id, shopper = new_order(client, admin_headers, stock=3, quantity=2)
    pay_through_notification(client, sandbox, order["id"])
    assert sku_stock(sku_id) == 1
    key = {"Idempotency-Key": f"r-{uuid.uuid4().hex}"}
    r = post(client, f"/orders/{order['id']}/refunds", {"reason": "不想要了"}, {**shopper, **key})
    assert r.status_code == 201, r.body
    refund = body(r)
    assert refund["amount"] == order["amounts"]["payable"] and refund["status"] == "PROCESSING"
    assert body(post(client, f"/orders/{order['id']}/refunds", {"reason": "不想要了"}, {**shopper, **key}))["id"] == refund["id"]
    assert len(sandbox.refunds) >= 1 and refund["id"] in sandbox.refunds
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund["id"], "SUCCESS"))
    for _ in range(2):  # the notification, and WeChat's retry of it
        assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    current = stored_order(order["id"])
    assert current.status == "REFUNDED" and current.refunded_amount == order["amounts"]["payable"]
    assert sku_stock(sku_id) == 3
    assert ledger_refunds(refund["id"]) == 1
    more = post(client, f"/orders/{order['id']}/refunds", {"reason": "again"}, shopper)
    assert more.status_code == 409


def test_partial_refunds_never_exceed_the_payment(client, admin_headers, shop):
    from functions import schemas, wiring

    sandbox = shop["sandbox"]
    order, _, shopper = new_order(client, admin_headers, price=1000, stock=3)
    pay_through_notification(client, sandbox, order["id"])
    user_id = stored_order(order["id"]).user_id

    def ask(_):
        try:
            return wiring.refunds().request_refund(user_id, order["id"], schemas.RefundInput(amount=400, reason="部分退款"), None)
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(ask, range(6)))
    granted = [r for r in results if isinstance(r, dict)]
    assert len(granted) == 2  # 2 x 400 <= 1000 < 3 x 400
    current = stored_order(order["id"])
    assert current.refunding_amount + current.refunded_amount == 800
    for refund in granted:
        headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund["id"], "SUCCESS"))
        deliver(client, headers, raw, "/wechatpay/refund-notify")
    current = stored_order(order["id"])
    assert current.status == "PAID" and current.refunded_amount == 800 and current.refunding_amount == 0


def test_shipped_orders_wait_for_an_operator(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order, _, shopper = new_order(client, admin_headers)
    pay_through_notification(client, sandbox, order["id"])
    assert post(client, f"/admin/orders/{order['id']}/ship", {"logistics_type": "pickup"}, admin_headers).status_code == 200
    refund = body(post(client, f"/orders/{order['id']}/refunds", {"amount": 500, "reason": "破损"}, shopper))
    assert refund["status"] == "REQUESTED"
    assert refund["id"] not in sandbox.refunds
    waiting = body(client.http.get("/admin/refunds", headers=admin_headers))["items"]
    assert refund["id"] in [w["id"] for w in waiting]
    approved = post(client, f"/admin/refunds/{refund['id']}/approve", {}, admin_headers)
    assert body(approved)["status"] == "PROCESSING" and refund["id"] in sandbox.refunds
    assert post(client, f"/admin/refunds/{refund['id']}/reject", {}, admin_headers).status_code == 409


def test_a_failure_mid_notify_is_completed_by_wechats_retry(client, admin_headers, shop, monkeypatch):
    from layers.storage import tx as tx_module

    sandbox = shop["sandbox"]
    order, _, _ = new_order(client, admin_headers)
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order["id"]))
    original = tx_module.Tx.commit

    def broken(self, *a, **kw):
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    monkeypatch.setattr(tx_module.Tx, "commit", broken)
    r = deliver(client, headers, raw)
    assert r.status_code >= 500 and body(r)["code"] == "FAIL"  # WeChat Pay will retry
    monkeypatch.setattr(tx_module.Tx, "commit", original)
    assert order_status(order["id"]) == "PENDING_PAYMENT"

    # The state change is durable but the publish dies: acknowledged, and the relay publishes.
    from functions import wiring

    monkeypatch.setattr(wiring.publisher(), "send", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("sqs down")))
    assert deliver(client, headers, raw).status_code in (200, 204)
    monkeypatch.undo()
    assert order_status(order["id"]) == "PAID"
    assert len(events_for(order["id"], "order.paid")) == 1
    drain_events_queue(shop["sqs"])
    relayed = post(client, "/admin/jobs/relay-outbox/run", {}, admin_headers)
    assert body(relayed)["result"]["published"] >= 1
    assert events_for(order["id"], "order.paid") == []
    assert ledger_payments(order["id"]) == 1


def test_a_refund_reason_of_many_chinese_characters_reaches_wechat_cut_on_a_character(client, admin_headers,
                                                                                      shop):
    # WeChat's reason is 80 UTF-8 bytes: 40 Chinese characters (120 bytes) were refused
    # as PARAM_ERROR and the refund ended FAILED.
    sandbox = shop["sandbox"]
    order, _, shopper = new_order(client, admin_headers)
    pay_through_notification(client, sandbox, order["id"])
    reason = "商品与描述不符，颜色偏差较大，包装破损，希望尽快退款处理，谢谢商家理解配合支持" + "退"
    assert len(reason) == 40
    r = post(client, f"/orders/{order['id']}/refunds", {"reason": reason},
             {**shopper, "Idempotency-Key": f"r-{uuid.uuid4().hex}"})
    assert r.status_code == 201, r.body
    refund = body(r)
    assert refund["status"] == "PROCESSING", refund
    sent = sandbox.refunds[refund["id"]]["reason"]
    assert len(sent.encode()) <= 80 and reason.startswith(sent) and len(sent) == 26


def test_a_title_with_emoji_and_many_characters_still_gets_a_prepay(client, admin_headers, shop):
    # WeChat's description is 127 UTF-8 bytes and refuses emoji: the title is cut on a
    # character and its emoji left out, never a PARAM_ERROR that fails the order.
    product = create_product(client, admin_headers, title="🎂生日蛋糕" + "奶油草莓千层" * 8)
    shopper = login(client)
    r = post(client, "/orders", order_payload(product["skus"][0]["id"]), shopper)
    assert r.status_code == 201, r.body
    sent = shop["sandbox"].orders[body(r)["id"]]["description"]
    assert sent.startswith("生日蛋糕奶油") and len(sent.encode()) <= 127
    assert all(ord(ch) <= 0xFFFF for ch in sent)
