"""One guide's page in Chromium, at a laptop's width and a phone's: from the distributors
list to the guide, their figures, and their customers a page at a time (htmx loads the
next rows): masked phones, Beijing times, yuan, a customer who moved to another guide
shown as ended, and the orders and spending through the guide."""

from __future__ import annotations

import pytest

from tests.browser.test_console import owner_signs_in
from tests.helpers import create_product, login
from tests.integration.test_distribution import new_distributor, new_template, share, uid, visit
from tests.integration.test_guide_customers import (
    _drain_analytics_queue,
    _paid,
    _through_the_consumers,
)
from tests.integration.test_payments import drain_events_queue

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def test_a_guides_page_shows_their_figures_and_customers(browser_page, console_url, client, admin_headers, shop,
                                                          monkeypatch):
    from functions import wiring
    from functions.console import guides

    monkeypatch.setattr(guides, "PAGE", 2)  # three customers: two pages
    page = browser_page
    template = new_template(client, admin_headers)
    guide, other = new_distributor(client, admin_headers, template), new_distributor(client, admin_headers, template)
    sku = create_product(client, admin_headers, price=12_345, stock=20)["skus"][0]["id"]
    buyer, moved, quiet = login(client), login(client), login(client)
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    token = share(client, guide)
    for c in (quiet, moved, buyer):
        assert visit(client, c, token).status_code == 204
    order = _paid(client, shop, buyer, sku, 2)
    _through_the_consumers(shop, {order["id"]})
    assert visit(client, moved, share(client, other)).status_code == 204
    wiring.customer_repository().set_phone(uid(buyer), "13912345678", "139****5678")

    owner_signs_in(page, console_url, "/console/distributors")
    page.locator(f"tr[data-distributor='{uid(guide)}'] a.guide").click()
    page.wait_for_url(f"{console_url}/console/distributors/{uid(guide)}")
    assert page.inner_text("#guide-id") == uid(guide)
    assert "1 笔" in page.inner_text("#guide-sales")
    assert page.inner_text("#guide-customer-count").startswith("2")  # bound now: the buyer and the quiet one
    assert page.locator("#guide-customer-rows tr[data-customer]").count() == 2
    page.click("#more-guide-customers button")
    rows = page.locator("#guide-customer-rows tr[data-customer]")
    rows.nth(2).wait_for()
    assert rows.count() == 3 and page.locator("#more-guide-customers").count() == 0

    row = page.locator(f"tr[data-customer='{uid(buyer)}']")
    assert row.locator(".phone").inner_text() == "139****5678" and "13912345678" not in page.content()
    paid = order["amounts"]["payable"] - order["amounts"]["shipping"]
    assert row.locator(".orders").inner_text() == "1"
    assert row.locator(".spent").inner_text() == f"¥{paid // 100}.{paid % 100:02d}"
    assert row.locator(".bound").inner_text() == "绑定中"
    ended = page.locator(f"tr[data-customer='{uid(moved)}']")
    assert ended.locator(".bound").inner_text() == "已结束"
    expires = wiring.distributor_repository().get_binding(uid(moved)).bound_at  # ended when they moved
    from functions.console._kit import beijing

    assert ended.locator(".expires").inner_text() == beijing(expires)
    assert fits(page), page.width_name
    from tests.browser.conftest import SCREENSHOTS

    (SCREENSHOTS / page.width_name).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / page.width_name / "guide-customers.png"), full_page=True)
