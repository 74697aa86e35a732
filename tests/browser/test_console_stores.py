"""门店 in Chromium, at a laptop's width and a phone's: the owner creates a store through the
form and edits it, places a store operator (the operator select) and a guide (the shopper
picker) in it, reads the month's figures as a chart; the store operator signs in, lands
on their own store with only its pages in the sidebar, and another store's page is not
theirs to see. Every page as wide as the screen."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import pick_shopper, shopper_with_phone
from tests.browser.test_console import owner_signs_in, sign_in

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def fill_store(page, name: str, lat: str = "31.2335", lng: str = "121.4752") -> None:
    form = page.locator("#store-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=address]").fill("上海市黄浦区人民大道 1 号")
    form.locator("input[name=lat]").fill(lat)
    form.locator("input[name=lng]").fill(lng)
    form.locator("input[name=phone]").fill("021-6321 1234")
    form.locator("input[name=hours]").fill("10:00-22:00")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def test_a_store_made_staffed_and_seen_by_its_own_staff_only(browser_page, console_url, client, admin_headers):
    from tests.helpers import body, post

    page = browser_page
    tag = uuid.uuid4().hex[:6]
    clerk = f"clerk{tag}"
    assert post(client, "/admin/operators", {"name": clerk, "password": "门店密码-123456", "role": "store"},
                admin_headers).status_code == 201
    shopper, phone = shopper_with_phone(client, admin_headers)
    template = body(post(client, "/admin/commission-templates",
                         {"name": "门店方案", "tiers": [{"name": "基础", "rate_bps": 500}]}, admin_headers))["id"]
    assert post(client, "/admin/distributors", {"user_id": shopper["X-User-Id"], "template_id": template},
                admin_headers).status_code == 201
    other = body(post(client, "/admin/stores", {"name": f"别家{tag}", "address": "北京", "location": {"lat": 39.9, "lng": 116.4},
                                                "phone": "010-1234 5678", "hours": "9:00-21:00", "pickup": False},
                      admin_headers))

    owner_signs_in(page, console_url, "/console/stores")
    assert page.locator("nav.side a[href='/console/stores']").count() == 1
    fill_store(page, f"人民广场{tag}")
    assert page.locator("#flash").inner_text() == "已创建" and page.locator("#store-name").inner_text() == f"人民广场{tag}"
    store_url = page.url
    fill_store(page, f"人民广场旗舰{tag}")
    assert page.locator("#flash").inner_text() == "已保存"
    assert page.locator("#store-name").inner_text() == f"人民广场旗舰{tag}"
    fill_store(page, "坐标错误", lat="91", lng="121")  # refused, in Chinese
    assert "经纬度不对" in page.inner_text("body")
    page.goto(store_url)

    page.select_option("#add-operator select[name=operator_id]", clerk)
    page.click("#add-operator button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#flash").inner_text() == "已加入门店"
    pick_shopper(page, "#add-guide", "user_id", phone, shopper["X-User-Id"])
    page.click("#add-guide button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator(f"#staff tr[data-staff='operator:{clerk}']").count() == 1
    assert page.locator(f"#staff tr[data-staff='guide:{shopper['X-User-Id']}']").count() == 1
    assert fits(page)

    page.goto(f"{console_url}/console/store-figures")
    page.wait_for_load_state("networkidle")
    assert page.locator("#store-figures-chart canvas").count() >= 1  # ECharts drew it
    assert page.locator(f"#store-figures tr:has-text('人民广场旗舰{tag}')").count() == 1
    assert fits(page)
    page.context.clear_cookies()

    sign_in(page, console_url, clerk, "门店密码-123456", store_url.removeprefix(console_url))
    page.goto(f"{console_url}/console/my-store")  # their home: their store
    page.wait_for_load_state("networkidle")
    assert page.url == store_url and page.locator("#store-name").inner_text() == f"人民广场旗舰{tag}"
    hrefs = {a.get_attribute("href") for a in page.locator("nav.side a").all()}
    mine = store_url.removeprefix(console_url)  # their store, its 核销 and its pickup orders: nothing else
    assert hrefs == {mine, f"{mine}/redeem", f"{mine}/pickup"}
    assert page.locator("#store-form").count() == 0 and page.locator("#add-operator").count() == 0
    assert fits(page)
    answer = page.goto(f"{console_url}/console/stores/{other['id']}")
    assert answer.status == 404 and f"别家{tag}" not in page.inner_text("body")
    page.goto(f"{console_url}/console/orders")
    assert page.url == store_url  # not their page: to their own store
