"""A member in the console: level, points and the balance with its entries."""

from __future__ import annotations

import pytest

from tests.browser.conftest import pick_shopper
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def test_a_topped_up_member_shows_the_balance_and_its_entry(browser_page, console_url, client, admin_headers,
                                                           shop):
    from tests.integration.test_members import topped_up

    page = browser_page
    top_up, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=800)
    user_id = shopper["X-User-Id"]
    from tests.helpers import ADDRESS, body, create_product, order_payload, post

    sku_id = create_product(client, admin_headers, price=100, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id, address={**ADDRESS, "phone": "13712345678"}), shopper))
    owner_signs_in(page, console_url, "/console/members")
    pick_shopper(page, "#member-search", "user_id", order["id"], user_id)  # by an order number
    page.click("#member-search button[type=submit]")
    page.wait_for_selector("#membership")
    assert page.inner_text("#principal") == "¥100.00" and page.inner_text("#bonus") == "¥8.00"
    entries = page.inner_text("#balance-entries tbody")
    assert top_up["id"] in entries and "¥108.00" in entries


def adjust(page, book: str, amount: str, reason: str):
    page.select_option("#adjust-form select[name=book]", book)
    page.fill("#adjust-form input[name=amount]", amount)
    page.fill("#adjust-form input[name=reason]", reason)
    with page.expect_response(lambda r: r.url.endswith("/adjust")) as answer:
        page.click("#adjust-form button[type=submit]")
    return answer.value


def test_an_owner_adjusts_a_balance_up_and_down_and_below_zero_is_refused(browser_page, console_url, client,
                                                                         admin_headers, shop):
    from tests.integration.test_members import assert_books_equal_ledgers, book, topped_up

    page = browser_page
    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=0)
    user_id = shopper["X-User-Id"]
    owner_signs_in(page, console_url, "/console/members")
    page.goto(f"{console_url}/console/members?user_id={user_id}")

    assert adjust(page, "balance", "12.50", "补偿运费").status == 303
    page.wait_for_selector("#membership")
    assert page.inner_text("#principal") == "¥100.00" and page.inner_text("#bonus") == "¥12.50"
    row = page.locator("#balance-entries tr", has_text="补偿运费").inner_text()
    assert "店主调整" in row and "¥12.50" in row and "owner" in row

    assert adjust(page, "balance", "-20", "误充扣回").status == 303
    page.wait_for_selector("#membership")
    assert page.inner_text("#principal") == "¥92.50" and page.inner_text("#bonus") == "¥0.00"
    assert "¥-20.00" in page.locator("#balance-entries tr", has_text="误充扣回").inner_text()

    answer = adjust(page, "balance", "-92.51", "扣成负数")
    assert answer.status == 409
    assert "余额不足" in page.inner_text("#error-message")
    assert (book(user_id).principal, book(user_id).bonus) == (9250, 0)  # nothing changed
    assert_books_equal_ledgers(user_id)

    page.goto(f"{console_url}/console/members?user_id={user_id}")
    assert adjust(page, "points", "300", "活动奖励").status == 303
    page.wait_for_selector("#membership")
    assert page.inner_text("#points-available") == "300"
    assert "活动奖励" in page.inner_text("#points-entries")

    page.goto(f"{console_url}/console/operators")
    line = page.locator("#audit tr", has_text="误充扣回").filter(has_text=user_id).inner_text()
    assert "owner" in line and "调整余额" in line and user_id in line and "-2000" in line
    assert "调整积分" in page.locator("#audit tr", has_text="活动奖励").filter(has_text=user_id).inner_text()


def test_an_operator_sees_a_balance_but_cannot_adjust_it(browser_page, console_url, client, admin_headers, shop):
    import os
    import uuid

    import requests

    from tests.browser.test_console import sign_in
    from tests.integration.test_members import book, topped_up

    page = browser_page
    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=5000, bonus=0)
    user_id = shopper["X-User-Id"]
    name = "op" + uuid.uuid4().hex[:8]
    r = requests.post(f"{console_url}/admin/operators", timeout=10,
                      json={"name": name, "password": "correct horse 21", "role": "operator"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 201, r.text
    sign_in(page, console_url, name, "correct horse 21", "/console/members")
    page.goto(f"{console_url}/console/members?user_id={user_id}")
    assert page.inner_text("#principal") == "¥50.00"
    assert page.locator("#adjust-form").count() == 0 and page.locator("#adjust-owner-only").count() == 1
    token = page.eval_on_selector("header.top input[name=csrf]", "el => el.value")
    answer = page.request.post(f"{console_url}/console/members/{user_id}/adjust",
                               form={"csrf": token, "book": "balance", "amount": "50", "reason": "x",
                                     "adjust_id": "forged1"})
    assert answer.status == 403
    assert book(user_id).principal == 5000 and book(user_id).bonus == 0


def test_the_entries_page_with_more(browser_page, console_url, client, admin_headers, shop):
    from functions import wiring
    from tests.browser.conftest import wait_until
    from tests.integration.test_members import topped_up

    page = browser_page
    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=1000, bonus=0)
    user_id = shopper["X-User-Id"]
    for i in range(25):
        wiring.members().adjust(user_id, "points", 1, f"第{i}次", "owner", f"bulk{i:02d}")
    owner_signs_in(page, console_url, "/console/members")
    page.goto(f"{console_url}/console/members?user_id={user_id}")
    rows = page.locator("#points-entries tr[data-entry]")
    assert rows.count() == 20
    page.click("#more-points button")
    wait_until(lambda: rows.count() == 25)
    assert page.locator("#more-points").count() == 0
