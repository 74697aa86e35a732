"""Coupons and flash sales made in the console are what the mini-program API
shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from tests.browser.conftest import pick_sku
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration

BEIJING = timezone(timedelta(hours=8))


def local(dt: datetime) -> str:
    """What a datetime-local input holds, in Beijing time."""
    return dt.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def test_a_coupon_made_in_the_console_is_claimable_in_the_mini_program(browser_page, console_url, shop):
    page = browser_page
    now = datetime.now(UTC)
    name = "满50减10-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/coupons")
    form = page.locator("#coupon-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=value]").fill("10")
    form.locator("input[name=threshold]").fill("50")
    form.locator("input[name=claim_starts_at]").fill(local(now - timedelta(hours=1)))
    form.locator("input[name=claim_ends_at]").fill(local(now + timedelta(days=1)))
    form.locator("input[name=total]").fill("100")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/coupons")
    row = page.locator("#coupons tr", has_text=name)
    assert "¥10.00" in row.inner_text() and "¥50.00" in row.inner_text() and "0/100" in row.inner_text()

    claimable, cursor = [], None
    for _ in range(50):
        answer = requests.get(f"{console_url}/coupons", params={"limit": 100, **({"cursor": cursor} if cursor else {})},
                              timeout=10).json()
        claimable += answer["items"]
        cursor = answer["next_cursor"]
        if not cursor:
            break
    [mine] = [t for t in claimable if t["name"] == name]
    assert (mine["kind"], mine["value"], mine["threshold"], mine["total"]) == ("fixed", 1000, 5000, 100)


def test_a_flash_sale_made_in_the_console_is_shown_by_the_mini_program_api(browser_page, console_url, client,
                                                                           admin_headers, shop):
    from tests.helpers import create_product

    page = browser_page
    title = "秒杀-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, price=5000, stock=50, title=title)
    now = datetime.now(UTC)
    owner_signs_in(page, console_url, "/console/flash-sales")
    form = page.locator("#sale-form")
    pick_sku(page, "#sale-form", title, product["skus"][0]["id"])
    form.locator("input[name=price]").fill("19.9")
    form.locator("input[name=stock]").fill("20")
    form.locator("input[name=starts_at]").fill(local(now - timedelta(minutes=5)))
    form.locator("input[name=ends_at]").fill(local(now + timedelta(hours=2)))
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/flash-sales")
    row = page.locator("#sales tr", has_text=title)
    sale_id = row.get_attribute("data-sale")
    assert "¥19.90" in row.inner_text()

    sale = requests.get(f"{console_url}/flash-sales/{sale_id}", timeout=10).json()
    assert (sale["sku_id"], sale["price"], sale["stock"], sale["status"]) == (product["skus"][0]["id"], 1990, 20,
                                                                              "ACTIVE")

    page.locator("#sales tr", has_text=title).locator("button:text('停止')").click()
    page.wait_for_url(f"{console_url}/console/flash-sales")
    assert requests.get(f"{console_url}/flash-sales/{sale_id}", timeout=10).json()["status"] == "STOPPED"
