"""The mini-program platform against the sandbox and DynamoDB Local: shipping information
uploaded once with the documented fields, retried past 10060001, one change then refused;
the message push (signature, safe mode) completing an order once; share codes made once
and kept in the bucket; the access token fetched once for many concurrent senders; and
subscription messages in Beijing time."""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, order_payload, post, put
from tests.integration.test_distribution import new_distributor, share

pytestmark = pytest.mark.integration

EXPRESS = {"logistics_type": "express", "express_company": "SF", "tracking_no": "SF1400000001"}


def paid_order(client, admin_headers, sandbox) -> tuple[str, dict]:
    from functions import wiring

    product = create_product(client, admin_headers, price=2590, stock=5, title="碧螺春")
    shopper = login(client)
    r = post(client, "/orders", order_payload(product["skus"][0]["id"], 2), shopper)
    assert r.status_code == 201, r.body
    order_id = body(r)["id"]
    sandbox.pay(order_id, notify=False)
    wiring.orders().mark_paid(order_id, sandbox.transaction(order_id))
    return order_id, shopper


def deliver_shipped(order_id: str) -> None:
    """What the events consumer does with the order's `order.shipped`."""
    from functions import wiring

    for handler in wiring.event_handlers()["order.shipped"]:
        handler(f"order.shipped:{order_id}", {"order_id": order_id})


def order_view(client, order_id, shopper) -> dict:
    return body(client.http.get(f"/orders/{order_id}", headers=shopper))


def test_ship_uploads_once_with_the_documented_fields(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    r = post(client, f"/admin/orders/{order_id}/ship", EXPRESS, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["shipping"] == {**EXPRESS, "upload_status": "PENDING"}
    deliver_shipped(order_id)
    deliver_shipped(order_id)  # SQS delivers at least once
    uploads = sandbox.mp.accepted_uploads(order_id)
    assert len(uploads) == 1
    upload = uploads[0]
    openid = sandbox.orders[order_id]["payer"]["openid"]
    assert upload["order_key"] == {"order_number_type": 1, "mchid": sandbox.keys.mchid, "out_trade_no": order_id}
    assert upload["logistics_type"] == 1 and upload["delivery_mode"] == 1
    assert upload["shipping_list"] == [{"item_desc": "碧螺春*2", "tracking_no": "SF1400000001",
                                        "express_company": "SF",
                                        "contact": {"receiver_contact": "138****0000"}}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", upload["upload_time"])
    assert upload["payer"] == {"openid": openid}
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "UPLOADED"
    shown = body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))
    assert shown["status"] == "UPLOADED" and shown["attempts"] == 1


def test_not_booked_yet_then_success_uploads_once(client, admin_headers, shop, monkeypatch):
    from functions import wiring
    from layers import clock

    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    sandbox.mp.not_booked_yet(order_id, times=1)
    # The delayed `shipping.upload` message is recorded, not sent: the events queue is shared
    # with other tests; the sweep below stands for it.
    retries = []
    monkeypatch.setattr(wiring.shipping(), "send_retry", lambda oid, delay: retries.append((oid, delay)))
    assert post(client, f"/admin/orders/{order_id}/ship", {"logistics_type": "pickup"}, admin_headers).status_code == 200
    deliver_shipped(order_id)
    waiting = body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))
    assert waiting["status"] == "PENDING" and waiting["error_code"] == 10060001
    assert sandbox.mp.accepted_uploads(order_id) == [] and retries == [(order_id, 10)]
    run = lambda: post(client, "/admin/jobs/retry-shipping-uploads/run", {}, admin_headers)  # noqa: E731
    run()  # not due yet: nothing is called
    later = clock.now() + timedelta(seconds=30)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert run().status_code == 200
    run()
    assert len(sandbox.mp.accepted_uploads(order_id)) == 1
    assert sandbox.mp.accepted_uploads(order_id)[0]["logistics_type"] == 4
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "UPLOADED"


def test_a_second_change_of_shipping_information_is_refused(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    ship = lambda payload: post(client, f"/admin/orders/{order_id}/ship", payload, admin_headers)  # noqa: E731
    assert ship({"logistics_type": "express", "express_company": "SF"}).status_code == 400
    assert ship(EXPRESS).status_code == 200
    deliver_shipped(order_id)
    assert ship(EXPRESS).status_code == 200  # the same again: a retry, nothing changes
    changed = ship({"logistics_type": "express", "express_company": "ZTO", "tracking_no": "ZTO-77"})
    assert changed.status_code == 200 and body(changed)["shipping"]["tracking_no"] == "ZTO-77"
    from functions import wiring

    wiring.shipping().on_order_shipped(f"order.shipped:{order_id}#r1", {"order_id": order_id})
    refused = ship({"logistics_type": "express", "express_company": "YTO", "tracking_no": "YTO-78"})
    assert refused.status_code == 409 and body(refused)["error"]["code"] == "INVALID_STATE"
    assert [u["shipping_list"][0]["tracking_no"] for u in sandbox.mp.accepted_uploads(order_id)] == [
        "SF1400000001", "ZTO-77"]
    assert order_view(client, order_id, shopper)["shipping"]["tracking_no"] == "ZTO-77"


def push(client, query: str, raw: bytes):
    return client.http.post(f"/wechat/message-push?{query}", body=raw, headers={"Content-Type": "application/json"})


def test_a_signed_settlement_push_completes_the_order_once_and_a_forged_one_changes_nothing(
        client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    order_id, _ = paid_order(client, admin_headers, sandbox)
    other_id, _ = paid_order(client, admin_headers, sandbox)
    for oid in (order_id, other_id):
        assert post(client, f"/admin/orders/{oid}/ship", {"logistics_type": "pickup"}, admin_headers).status_code == 200

    # Forgeries: another token; a plaintext push while the push is in safe mode; a tampered body.
    forged = sandbox.mp.build_push(sandbox.mp.settlement_event(other_id), token="not-the-token")
    assert push(client, *forged).status_code == 401
    plain = sandbox.mp.build_push(sandbox.mp.settlement_event(other_id), safe=False)
    assert push(client, *plain).status_code == 401
    query, raw = sandbox.mp.build_push(sandbox.mp.settlement_event(other_id))
    tampered = json.loads(raw)  # another genuine ciphertext under this push's signature
    tampered["Encrypt"] = json.loads(sandbox.mp.build_push(sandbox.mp.settlement_event(order_id))[1])["Encrypt"]
    assert push(client, query, json.dumps(tampered).encode()).status_code == 401
    assert wiring.order_repository().get(other_id, consistent=True).status == "SHIPPED"

    query, raw = sandbox.mp.build_push(sandbox.mp.settlement_event(order_id))
    r = push(client, query, raw)
    assert r.status_code == 200 and r.body in (b"success", "success")
    done = wiring.order_repository().get(order_id, consistent=True)
    assert done.status == "COMPLETED" and done.completed_at
    again = push(client, *sandbox.mp.build_push(sandbox.mp.settlement_event(order_id)))
    assert again.status_code == 200
    assert wiring.order_repository().get(order_id, consistent=True).version == done.version

    check = sandbox.mp.build_push({})[0] + "&echostr=hello-wechat"
    answer = client.http.get(f"/wechat/message-push?{check}")
    assert answer.status_code == 200 and answer.body in (b"hello-wechat", "hello-wechat")
    bad = client.http.get("/wechat/message-push?signature=00&timestamp=1&nonce=2&echostr=x")
    assert bad.status_code == 401


def test_remind_shipping_is_an_anomaly_once(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    order_id, _ = paid_order(client, admin_headers, sandbox)
    for _ in range(2):
        assert push(client, *sandbox.mp.build_push(sandbox.mp.remind_shipping_event(order_id))).status_code == 200
    anomalies = body(client.http.get("/admin/anomalies", headers=admin_headers))
    kinds = [a["kind"] for a in anomalies["items"] if a["order_id"] == order_id]
    assert kinds == ["REMIND_SHIPPING"]


def test_the_share_code_is_a_png_made_once_for_two_requests(client, admin_headers, shop):
    sandbox = shop["sandbox"]
    token = share(client, new_distributor(client, admin_headers))
    before = sandbox.mp.codes_made
    # A binary answer needs an Accept that names it (API Gateway's rule; an <image> sends */*).
    first = client.http.get(f"/shares/{token}/qrcode", headers={"Accept": "image/png"})
    second = client.http.get(f"/shares/{token}/qrcode", headers={"Accept": "*/*"})
    for r in (first, second):
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "image/png"
        assert bytes(r.body).startswith(b"\x89PNG\r\n\x1a\n")
    assert bytes(first.body) == bytes(second.body)
    assert sandbox.mp.codes_made - before == 1
    assert client.http.get("/shares/no-such-share/qrcode").status_code == 404


def test_the_access_token_is_fetched_once_for_fifty_concurrent_sends(shop):
    from functions import wiring
    from layers.storage.tokens import DynamoTokenStore, TokenItem
    from layers.wechat.miniprogram import MiniProgram

    sandbox = shop["sandbox"]
    settings = wiring.settings()
    for sk in ("TOKEN", "LEASE"):
        TokenItem(DynamoTokenStore(settings.wechat_appid).pk, sk).delete()
    sandbox.mp.expire_token()
    containers = [MiniProgram(settings.wechat_appid, settings.wechat_app_secret, settings.wechat_api_base,
                              token_store=DynamoTokenStore(settings.wechat_appid)) for _ in range(5)]
    before, sent_before = sandbox.tokens_issued, len(sandbox.messages)

    def send(n: int) -> None:
        containers[n % 5].send_subscribe_message(f"o-concurrent-{n}", "TPL", {"thing1": {"value": "到货"}})

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(send, range(50)))
    assert sandbox.tokens_issued - before == 1
    assert len(sandbox.messages) - sent_before == 50

    # WeChat revokes the token: the next call refreshes it once and is retried once.
    sandbox.mp.expire_token()
    containers[0].send_subscribe_message("o-after-40001", "TPL", {"thing1": {"value": "到货"}})
    containers[1].send_subscribe_message("o-after-40001-b", "TPL", {"thing1": {"value": "到货"}})
    assert sandbox.tokens_issued - before == 2


@pytest.fixture
def unpaid_template(client, admin_headers):
    settings = {"subscription_templates": {"order_unpaid": "TPL_UNPAID_BJ"}, "order_payment_timeout_s": 240}
    assert put(client, "/admin/settings", settings, admin_headers).status_code == 200
    yield
    put(client, "/admin/settings", {"subscription_templates": {}, "order_payment_timeout_s": 900}, admin_headers)


def test_reminders_show_beijing_time_and_a_refused_format_keeps_the_credit(
        client, admin_headers, shop, unpaid_template):
    from datetime import datetime, timezone

    from functions import wiring

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=1234, stock=5)
    shopper = login(client)
    assert post(client, "/me/subscriptions", {"results": {"TPL_UNPAID_BJ": "accept"}}, shopper).status_code == 201
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), shopper))
    wiring.reminders().send_reminders()
    sent = [m for m in sandbox.messages if m["data"].get("character_string1", {}).get("value") == order["id"]]
    assert len(sent) == 1
    expires = datetime.fromisoformat(order["expires_at"].replace("Z", "+00:00")).astimezone(
        timezone(timedelta(hours=8)))
    assert sent[0]["data"]["time3"]["value"] == (
        f"{expires.year}年{expires.month}月{expires.day}日 {expires.hour:02d}:{expires.minute:02d}")
    assert sent[0]["data"]["amount2"]["value"] == "12.34元"

    # A value WeChat refuses (47003) reaches nobody: the shopper's consent is kept.
    mp = wiring.mini_program()
    with pytest.raises(Exception) as refused:
        mp.send_subscribe_message("o-x", "TPL_UNPAID_BJ", {"time3": {"value": "2026-11-29T10:00:00Z"}})
    assert getattr(refused.value, "errcode", None) == 47003
    second = login(client)
    assert post(client, "/me/subscriptions", {"results": {"TPL_UNPAID_BJ": "accept"}}, second).status_code == 201
    user = wiring.user_repository().get_user(second["X-User-Id"])
    # The merchant's template now has other keywords than the settings' layout: refused.
    sandbox.mp.register_template("TPL_UNPAID_BJ", ["character_string1", "amount2", "time4"])
    result = wiring.reminders().remind(second["X-User-Id"], "order_unpaid", f"o{uuid.uuid4().hex[:8]}",
                                       {"order_id": "o1", "amount": 100, "expires_at": order["expires_at"]})
    assert result == "DATA_REFUSED" and user is not None
    assert body(client.http.get("/me/subscriptions", headers=second))["items"] == [
        {"template_id": "TPL_UNPAID_BJ", "credits": 1}]


def test_a_template_laid_out_differently_is_sent_once_the_settings_map_its_keywords(
        client, admin_headers, shop):
    """The merchant's 待付款提醒 has its own keywords (amount1, character_string2, time5):
    today's layout is refused (47003, the credit kept); mapped in the settings, it is sent."""
    from functions import wiring

    sandbox = shop["sandbox"]
    template_id = f"TPL_UNPAID_{uuid.uuid4().hex[:8]}"
    sandbox.mp.register_template(template_id, ["amount1", "character_string2", "time5"])
    product = create_product(client, admin_headers, price=1999, stock=5)
    shopper = login(client)
    assert post(client, "/me/subscriptions", {"results": {template_id: "accept"}}, shopper).status_code == 201
    try:
        assert put(client, "/admin/settings", {"subscription_templates": {"order_unpaid": template_id},
                                               "order_payment_timeout_s": 240}, admin_headers).status_code == 200
        first = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), shopper))
        assert wiring.reminders().send_reminders().get("DATA_REFUSED", 0) >= 1
        assert not [m for m in sandbox.messages if m["template_id"] == template_id]
        assert body(client.http.get("/me/subscriptions", headers=shopper))["items"] == [
            {"template_id": template_id, "credits": 1}]

        layout = {"template_id": template_id,
                  "fields": {"order_id": "character_string2", "amount": "amount1", "expires_at": "time5"}}
        r = put(client, "/admin/settings", {"subscription_templates": {"order_unpaid": layout}}, admin_headers)
        assert r.status_code == 200, r.body
        assert body(r)["subscription_templates"]["order_unpaid"] == layout
        second = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), shopper))
        wiring.reminders().send_reminders()
    finally:
        put(client, "/admin/settings", {"subscription_templates": {}, "order_payment_timeout_s": 900}, admin_headers)
    sent = [m for m in sandbox.messages if m["template_id"] == template_id]
    assert [m["data"]["character_string2"]["value"] for m in sent] == [second["id"]]
    assert sent[0]["data"]["amount1"]["value"] == "19.99元" and set(sent[0]["data"]) == {
        "amount1", "character_string2", "time5"}
    assert first["id"] != second["id"]
    assert body(client.http.get("/me/subscriptions", headers=shopper))["items"] == [
        {"template_id": template_id, "credits": 0}]


@pytest.mark.parametrize("layout, where", [
    ({"order_id": "character_string1", "amount": "amount2", "expires_at": "time3", "coupon": "thing4"},
     "order_unpaid.fields.coupon"),
    ({"order_id": "character_string1", "amount": "money2", "expires_at": "time3"}, "order_unpaid.fields.amount"),
    ({"order_id": "character_string1", "amount": "amount2"}, "order_unpaid.fields.expires_at"),
])
def test_a_layout_that_cannot_be_sent_is_400_and_changes_nothing(client, admin_headers, layout, where):
    before = body(client.http.get("/admin/settings", headers=admin_headers))
    r = put(client, "/admin/settings", {"subscription_templates": {"order_unpaid": {
        "template_id": "TPL_X", "fields": layout}}, "shipping_fee": before["shipping_fee"] + 1}, admin_headers)
    assert r.status_code == 400, r.body
    error = json.loads(r.body)["error"]
    assert error["code"] == "INVALID_REQUEST" and where in error["message"]
    assert body(client.http.get("/admin/settings", headers=admin_headers)) == before


def test_the_push_at_shipping_time_changes_nothing_and_only_the_settlement_push_completes(
        client, admin_headers, shop):
    import time

    from functions import wiring

    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    assert post(client, f"/admin/orders/{order_id}/ship", EXPRESS, admin_headers).status_code == 200
    deliver_shipped(order_id)
    deadline = time.monotonic() + 5
    while not sandbox.mp.pushes_for(order_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    [at_shipping] = sandbox.mp.pushes_for(order_id)  # what WeChat sent when it accepted the upload
    before = wiring.order_repository().get(order_id, consistent=True)
    r = push(client, *sandbox.mp.build_push(at_shipping))
    assert r.status_code == 200 and r.body in (b"success", "success")
    after = wiring.order_repository().get(order_id, consistent=True)
    assert after.status == "SHIPPED" and after.version == before.version and not after.completed_at

    r = push(client, *sandbox.mp.build_push(sandbox.mp.settlement_event(order_id)))
    assert r.status_code == 200
    assert wiring.order_repository().get(order_id, consistent=True).status == "COMPLETED"
    assert order_view(client, order_id, shopper)["status"] == "COMPLETED"


@pytest.mark.parametrize("token_cached", [True, False])
def test_a_wrong_app_secret_at_login_is_a_503_with_an_alarm_never_invalid_code(
        client, shop, monkeypatch, token_cached):
    """40125 is the shop's configuration: every shopper would be told their code is bad.
    With the access token cached, code2session itself answers 40125; without it, the token
    that wechatpy adds to the call cannot be fetched (stable_token answers 40125)."""
    from functions import wiring
    from layers import observability
    from layers.wechat.miniprogram import MiniProgram

    settings = wiring.settings()
    wrong = MiniProgram(settings.wechat_appid, "not-the-secret", settings.wechat_api_base)
    if token_cached:
        wrong.tokens = wiring.mini_program().tokens
        wrong.client.tokens = wrong.tokens
    monkeypatch.setattr(wiring.auth(), "mini_program", wrong)
    logged = []
    monkeypatch.setattr(observability.logger, "error", lambda msg, extra=None, **kw: logged.append(extra))
    r = post(client, "/auth/login", {"code": f"code-{uuid.uuid4().hex}"})
    assert r.status_code == 503, r.body
    assert body(r)["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert [e["alarm"] for e in logged] == ["WECHAT_APP_SECRET", "HTTP_5XX"]  # the cause, and the 503 it answered


def test_an_order_paid_from_the_balance_is_never_uploaded(client, admin_headers, shop, monkeypatch):
    """No WeChat Pay transaction: WeChat answers 10060001 ("支付单不存在") for ever."""
    from functions import wiring
    from tests.integration.test_members import topped_up

    sandbox = shop["sandbox"]
    _, shopper = topped_up(client, admin_headers, sandbox, pay=5000)
    sku_id = create_product(client, admin_headers, price=3000, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, pay_with="balance"), shopper))
    assert order["status"] == "PAID" and order["pay_with"] == "balance"
    retries = []
    monkeypatch.setattr(wiring.shipping(), "send_retry", lambda oid, delay: retries.append((oid, delay)))
    shipped = post(client, f"/admin/orders/{order['id']}/ship", EXPRESS, admin_headers)
    assert shipped.status_code == 200 and body(shipped)["shipping"]["upload_status"] == "NOT_REQUIRED"
    deliver_shipped(order["id"])
    upload = body(client.http.get(f"/admin/orders/{order['id']}/shipping", headers=admin_headers))
    assert upload["status"] == "NOT_REQUIRED" and upload["attempts"] == 0
    assert retries == [] and sandbox.mp.accepted_uploads(order["id"]) == []
    changed = post(client, f"/admin/orders/{order['id']}/ship",
                   {"logistics_type": "express", "express_company": "ZTO", "tracking_no": "ZTO-1"}, admin_headers)
    assert changed.status_code == 200 and body(changed)["shipping"]["upload_status"] == "NOT_REQUIRED"
    deliver_shipped(order["id"])
    assert retries == [] and order_view(client, order["id"], shopper)["shipping"]["upload_status"] == "NOT_REQUIRED"


def test_correcting_a_refused_upload_is_not_the_one_change(client, admin_headers, shop):
    """WeChat counts the uploads it accepted (upload_shipping_info: 10060003 "支付单已使用重新
    发货机会" at the third); one it refused used nothing."""
    from functions import wiring

    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    ship = lambda payload: post(client, f"/admin/orders/{order_id}/ship", payload, admin_headers)  # noqa: E731
    upload = lambda: wiring.shipping().on_order_shipped("x", {"order_id": order_id})  # noqa: E731
    sandbox.mp.fail_uploads(10060014)  # refused for its content: FAILED, nothing accepted
    assert ship(EXPRESS).status_code == 200
    upload()
    assert body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))["status"] == "FAILED"
    corrected = {"logistics_type": "express", "express_company": "ZTO", "tracking_no": "ZTO-1"}
    assert ship(corrected).status_code == 200  # a correction
    upload()
    changed = {"logistics_type": "express", "express_company": "YTO", "tracking_no": "YTO-2"}
    r = ship(changed)  # the one change WeChat allows
    assert r.status_code == 200, r.body
    upload()
    refused = ship({"logistics_type": "express", "express_company": "EMS", "tracking_no": "EMS-3"})
    assert refused.status_code == 409 and body(refused)["error"]["code"] == "INVALID_STATE"
    assert [u["shipping_list"][0]["tracking_no"] for u in sandbox.mp.accepted_uploads(order_id)] == [
        "ZTO-1", "YTO-2"]
    shown = body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))
    assert shown["status"] == "UPLOADED" and shown["revision"] == 1 and shown["tracking_no"] == "YTO-2"
    assert order_view(client, order_id, shopper)["shipping"]["tracking_no"] == "YTO-2"


def test_not_booked_for_48_hours_fails_is_an_anomaly_and_alarms(client, admin_headers, shop, monkeypatch):
    from functions import wiring
    from layers import clock, observability

    sandbox = shop["sandbox"]
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    sandbox.mp.not_booked_yet(order_id, times=10_000)
    monkeypatch.setattr(wiring.shipping(), "send_retry", lambda oid, delay: None)
    logged = []
    monkeypatch.setattr(observability.logger, "error", lambda msg, extra=None, **kw: logged.append(extra or {}))
    assert post(client, f"/admin/orders/{order_id}/ship", {"logistics_type": "pickup"}, admin_headers).status_code == 200
    deliver_shipped(order_id)
    start = clock.now()
    for hours in (1, 12, 47):
        at = start + timedelta(hours=hours)
        monkeypatch.setattr(clock, "now", lambda at=at: at)
        wiring.shipping().upload(order_id)
        shown = body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))
        assert shown["status"] == "PENDING" and shown["error_code"] == 10060001
    at = start + timedelta(hours=48, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: at)
    assert wiring.shipping().upload(order_id) == "FAILED"
    shown = body(client.http.get(f"/admin/orders/{order_id}/shipping", headers=admin_headers))
    assert shown["status"] == "FAILED" and shown["error_code"] == 10060001
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "FAILED"
    anomalies = body(client.http.get("/admin/anomalies", headers=admin_headers))["items"]
    assert [a["kind"] for a in anomalies if a["order_id"] == order_id] == ["SHIPPING_UPLOAD_FAILED"]
    assert [e.get("alarm") for e in logged if e.get("order_id") == order_id] == ["SHIPPING_UPLOAD_FAILED"]


@pytest.fixture
def trade_management(shop):
    """The merchant's trade management as WeChat says and as the shop last kept it; both put
    back to "managed" afterwards (the other tests upload)."""
    from functions import wiring
    from layers import clock
    from layers.clock import iso

    cache = wiring.shipping().trade_managed_cache
    yield cache
    shop["sandbox"].mp.trade_managed = True
    cache.put(True, iso(clock.now()))


def test_enrolment_pushed_by_wechat_rechecks_at_once_and_uploads_what_waited(
        client, admin_headers, shop, trade_management, monkeypatch):
    from functions import wiring
    from layers import clock
    from layers.clock import iso

    sandbox = shop["sandbox"]
    sandbox.mp.trade_managed = False
    trade_management.put(False, iso(clock.now()))  # asked an hour ago, say: not managed
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    assert post(client, f"/admin/orders/{order_id}/ship", EXPRESS, admin_headers).status_code == 200
    deliver_shipped(order_id)
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "NOT_REQUIRED"
    assert sandbox.mp.accepted_uploads(order_id) == []

    sent = []
    monkeypatch.setattr(wiring.shipping(), "send_retry", lambda oid, delay: sent.append((oid, delay)))
    event = sandbox.mp.enrol()  # WeChat enrols the merchant and reminds it to use the API
    assert push(client, *sandbox.mp.build_push(event)).status_code == 200
    assert (order_id, 0) in sent  # the upload's message, at once
    for oid, _ in sent:  # the events consumer
        wiring.shipping().on_order_shipped(f"shipping.upload:{oid}", {"order_id": oid})
    assert [u["order_key"]["out_trade_no"] for u in sandbox.mp.accepted_uploads(order_id)] == [order_id]
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "UPLOADED"
    assert wiring.shipping().trade_managed_cache.get()[0] is True


def test_an_is_trade_managed_that_is_not_an_answer_is_not_known_and_uploads_go_ahead(
        client, admin_headers, shop, trade_management):
    from datetime import datetime

    from layers.clock import iso

    sandbox = shop["sandbox"]
    stale = datetime(2026, 1, 1, tzinfo=clock_utc())
    trade_management.put(False, iso(stale))  # a "not managed" answer too old to trust
    sandbox.fail_next("/wxa/sec/order/is_trade_managed", status=404)
    order_id, shopper = paid_order(client, admin_headers, sandbox)
    assert post(client, f"/admin/orders/{order_id}/ship", EXPRESS, admin_headers).status_code == 200
    deliver_shipped(order_id)
    assert order_view(client, order_id, shopper)["shipping"]["upload_status"] == "UPLOADED"
    assert len(sandbox.mp.accepted_uploads(order_id)) == 1
    assert trade_management.get() == (False, iso(stale))  # nothing learnt, nothing kept


def clock_utc():
    from datetime import UTC

    return UTC
