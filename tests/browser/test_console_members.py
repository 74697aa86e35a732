"""A member in the console (issue 21): level, points and the balance with its entries."""

from __future__ import annotations

import pytest

from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def test_a_topped_up_member_shows_the_balance_and_its_entry(browser_page, console_url, client, admin_headers,
                                                           shop):
    from tests.integration.test_members import topped_up

    page = browser_page
    top_up, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=800)
    user_id = shopper["X-User-Id"]
    owner_signs_in(page, console_url, "/console/members")
    page.fill("input[name=user_id]", user_id)
    page.click("form.filters button")
    page.wait_for_selector("#membership")
    assert page.inner_text("#principal") == "¥100.00" and page.inner_text("#bonus") == "¥8.00"
    entries = page.inner_text("#balance-entries tbody")
    assert top_up["id"] in entries and "¥108.00" in entries
