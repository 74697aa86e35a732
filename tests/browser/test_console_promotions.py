"""Group buys, bargains and assistance campaigns made in the console are what
the mini-program API shows; an activity's open groups show their seats and expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.browser.conftest import pick_sku
from tests.browser.test_console import owner_signs_in
from tests.browser.test_console_campaigns import local
from tests.browser.test_console_pages import bj

pytestmark = pytest.mark.integration


def _window(form, now: datetime) -> None:
    form.locator("input[name=starts_at]").fill(local(now - timedelta(minutes=5)))
    form.locator("input[name=ends_at]").fill(local(now + timedelta(days=1)))


def test_a_group_buy_made_in_the_console_is_in_the_mini_program_and_its_open_groups_show_seats(
        browser_page, console_url, client, admin_headers, shop, artifacts):
    from tests.helpers import body, create_product, login, post
    from tests.integration.test_group_buys import pay

    page = browser_page
    title = "拼团-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, price=5000, stock=50, title=title)
    owner_signs_in(page, console_url, "/console/group-buys")
    form = page.locator("#group-buy-form")
    pick_sku(page, "#group-buy-form", title, product["skus"][0]["id"])
    form.locator("input[name=price]").fill("19.9")
    form.locator("input[name=group_size]").fill("2")
    form.locator("input[name=group_ttl_m]").fill("30")
    _window(form, datetime.now(UTC))
    form.locator("input[name=stock]").fill("10")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/group-buys")
    row = page.locator("#group-buys tr", has_text=title)
    activity_id = row.get_attribute("data-group-buy")
    assert "¥19.90" in row.inner_text() and "10/10" in row.inner_text() and "30 分钟" in row.inner_text()

    activity = requests.get(f"{console_url}/group-buys/{activity_id}", timeout=10).json()
    assert (activity["sku_id"], activity["price"], activity["group_size"], activity["group_ttl_s"],
            activity["remaining"]) == (product["skus"][0]["id"], 1990, 2, 1800, 10)

    from tests.helpers import ADDRESS

    opened = post(client, f"/group-buys/{activity_id}/groups", {"address": ADDRESS}, login(client))
    assert opened.status_code == 201, opened.body
    paid_group = body(opened)["group_id"]
    pay(client, shop["sandbox"], body(opened)["id"])
    pending = post(client, f"/group-buys/{activity_id}/groups", {"address": ADDRESS}, login(client))
    assert pending.status_code == 201, pending.body
    group = requests.get(f"{console_url}/groups/{paid_group}", timeout=10).json()
    assert (group["status"], group["seats_left"]) == ("OPEN", 1)

    row.locator("a").click()
    page.wait_for_url(f"{console_url}/console/group-buys/{activity_id}")
    open_row = page.locator(f"#groups tr[data-group='{paid_group}']")
    assert open_row.locator(".status").inner_text() == "拼团中"
    assert open_row.locator(".seats").inner_text() == "1/2" and open_row.locator(".paid").inner_text() == "1"
    assert open_row.locator(".expires").inner_text() == bj(group["expires_at"])  # Beijing time
    waiting = page.locator(f"#groups tr[data-group='{body(pending)['group_id']}']")
    assert waiting.locator(".status").inner_text() == "待开团" and waiting.locator(".seats").inner_text() == "1/2"
    assert "剩余 8/10" in page.inner_text("#activity")
    page.screenshot(path=str(artifacts / "console-group-buy.png"), full_page=True)

    joined = post(client, f"/groups/{paid_group}/orders", {"address": ADDRESS}, login(client))  # the last seat
    pay(client, shop["sandbox"], body(joined)["id"])
    assert requests.get(f"{console_url}/groups/{paid_group}", timeout=10).json()["status"] == "SUCCEEDED"
    page.reload()
    done = page.locator(f"#groups tr[data-group='{paid_group}']")  # succeeded: listed, to be shipped
    assert done.locator(".status").inner_text() == "已成团" and done.locator(".paid").inner_text() == "2"


def test_a_bargain_made_in_the_console_is_in_the_mini_program_api(browser_page, console_url, client,
                                                                  admin_headers, shop):
    from tests.helpers import body, create_product, login, post

    page = browser_page
    title = "砍价-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, price=10000, stock=50, title=title)
    sku_id = product["skus"][0]["id"]
    owner_signs_in(page, console_url, "/console/bargains")
    assert page.locator("nav.side a[href='/console/bargains']").count() == 1

    form = page.locator("#bargain-form")  # a floor above the price: refused, nothing made
    pick_sku(page, "#bargain-form", title, sku_id)
    form.locator("input[name=floor_price]").fill("120")
    _window(form, datetime.now(UTC))
    form.locator("input[name=stock]").fill("5")
    with page.expect_response(f"{console_url}/console/bargains") as answer:
        form.locator("button[type=submit]").click()
    assert 400 <= answer.value.status < 500
    page.goto(f"{console_url}/console/bargains")
    assert page.locator("#bargains tr", has_text=title).count() == 0

    form = page.locator("#bargain-form")
    pick_sku(page, "#bargain-form", title, sku_id)
    form.locator("input[name=floor_price]").fill("50")
    form.locator("input[name=helpers_needed]").fill("3")
    form.locator("input[name=ttl_m]").fill("60")
    _window(form, datetime.now(UTC))
    form.locator("input[name=stock]").fill("5")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/bargains")
    row = page.locator("#bargains tr", has_text=title)
    bargain_id = row.get_attribute("data-bargain")
    assert "¥100.00" in row.inner_text() and "¥50.00" in row.inner_text() and "5/5" in row.inner_text()

    bargain = requests.get(f"{console_url}/bargains/{bargain_id}", timeout=10).json()
    assert (bargain["sku_id"], bargain["start_price"], bargain["floor_price"], bargain["helpers_needed"],
            bargain["ttl_s"], bargain["remaining"]) == (sku_id, 10000, 5000, 3, 3600, 5)
    started = post(client, f"/bargains/{bargain_id}/instances", {}, login(client))
    assert started.status_code == 201, started.body
    assert (body(started)["price_now"], body(started)["status"]) == (10000, "ACTIVE")


def test_an_assistance_campaign_made_in_the_console_is_in_the_mini_program_api(browser_page, console_url, client,
                                                                               admin_headers, shop):
    from tests.helpers import body, login, post

    page = browser_page
    now = datetime.now(UTC)
    template = body(post(client, "/admin/coupons", {
        "name": "助力券", "kind": "fixed", "value": 500, "threshold": 0,
        "claim_starts_at": (now - timedelta(minutes=1)).isoformat(),
        "claim_ends_at": (now + timedelta(days=1)).isoformat(), "valid_days": 30, "total": 100,
        "per_user_limit": 5}, admin_headers))
    name = "集赞-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/assist-campaigns")
    form = page.locator("#assist-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=helpers_needed]").fill("2")
    form.locator("input[name=reward_coupon_template_id]").fill(template["id"])
    form.locator("input[name=ttl_m]").fill("120")
    _window(form, now)
    form.locator("input[name=per_user_limit]").fill("2")
    form.locator("input[name=new_users_only]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/assist-campaigns")
    row = page.locator("#campaigns tr", has_text=name)
    campaign_id = row.get_attribute("data-campaign")
    assert template["id"] in row.inner_text() and "120 分钟" in row.inner_text() and "是" in row.inner_text()

    campaign = requests.get(f"{console_url}/assist-campaigns/{campaign_id}", timeout=10).json()
    assert (campaign["name"], campaign["helpers_needed"], campaign["reward_coupon_template_id"], campaign["ttl_s"],
            campaign["per_user_limit"], campaign["new_users_only"]) == (name, 2, template["id"], 7200, 2, True)
    started = post(client, f"/assist-campaigns/{campaign_id}/instances", {}, login(client))
    assert started.status_code == 201, started.body
    assert (body(started)["helpers_needed"], body(started)["status"]) == (2, "ACTIVE")

    form = page.locator("#assist-form")  # no such coupon: 404 page, nothing made
    form.locator("input[name=name]").fill(name + "-bad")
    form.locator("input[name=reward_coupon_template_id]").fill("ct_missing")
    _window(form, now)
    with page.expect_response(f"{console_url}/console/assist-campaigns") as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 404
    page.goto(f"{console_url}/console/assist-campaigns")
    assert page.locator("#campaigns tr", has_text=name + "-bad").count() == 0


def test_a_group_buy_stopped_in_the_console_opens_no_group_in_the_mini_program(browser_page, console_url, client,
                                                                               admin_headers, shop):
    from tests.helpers import ADDRESS, body, login, post
    from tests.integration.test_group_buys import new_activity

    page = browser_page
    activity = new_activity(client, admin_headers, group_size=2)
    owner_signs_in(page, console_url, "/console/group-buys")
    row = page.locator(f"#group-buys tr[data-group-buy='{activity['id']}']")
    assert row.locator(".status").inner_text() == "进行中"
    row.locator("button:text('停止')").click()
    page.wait_for_url(f"{console_url}/console/group-buys")
    row = page.locator(f"#group-buys tr[data-group-buy='{activity['id']}']")
    assert row.locator(".status").inner_text() == "已停止" and row.locator("button").count() == 0

    assert requests.get(f"{console_url}/group-buys/{activity['id']}", timeout=10).json()["stopped_at"]
    refused = post(client, f"/group-buys/{activity['id']}/groups", {"address": ADDRESS}, login(client))
    assert refused.status_code == 422, refused.body
    assert body(refused)["error"]["code"] == "ENDED"
    page.goto(f"{console_url}/console/operators")
    assert "停止拼团" in page.locator("#audit tr", has_text=activity["id"]).first.inner_text()
