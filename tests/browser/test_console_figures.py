"""数据 in Chromium, at a laptop's width and a phone's: the channels page (a range of
Beijing days, its chart of gmv and visitors, the table in yuan) and the product,
distributor and coupon rankings, each a chart above its table, all through the real
pipeline (a visit through a channel and a guide's share, an order paid through WeChat
Pay's notification, the events and facts consumed)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.browser.test_console import owner_signs_in
from tests.helpers import create_product, login, order_payload, post
from tests.integration.test_distribution import new_distributor, share

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def _a_day_through_a_channel(client, admin_headers, shop) -> dict:
    from functions import wiring
    from functions.analytics import consume_batch
    from layers.events import handle_event_batch
    from tests.helpers import body
    from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
    from tests.integration.test_payments import drain_events_queue, pay_through_notification

    tag = uuid.uuid4().hex[:6]
    channel = f"poster-{tag}"
    product = create_product(client, admin_headers, price=12_345, stock=5, title=f"渠道茶-{tag}")
    guide = new_distributor(client, admin_headers)
    token = share(client, guide)
    shopper = login(client)
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    visit = {"path": "pages/index/index", "scene": 1011, "channel": channel, "share_token": token}
    assert post(client, "/visits", visit, shopper).status_code == 204
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"], quantity=2), shopper))
    assert order["channel"] == channel
    pay_through_notification(client, shop["sandbox"], order["id"])
    events = [json.dumps(m) for m in drain_events_queue(shop["sqs"])
              if m["payload"].get("order_id") == order["id"] or m["payload"].get("visitor_id") == shopper["X-User-Id"]]
    assert handle_event_batch(_sqs_event(events), wiring.event_handlers()) == {"batchItemFailures": []}
    facts = _drain_analytics_queue(shop["sqs"])
    for n in range(0, len(facts), 10):
        assert consume_batch(_sqs_event(facts[n:n + 10])) == {"batchItemFailures": []}
    stored = wiring.order_repository().get(order["id"], consistent=True)
    return {"channel": channel, "paid": stored.paid, "product_id": product["id"], "title": product["title"]}


def test_the_channels_page_and_the_rankings_draw_their_charts(browser_page, console_url, client, admin_headers,
                                                               shop):
    from functions.console._kit import yuan_plain

    page = browser_page
    day = _a_day_through_a_channel(client, admin_headers, shop)
    owner_signs_in(page, console_url, "/console/channels")
    if page.width_name == "phone":
        page.click("label.menu-button")
    page.click("nav.side a[href='/console/channels']")
    page.wait_for_url(f"{console_url}/console/channels")
    assert page.locator("nav.side a.active").inner_text() == "渠道"
    page.wait_for_selector("#channels-chart[data-drawn=true] canvas")
    row = page.locator(f"#channels tr[data-channel='{day['channel']}'] td")
    cells = [text.strip().splitlines()[-1] for text in row.all_inner_texts()]
    assert cells == [day["channel"], "1", "1", "1", yuan_plain(day["paid"])]
    if page.width_name == "phone":  # a card: each value under its column's name
        assert row.nth(4).get_attribute("data-label") == "成交额(元)"
        assert yuan_plain(day["paid"]) in row.nth(4).inner_text()
    assert fits(page)

    # the period picker: one day, then a range that is not one day or month
    today = page.input_value("#period-form input[name=to]")
    page.fill("#period-form input[name=from]", today)
    page.click("#period-form button[type=submit]")
    page.wait_for_url(f"**/console/channels?from={today}&to={today}")
    assert "按这段时间去重" in page.inner_text("main")
    page.goto(f"{console_url}/console/channels?from={today}&to=2020-01-01")
    assert "日期范围不对" in page.inner_text("body")

    page.goto(f"{console_url}/console/product-ranking")
    page.wait_for_selector("#products-chart[data-drawn=true] canvas")
    assert day["title"] in page.locator(f"#products tr[data-product='{day['product_id']}']").inner_text()
    assert fits(page)

    page.goto(f"{console_url}/console/distributor-ranking")
    page.wait_for_selector("#distributors-chart[data-drawn=true] canvas")
    assert page.locator("#distributors tbody tr").count() >= 1
    assert fits(page)

    page.goto(f"{console_url}/console/coupon-ranking")
    page.wait_for_load_state("networkidle")
    if page.locator("#coupons tr[data-template]").count():
        page.wait_for_selector("#coupons-chart[data-drawn=true] canvas")
    assert "优惠券效果" in page.inner_text("h1")
    assert fits(page)
