"""Every console page as a shop manager sees it, at a laptop's width and a phone's: a
screenshot of each (build/screenshots/<width>/, kept as the run's artifacts), and what
the page says read as a person reads it: no UTC time in ISO form, no setting or status
named by its code, nothing wider than the screen."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")
# Code names where a label belongs: the settings' own names, and the statuses' codes.
CODE_NAMES = re.compile(r"\b(?:[a-z]+_){1,4}(?:s|fen|bps|yuan|mode|name|ttl|threshold|fee|authorization|timeout)\b"
                        r"|\b(?:PENDING_PAYMENT|PAID|SHIPPED|REFUNDING|AWAITING_MANUAL|PAID_MANUALLY|ACTIVE|STOPPED"
                        r"|SUCCEEDED|REQUESTED|PROCESSING|True|False)\b")


def bj(value: str) -> str:
    """An RFC 3339 time as the console shows it: Beijing time to the minute."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def _admin():
    import os

    return {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}


@pytest.fixture
def a_shop_with_something_on_every_page(client, admin_headers, shop, console_url):
    """An order paid today, a product, a coupon, a flash sale, a group buy, a bargain."""
    from tests.helpers import create_product
    from tests.integration.test_miniprogram_platform import paid_order

    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    product = create_product(client, admin_headers, price=2990, stock=40, title="页面-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ends_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    made = {}
    for path, payload in (
            ("/admin/group-buys", {"sku_id": sku_id, "price": 990, "group_size": 2, "group_ttl_s": 3600, "stock": 5,
                                   "per_user_limit": 1, **window}),
            ("/admin/bargains", {"sku_id": sku_id, "floor_price": 100, "helpers_needed": 3, "ttl_s": 3600, "stock": 5,
                                 "per_user_limit": 1, **window}),
            ("/admin/flash-sales", {"sku_id": sku_id, "price": 1990, "stock": 5, "per_user_limit": 1, **window}),
            ("/admin/coupons", {"name": "满100减10", "kind": "fixed", "value": 1000, "threshold": 10000,
                                "claim_starts_at": window["starts_at"], "claim_ends_at": window["ends_at"],
                                "valid_days": 7, "total": 100, "per_user_limit": 1})):
        r = requests.post(console_url + path, json=payload, headers=_admin(), timeout=10)
        if r.status_code == 404:  # a path of another name: the page is still visited, empty
            continue
        assert r.status_code == 201, (path, r.text)
        made[path] = r.json()
    grant_id = None
    coupon = made.get("/admin/coupons")
    if coupon:  # a coupon grant, run to its end (its page is the bar, no longer polling)
        r = requests.post(console_url + "/admin/coupon-grants", json={
            "template_id": coupon["id"], "user_ids": ["u_nobody_" + uuid.uuid4().hex[:8]], "note": "页面检查"},
            headers=_admin(), timeout=10)
        if r.status_code == 202:
            from functions import wiring

            grant_id = wiring.coupon_grants().run(r.json()["id"])["id"]
    # distributor applications: one waiting, one approved (a template and a manager by name)
    from tests.helpers import body, login, post
    from tests.integration.test_recruitment import apply

    template = body(post(client, "/admin/commission-templates",
                         {"name": "页面方案", "tiers": [{"name": "基础", "rate_bps": 500}]}, admin_headers))["id"]
    boss = login(client)
    assert post(client, "/admin/managers", {"user_id": boss["X-User-Id"], "name": "页面团长", "template_id": template},
                admin_headers).status_code == 201
    assert apply(client, login(client), name="页面申请", note="等待审核").status_code == 201
    approved = body(apply(client, login(client), name="页面通过"))
    r = post(client, f"/admin/distributor-applications/{approved['id']}/approve", {"manager_id": boss["X-User-Id"]},
             admin_headers)
    assert r.status_code == 200, r.body
    # a store with an operator and a guide (门店)
    store = body(post(client, "/admin/stores", {"name": "页面门店", "address": "上海市黄浦区人民大道 1 号",
                                                "location": {"lat": 31.2335, "lng": 121.4752}, "phone": "021-6321 1234",
                                                "hours": "10:00-22:00", "pickup": True}, admin_headers))
    assert post(client, f"/admin/stores/{store['id']}/staff", {"user_id": body(r)["user_id"]},
                admin_headers).status_code == 201
    return {"order_id": order_id, "product_id": product["id"], "store_id": store["id"],
            "group_buy_id": made.get("/admin/group-buys", {}).get("id"), "grant_id": grant_id}


def test_every_page_reads_as_a_manager_reads_it_on_a_laptop_and_a_phone(
        browser_page, console_url, a_shop_with_something_on_every_page):
    page = browser_page
    ids = a_shop_with_something_on_every_page
    owner_signs_in(page, console_url, "/console/dashboard")
    pages = ["/console/dashboard", "/console/orders", f"/console/orders/{ids['order_id']}", "/console/refunds",
             "/console/after-sales", "/console/products", f"/console/products/{ids['product_id']}", "/console/categories",
             "/console/freight-templates", "/console/freight-templates/new", "/console/coupons",
             "/console/flash-sales", "/console/group-buys", "/console/bargains", "/console/assist-campaigns",
             "/console/promotions", "/console/coupon-grants", "/console/links",
             "/console/distributors", "/console/distributor-applications",
             "/console/distributor-applications?status=APPROVED", "/console/tiers", "/console/managers",
             "/console/distribution-pool", "/console/guide-numbers",
             "/console/members",
             "/console/customers", "/console/tags",
             "/console/channels", "/console/product-ranking", "/console/distributor-ranking",
             "/console/coupon-ranking",
             "/console/stores", f"/console/stores/{ids['store_id']}", "/console/store-figures",
             "/console/pickup", f"/console/stores/{ids['store_id']}/pickup",
             f"/console/stores/{ids['store_id']}/redeem",
             "/console/payouts", "/console/settings", "/console/operators"]
    if ids["group_buy_id"]:
        pages.append(f"/console/group-buys/{ids['group_buy_id']}")
        pages.append(f"/console/campaigns/group_buy/{ids['group_buy_id']}/review")  # 活动复盘
    if ids["grant_id"]:
        pages.append(f"/console/coupon-grants/{ids['grant_id']}")
    # every page the sidebar offers is visited
    offered = {a.get_attribute("href") for a in page.locator("nav.side a").all()}
    assert offered <= set(pages), offered - set(pages)

    folder = SCREENSHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    problems = []
    for path in pages:
        answer = page.goto(console_url + path)
        assert answer.status == 200, (path, answer.status)
        page.wait_for_load_state("networkidle")
        name = path.strip("/").replace("/", "-").replace("console-", "").replace("?", "-").replace("=", "-") \
            or "console"
        if path.count("/") > 2:
            name = path.split("/")[2].rstrip("s") + "-detail"
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        text = page.inner_text("body")
        for pattern, what in ((ISO_TIME, "an ISO UTC time"), (CODE_NAMES, "a code name")):
            found = pattern.search(text)
            if found:
                problems.append(f"{path}: {what} {found.group(0)!r} in …{text[max(0, found.start() - 40):found.end() + 40]!r}")
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        if wide > width + 1:
            problems.append(f"{path}: {wide}px wide on a {width}px screen")
        if page.width_name == "phone":
            assert not page.locator("nav.side").is_visible()  # behind the menu button
    assert not problems, "\n".join(problems)


def test_on_a_phone_the_menu_opens_and_leads_to_every_area(browser_page, console_url, shop):
    page = browser_page
    owner_signs_in(page, console_url, "/console/orders")
    nav = page.locator("nav.side")
    if page.width_name == "phone":
        assert not nav.is_visible()
        page.click("label.menu-button")
    assert nav.is_visible()
    groups = [t.strip() for t in page.locator("nav.side .nav-title").all_inner_texts()]
    assert groups == ["订单", "商品", "营销", "分销", "会员与客户", "数据", "门店", "设置"]
    page.click("nav.side a[href='/console/coupons']")
    page.wait_for_url(f"{console_url}/console/coupons")
    assert page.locator("nav.side a.active").inner_text() == "优惠券"


def test_an_action_says_it_happened_once_and_a_money_action_asks_first(browser_page, console_url, client,
                                                                      admin_headers, shop):
    from tests.integration.test_miniprogram_platform import paid_order

    page = browser_page
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    assert page.locator("#flash").count() == 0
    page.fill("#refund-form input[name=amount]", "0.01")
    page.fill("#refund-form input[name=reason]", "测试确认")
    page.click("#refund-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    assert len(page.dialogs) == 1 and "确认退款" in page.dialogs[0] and "微信" in page.dialogs[0]
    assert page.inner_text("#flash") == "退款已提交"
    page.reload()
    assert page.locator("#flash").count() == 0  # said once

    # declined: nothing is sent
    from functions import wiring

    page.remove_listener("dialog", page.dialog_answer)

    before = len(wiring.refunds().for_order(order_id))
    page.once("dialog", lambda d: d.dismiss())
    page.fill("#refund-form input[name=amount]", "0.01")
    page.fill("#refund-form input[name=reason]", "不退了")
    page.click("#refund-form button[type=submit]")
    page.wait_for_timeout(500)
    assert len(wiring.refunds().for_order(order_id)) == before
