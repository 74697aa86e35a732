"""The merchant console in Chromium: sign in, find a paid order and ship it with a
tracking number, see WeChat's upload status; a form with a wrong CSRF token is refused;
an operator (not owner) cannot open or change settings; the dashboard draws its chart."""

from __future__ import annotations

import os
import re
import uuid

import pytest
import requests

from tests.browser.conftest import wait_until
from tests.integration.test_miniprogram_platform import deliver_shipped, paid_order

pytestmark = pytest.mark.integration


def sign_in(page, base: str, name: str, password: str, then: str = "/console/orders") -> None:
    page.goto(f"{base}{then}")
    assert "/console/login" in page.url  # signed out: to the sign-in page first
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + then)))


def owner_signs_in(page, base: str, then: str = "/console/orders") -> None:
    sign_in(page, base, "owner", os.environ["ADMIN_API_KEY"], then)


def test_sign_in_find_a_paid_order_ship_it_and_see_the_upload(browser_page, console_url, client,
                                                               admin_headers, shop):
    page = browser_page
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    owner_signs_in(page, console_url)

    cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    assert page.locator(f"#orders a:text('{order_id}')").count() == 1  # paid today
    page.fill("input[name=order_id]", order_id)
    page.click("form.filters:has(input[name=order_id]) button")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    assert page.locator("#order-status").get_attribute("data-status") == "PAID"

    page.select_option("#ship-form select[name=express_company]", "SF")  # shown as 顺丰速运
    page.fill("#ship-form input[name=tracking_no]", "SF1400000021")
    page.click("#ship-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    assert page.locator("#order-status").get_attribute("data-status") == "SHIPPED"
    assert page.locator("#upload-status").get_attribute("data-status") == "PENDING"
    assert "SF1400000021" in page.inner_text("#shipping-status") and "顺丰速运" in page.inner_text("#shipping-status")

    deliver_shipped(order_id)  # what the events consumer does with order.shipped
    # The panel polls itself (htmx) while the upload is pending.
    page.wait_for_selector("#upload-status[data-status=UPLOADED]", timeout=15000)
    assert len(shop["sandbox"].mp.accepted_uploads(order_id)) == 1


def test_a_form_with_a_wrong_csrf_token_is_refused_and_changes_nothing(browser_page, console_url, client,
                                                                       admin_headers, shop):
    page = browser_page
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    page.eval_on_selector("#ship-form input[name=csrf]", "el => el.value = 'forged'")
    page.select_option("#ship-form select[name=express_company]", "SF")  # shown as 顺丰速运
    page.fill("#ship-form input[name=tracking_no]", "SF1400000022")
    with page.expect_response(f"{console_url}/console/orders/{order_id}/ship") as answer:
        page.click("#ship-form button[type=submit]")
    assert answer.value.status == 403
    assert "CSRF" in page.inner_text("#error-message")
    # and a form posted without any token (the session cookie alone) is refused too
    missing = page.request.post(f"{console_url}/console/orders/{order_id}/ship",
                                form={"logistics_type": "express", "express_company": "SF",
                                      "tracking_no": "SF1400000022"})
    assert missing.status == 403

    from functions import wiring

    assert wiring.orders().get(order_id, consistent=True).status == "PAID"


def test_an_operator_cannot_open_or_change_settings(browser_page, console_url, shop):
    page = browser_page
    name = "op" + uuid.uuid4().hex[:8]
    r = requests.post(f"{console_url}/admin/operators", timeout=10,
                      json={"name": name, "password": "correct horse 21", "role": "operator"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 201, r.text
    assert r.json() == {"name": name, "role": "operator", "created_at": r.json()["created_at"], "created_by": "owner"}

    sign_in(page, console_url, name, "correct horse 21")
    assert page.locator("nav.side a[href='/console/settings']").count() == 0
    answer = page.goto(f"{console_url}/console/settings")
    assert answer.status == 403
    before = requests.get(f"{console_url}/admin/settings", timeout=10,
                          headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}).json()
    # Even a well-formed post, with the operator's own valid CSRF token, is refused.
    page.goto(f"{console_url}/console/orders")
    token = page.eval_on_selector("header.top input[name=csrf]", "el => el.value")
    answer = page.request.post(f"{console_url}/console/settings", form={"csrf": token, "auto_confirm_receipt_s": "60"})
    assert answer.status == 403
    after = requests.get(f"{console_url}/admin/settings", timeout=10,
                         headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}).json()
    assert after == before


def counted_sale(client, admin_headers, shop) -> None:
    """A payment counted in today's figures through the real pipeline (events queue ->
    analytics queue -> counters)."""
    import json

    from functions import wiring
    from functions.analytics import consume_batch
    from layers.events import handle_event_batch
    from tests.helpers import body, create_product, login, order_payload, post
    from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
    from tests.integration.test_payments import drain_events_queue, pay_through_notification

    product = create_product(client, admin_headers, price=4321, stock=5, title="看板-" + uuid.uuid4().hex[:6])
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"], quantity=2), login(client)))
    drain_events_queue(shop["sqs"])
    pay_through_notification(client, shop["sandbox"], order["id"])
    events = [m for m in drain_events_queue(shop["sqs"]) if m["payload"].get("order_id") == order["id"]]
    handle_event_batch(_sqs_event([json.dumps(e) for e in events]), wiring.event_handlers())
    facts = [b for b in _drain_analytics_queue(shop["sqs"]) if order["id"] in b]
    assert facts
    consume_batch(_sqs_event(facts))


def test_the_dashboard_draws_its_chart(browser_page, console_url, client, admin_headers, shop, artifacts):
    page = browser_page
    counted_sale(client, admin_headers, shop)
    owner_signs_in(page, console_url, "/console/dashboard")
    page.wait_for_selector("#chart[data-drawn=true] canvas")
    assert page.inner_text("#today-gmv") != "¥0.00"
    assert page.locator("#daily tbody tr").count() == 7
    page.screenshot(path=str(artifacts / "console-dashboard.png"), full_page=True)
    assert (artifacts / "console-dashboard.png").stat().st_size > 10_000


def test_a_partial_refund_is_approved_in_the_console_and_audited_with_the_operator(
        browser_page, console_url, client, admin_headers, shop):
    from tests.helpers import body, post

    page = browser_page
    order_id, shopper = paid_order(client, admin_headers, shop["sandbox"])
    r = post(client, f"/admin/orders/{order_id}/ship",
             {"logistics_type": "express", "express_company": "SF", "tracking_no": "SF1400000023"}, admin_headers)
    assert r.status_code == 200, r.body
    r = post(client, f"/orders/{order_id}/refunds", {"amount": 1000, "reason": "少发一件"}, shopper)
    assert r.status_code in (200, 201), r.body
    refund = body(r)
    assert refund["status"] == "REQUESTED"

    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    row = page.locator("#refunds tr", has_text=refund["id"])
    assert row.locator("[data-status]").get_attribute("data-status") == "REQUESTED"
    assert "待审核" in row.inner_text() and "¥10.00" in row.inner_text()
    row.locator("button:text('同意退款')").click()
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    status = page.locator("#refunds tr", has_text=refund["id"]).locator("[data-status]").get_attribute("data-status")
    assert status != "REQUESTED"  # PROCESSING, or SUCCESS once WeChat Pay answered
    assert page.dialogs and "确认同意退款 ¥10.00" in page.dialogs[-1]

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=refund["id"]).inner_text()
    assert "owner" in entry and "同意退款" in entry and "¥10.00" in entry

    # WeChat Pay finishes it (nothing is left in flight for other tests' sweeps).
    from tests.integration.test_money_vs_wechat import finish_at_wechat

    finish_at_wechat(client, shop["sandbox"], refund["id"])
    page.goto(f"{console_url}/console/orders/{order_id}")
    assert "已退款" in page.locator("#refunds tr", has_text=refund["id"]).inner_text()


def test_stock_by_delta_with_a_reason_never_below_zero_and_audited(browser_page, console_url, client,
                                                                   admin_headers, shop):
    from tests.helpers import create_product

    page = browser_page
    product = create_product(client, admin_headers, price=990, stock=10, title="库存-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    owner_signs_in(page, console_url, "/console/products")
    row = page.locator(f"tr[data-sku='{sku_id}']")
    assert row.locator(".stock").inner_text() == "10"
    row.locator("input[name=delta]").fill("-3")
    row.locator("input[name=reason]").fill("盘点少了")
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/products")
    assert page.locator(f"tr[data-sku='{sku_id}'] .stock").inner_text() == "7"

    row = page.locator(f"tr[data-sku='{sku_id}']")
    row.locator("input[name=delta]").fill("-8")
    row.locator("input[name=reason]").fill("破损")
    with page.expect_response(f"{console_url}/console/skus/{sku_id}/stock") as answer:
        row.locator("button[type=submit]").click()
    assert answer.value.status == 409
    from functions import wiring

    assert wiring.catalog_repository().get_skus([sku_id])[sku_id].stock == 7

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=sku_id).inner_text()
    assert "调整库存" in entry and "-3 -> 7: 盘点少了" in entry


def test_the_product_list_pages_with_the_api_cursor(browser_page, console_url, client, admin_headers, shop):
    from tests.helpers import create_product

    page = browser_page
    for _ in range(21):  # more than one page of 20, whatever else the session created
        create_product(client, admin_headers, price=100, stock=1, title="分页-" + uuid.uuid4().hex[:6])
    owner_signs_in(page, console_url, "/console/products")
    first = page.locator("#product-rows tr[data-sku]").count()
    assert first >= 20
    page.click("#more-row button")  # htmx: the next page's rows replace the "more" row
    wait_until(lambda: page.locator("#product-rows tr[data-sku]").count() > first)
    skus = page.eval_on_selector_all("#product-rows tr[data-sku]", "rows => rows.map(r => r.dataset.sku)")
    assert len(skus) == len(set(skus))  # no row twice


def test_the_order_list_filters_the_days_paid_orders_by_status(browser_page, console_url, client, admin_headers,
                                                               shop):
    page = browser_page
    paid_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    shipped_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    r = requests.post(f"{console_url}/admin/orders/{shipped_id}/ship", timeout=10,
                      json={"logistics_type": "express", "express_company": "SF", "tracking_no": "SF1400000024"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 200, r.text
    owner_signs_in(page, console_url)
    page.select_option("select[name=status]", "SHIPPED")
    page.click("form.filters:has(select) button")
    page.wait_for_url(re.compile(r".*status=SHIPPED.*"))
    listed = page.inner_text("#orders")
    assert shipped_id in listed and paid_id not in listed
    assert "已发货" in page.locator("#orders tr", has_text=shipped_id).inner_text()


def test_a_failed_upload_shows_its_error_and_is_retried_from_the_order_page(browser_page, console_url, client,
                                                                            admin_headers, shop):
    page = browser_page
    sandbox = shop["sandbox"]
    order_id, _ = paid_order(client, admin_headers, sandbox)
    r = requests.post(f"{console_url}/admin/orders/{order_id}/ship", timeout=10,
                      json={"logistics_type": "express", "express_company": "SF", "tracking_no": "SF1400000025"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 200, r.text
    sandbox.mp.fail_uploads(10060003, times=1)  # WeChat refuses it: not one to retry by itself
    deliver_shipped(order_id)

    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    assert page.locator("#upload-status").get_attribute("data-status") == "FAILED"
    assert "10060003" in page.inner_text("#shipping-status")
    page.click("#shipping-status button:text('重新上传')")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    assert page.locator("#upload-status").get_attribute("data-status") == "UPLOADED"
    assert len(sandbox.mp.accepted_uploads(order_id)) == 1


def test_the_refund_queue_approves_one_and_rejects_another_both_audited(browser_page, console_url, client,
                                                                       admin_headers, shop):
    from tests.helpers import body, post
    from tests.integration.test_money_vs_wechat import finish_at_wechat

    page = browser_page
    refunds = []
    for amount in (500, 700):
        order_id, shopper = paid_order(client, admin_headers, shop["sandbox"])
        assert post(client, f"/admin/orders/{order_id}/ship", {"logistics_type": "pickup"}, admin_headers).status_code == 200
        r = post(client, f"/orders/{order_id}/refunds", {"amount": amount, "reason": "质量问题"}, shopper)
        assert r.status_code in (200, 201), r.body
        refunds.append(body(r))
    kept, rejected = refunds

    owner_signs_in(page, console_url, "/console/refunds")
    for r in refunds:
        assert page.locator(f"tr[data-refund='{r['id']}']").count() == 1
    page.locator(f"tr[data-refund='{rejected['id']}'] button:text('拒绝')").click()
    page.wait_for_url(f"{console_url}/console/refunds?status=REQUESTED")
    assert page.locator(f"tr[data-refund='{rejected['id']}']").count() == 0
    page.locator(f"tr[data-refund='{kept['id']}'] button:text('同意退款')").click()
    page.wait_for_url(f"{console_url}/console/refunds?status=REQUESTED")
    assert page.locator(f"tr[data-refund='{kept['id']}']").count() == 0

    from functions import wiring

    assert wiring.orders().get(rejected["order_id"], consistent=True).status == "SHIPPED"
    finish_at_wechat(client, shop["sandbox"], kept["id"])  # nothing left in flight for other tests
    page.goto(f"{console_url}/console/operators")
    for action, refund in (("拒绝退款", rejected), ("同意退款", kept)):
        line = page.locator("#audit tr", has_text=refund["id"]).inner_text()
        assert action in line and "完成" in line  # begun before the action, finished after it


def test_a_product_made_in_the_console_is_in_the_mini_program_api(browser_page, console_url, shop):
    page = browser_page
    title = "新品-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/products")
    page.click("#new-product summary")
    page.fill("#product-form input[name=title]", title)
    page.fill("#product-form textarea[name=skus]", "19.9 100 规格:250克\n35 40 规格:500克")
    page.click("#product-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products")
    rows = page.locator("#product-rows tr", has_text=title)
    assert rows.count() == 2

    listed = requests.get(f"{console_url}/products", params={"limit": 100}, timeout=10).json()["items"]
    [product] = [p for p in listed if p["title"] == title]
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert sorted((s["price"], s["spec"]["规格"]) for s in shown["skus"]) == [(1990, "250克"), (3500, "500克")]

    page.click("#new-product summary")  # a price that is not one: refused, nothing made
    page.fill("#product-form input[name=title]", title + "-bad")
    page.fill("#product-form textarea[name=skus]", "abc 1")
    with page.expect_response(f"{console_url}/console/products") as answer:
        page.click("#product-form button[type=submit]")
    assert answer.value.status == 400
    listed = requests.get(f"{console_url}/products", params={"limit": 100}, timeout=10).json()["items"]
    assert not [p for p in listed if p["title"] == title + "-bad"]
