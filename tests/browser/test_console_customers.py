"""客户 and 标签 in Chromium at a laptop's and a phone's width: an owner finds a customer by
the last four digits of their phone and sees the number whole, opens their page, ticks a
manual tag and finds them by it; a rule tag is created with its rule in yuan; an operator
sees the number masked. Nothing is wider than the screen."""

from __future__ import annotations

import random
import uuid

import pytest

from tests.browser.test_console import owner_signs_in, sign_in
from tests.helpers import login, post

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def test_an_owner_finds_a_customer_by_phone_tags_them_and_an_operator_sees_the_number_masked(
        browser_page, console_url, client, shop):
    from functions import wiring
    from layers.services.operators import Session

    page = browser_page
    number = "135" + "".join(random.choice("0123456789") for _ in range(8))
    shopper = login(client)
    user = shopper["X-User-Id"]
    assert post(client, "/me/phone", {"code": shop["sandbox"].mp.phone_code(number)}, shopper).status_code == 200

    owner_signs_in(page, console_url, "/console/tags")
    tag = f"熟客{uuid.uuid4().hex[:4]}"
    page.fill("#tag-form input[name=name]", tag)
    page.click("#tag-form button[type=submit]")
    page.wait_for_selector(f"#tags tr[data-tag='{tag}']")
    rule_tag = f"大客户{uuid.uuid4().hex[:4]}"
    page.fill("#tag-form input[name=name]", rule_tag)
    page.select_option("#tag-form select[name=kind]", "rule")
    page.fill("#tag-form input[name=min_spent]", "1000")
    page.click("#tag-form button[type=submit]")
    page.wait_for_selector(f"#tags tr[data-tag='{rule_tag}']")
    assert "消费至少(元):¥1000.00" in page.inner_text(f"#tags tr[data-tag='{rule_tag}']")
    assert fits(page)

    page.goto(f"{console_url}/console/customers")
    page.fill("#customer-filters input[name=q]", number[-4:])
    page.click("#customer-filters button[type=submit]")
    row = page.locator(f"#customers tr[data-user='{user}']")
    row.wait_for()
    assert number in row.inner_text()  # an owner sees it whole
    assert fits(page)
    row.locator("a").click()
    page.wait_for_url(f"{console_url}/console/customers/{user}")
    assert page.inner_text("#customer-phone") == number and page.inner_text("#customer-segment") == "未下单客户"
    page.locator(f"#tags-form input[value='{tag}']").check()
    page.click("#tags-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/customers/{user}")
    assert page.locator(f"#tags-form input[value='{tag}']").is_checked()
    assert fits(page)

    page.goto(f"{console_url}/console/customers")
    page.select_option("#customer-filters select[name=tag]", tag)
    page.click("#customer-filters button[type=submit]")
    page.locator(f"#customers tr[data-user='{user}']").wait_for()

    name = "op" + uuid.uuid4().hex[:8]
    wiring.operators().create(Session("owner", "owner"), name, "correct horse 21", "operator")
    page.context.clear_cookies()
    sign_in(page, console_url, name, "correct horse 21", f"/console/customers/{user}")
    masked = f"{number[:3]}****{number[-4:]}"
    assert page.inner_text("#customer-phone") == masked
    assert number not in page.content()
