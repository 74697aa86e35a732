"""活动复盘 in Chromium, at a laptop's width and a phone's: a group buy with orders through
two channels and none, some paid, through both consumers; its review is reached from the
拼团 list, shows the figures with their units (元, 人, 单, 个) and a chart and table of
the orders by channel, fits the screen; an unknown campaign is the error page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def test_a_group_buys_review_is_reached_from_its_list_and_reads_on_a_laptop_and_a_phone(
        browser_page, console_url, client, admin_headers, shop):
    from functions import wiring
    from tests.integration.test_analytics_api import _drain_analytics_queue
    from tests.integration.test_campaign_reviews import _group_input, _pipeline
    from tests.integration.test_group_buys import new_activity, new_user
    from tests.integration.test_payments import drain_events_queue, pay_through_notification

    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    activity = new_activity(client, admin_headers, group_size=3)
    leader = wiring.group_buys().open(new_user(), activity["id"], _group_input("moments"), None)
    pay_through_notification(client, shop["sandbox"], leader["id"])
    wiring.group_buys().on_order_paid(f"order.paid:{leader['id']}", {"order_id": leader["id"]})
    member = wiring.group_buys().join(new_user(), leader["group_id"], _group_input(None), None)
    wiring.group_buys().join(new_user(), leader["group_id"], _group_input("poster_a"), None)
    pay_through_notification(client, shop["sandbox"], member["id"])
    _pipeline(shop)

    page = browser_page
    owner_signs_in(page, console_url, "/console/group-buys")
    row = page.locator(f"tr[data-group-buy='{activity['id']}']")
    row.locator("a.review").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/console/campaigns/group_buy/{activity['id']}/review")
    tiles = {t.get_attribute("data-figure"): t.inner_text() for t in page.locator(".tile").all()}
    assert "3 单" in tiles["orders"] and "2 单" in tiles["paid_orders"] and "3 人" in tiles["participants"]
    assert tiles["gmv"].endswith("¥398.00") and "¥¥" not in tiles["gmv"]
    assert "1 个" in tiles["groups_opened"] and "0 个" in tiles["groups_failed"]
    assert "bargains_started" not in tiles
    assert page.locator("#channel-chart").get_attribute("data-drawn") == "true"
    rows = page.locator("#channels tbody tr")
    assert rows.count() == 3
    assert "无渠道(直接进入)" in page.inner_text("#channels") and "moments" in page.inner_text("#channels")
    assert "北京时间" in page.inner_text("main")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1
    folder = SCREENSHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "campaign-review.png"), full_page=True)

    answer = page.goto(f"{console_url}/console/campaigns/group_buy/nope/review")
    assert answer.status == 404
    answer = page.goto(f"{console_url}/console/campaigns/raffle/{activity['id']}/review")
    assert answer.status == 404
