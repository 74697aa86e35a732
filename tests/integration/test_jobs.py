"""Reconciliation and reminders against DynamoDB Local and the sandbox."""

from __future__ import annotations

import pytest

from tests.helpers import bills_ready, body, create_product, login, order_payload, post, put

pytestmark = pytest.mark.integration


def test_reconcile_repairs_a_missed_payment_and_reports_once(client, admin_headers, shop):
    from functions import wiring
    from layers import clock
    from layers.domain.reconcile import BEIJING

    reconcile = wiring.reconciliation()
    get_order = wiring.order_repository().get
    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=2000, stock=5)
    shopper = login(client)
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), shopper))
    sandbox.pay(order["id"], notify=False)  # paid at WeChat; its notification never came
    assert get_order(order["id"]).status == "PENDING_PAYMENT"

    today = clock.now().astimezone(BEIJING).date()
    with bills_ready(sandbox, today):
        first = reconcile.reconcile(today)
        assert order["id"] in first["repaired"]
        assert get_order(order["id"]).status == "PAID"
        second = reconcile.reconcile(today)
    assert order["id"] not in second["repaired"]
    report = body(client.http.get(f"/admin/reconciliations/{today.isoformat()}", headers=admin_headers))
    assert report["summary"]["bill_date"] == today.isoformat()
    assert not [d for d in report["differences"] if d["ref"] == order["id"]]
    assert client.http.get("/admin/reconciliations/not-a-date", headers=admin_headers).status_code == 400


@pytest.fixture
def templates(client, admin_headers):
    settings = {"subscription_templates": {"order_unpaid": "TPL_UNPAID", "coupon_expiring": "TPL_COUPON",
                                           "flash_sale_start": "TPL_FLASH"},
                "order_payment_timeout_s": 240}
    assert put(client, "/admin/settings", settings, admin_headers).status_code == 200
    yield
    put(client, "/admin/settings", {"subscription_templates": {}, "order_payment_timeout_s": 900}, admin_headers)


def test_reminders_go_once_only_with_consent_and_honour_refusals(client, admin_headers, shop, templates):
    from functions import wiring

    reminders = wiring.reminders()
    get_user = wiring.user_repository().get_user

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=990, stock=10)
    sku_id = product["skus"][0]["id"]
    consenting, refusing, silent = login(client), login(client), login(client)
    for who in (consenting, refusing):
        r = post(client, "/me/subscriptions", {"results": {"TPL_UNPAID": "accept", "TPL_OTHER": "reject"}}, who)
        assert r.status_code == 201
    assert body(client.http.get("/me/subscriptions", headers=consenting))["items"] == [
        {"template_id": "TPL_UNPAID", "credits": 1}]
    sandbox.refuse_subscriptions(get_user(refusing["X-User-Id"]).openid)
    orders = {name: body(post(client, "/orders", order_payload(sku_id), who))["id"]
              for name, who in (("consenting", consenting), ("refusing", refusing), ("silent", silent))}

    reminders.send_reminders()
    reminders.send_reminders()  # the job runs again: nothing is sent twice
    sent_to = [m["touser"] for m in sandbox.messages if m["template_id"] == "TPL_UNPAID"
               and m["data"]["character_string1"]["value"] in orders.values()]
    assert sent_to == [get_user(consenting["X-User-Id"]).openid]
    # The refusal consumed the consent, like a sent message.
    assert body(client.http.get("/me/subscriptions", headers=refusing))["items"] == [
        {"template_id": "TPL_UNPAID", "credits": 0}]
    assert body(client.http.get("/me/subscriptions", headers=consenting))["items"] == [
        {"template_id": "TPL_UNPAID", "credits": 0}]
    bad = post(client, "/me/subscriptions", {"results": {}}, consenting)
    assert bad.status_code == 400
