"""核销 in Chromium, at a laptop's width and a phone's: a store's clerk signs in, lands on
their store, opens 核销 from the sidebar, types the code the shopper shows and sees the
order's lines handed over; the same code again is refused in Chinese; the store's
pickup list no longer holds it. Every page as wide as the screen."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.test_console import sign_in
from tests.browser.test_console_stores import fits
from tests.helpers import body, create_product, login, post
from tests.integration.test_payments import pay_through_notification

pytestmark = pytest.mark.integration


def test_a_clerk_redeems_a_code_once(browser_page, console_url, client, admin_headers, shop):
    page = browser_page
    tag = uuid.uuid4().hex[:6]
    clerk = f"clerk{tag}"
    assert post(client, "/admin/operators", {"name": clerk, "password": "门店密码-123456", "role": "store"},
                admin_headers).status_code == 201
    store = body(post(client, "/admin/stores", {"name": f"核销店{tag}", "address": "杭州市西湖区 1 号",
                                                "location": {"lat": 30.25, "lng": 120.15}, "phone": "0571-8888 8888",
                                                "hours": "9:00-21:00", "pickup": True}, admin_headers))
    assert post(client, f"/admin/stores/{store['id']}/staff", {"operator_id": clerk}, admin_headers).status_code == 201
    product = create_product(client, admin_headers, price=2590, stock=5, title=f"自提茶{tag}")
    shopper = login(client)
    r = post(client, "/orders", {"items": [{"sku_id": product["skus"][0]["id"], "quantity": 2}],
                                 "delivery": {"kind": "pickup", "store_id": store["id"]}}, shopper)
    assert r.status_code == 201, r.body
    order = body(r)
    pay_through_notification(client, shop["sandbox"], order["id"])
    code = body(client.http.get(f"/orders/{order['id']}", headers=shopper))["pickup"]["code"]

    sign_in(page, console_url, clerk, "门店密码-123456", f"/console/stores/{store['id']}")
    assert page.locator(f"nav.side a[href='/console/stores/{store['id']}/redeem']").count() == 1  # 核销 in the sidebar
    page.goto(f"{console_url}/console/stores/{store['id']}/pickup")
    page.wait_for_load_state("networkidle")
    row = page.locator(f"#pickup-orders tr[data-order='{order['id']}']")
    assert row.count() == 1 and code not in row.inner_text() and code[-4:] in row.inner_text()
    assert fits(page)

    page.goto(f"{console_url}/console/stores/{store['id']}/redeem")
    assert page.locator("[data-scan-target]").is_hidden() or page.evaluate("() => 'BarcodeDetector' in window")
    page.fill("#redeem-code", code[:4] + " " + code[4:8] + " " + code[8:])  # as read aloud, in groups
    page.click("#redeem-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    result = page.locator("#redeem-result")
    assert "核销成功" in result.inner_text() and f"自提茶{tag}" in result.inner_text() and "2 件" in result.inner_text()
    assert code not in page.inner_text("body")  # masked even for the clerk who typed it
    assert fits(page)

    page.fill("#redeem-code", code)
    page.click("#redeem-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已核销" in page.inner_text("#error-message")
    page.goto(f"{console_url}/console/stores/{store['id']}/pickup")
    assert page.locator(f"#pickup-orders tr[data-order='{order['id']}']").count() == 0
    assert fits(page)
    page.context.clear_cookies()
