"""Distributors, tiers, managers and the settlement pages in the console."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import pick_shopper, shopper_with_phone, wait_until
from tests.browser.test_console import owner_signs_in
from tests.helpers import login

pytestmark = pytest.mark.integration


def test_a_tier_template_a_manager_and_a_distributor_made_in_the_console(browser_page, console_url, client,
                                                                        admin_headers, shop):
    page = browser_page
    (buyer, phone), (boss, boss_phone) = shopper_with_phone(client, admin_headers), shopper_with_phone(client, admin_headers, "王五")
    shopper, manager = buyer["X-User-Id"], boss["X-User-Id"]
    name = "方案" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/tiers")

    page.fill("#template-form input[name=name]", name)
    page.fill("#template-form textarea[name=tiers]", "普通 5\n银牌 8.5 10 1000")
    page.click("#template-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/tiers")
    row = page.locator("#templates tr", has_text=name)
    text = row.inner_text()
    assert "普通 5.00%" in text and "银牌 8.50%" in text and "满 10 笔" in text and "满 ¥1000.00" in text
    template_id = row.get_attribute("data-template")

    page.goto(f"{console_url}/console/managers")
    pick_shopper(page, "#manager-form", "user_id", boss_phone, manager)
    page.fill("#manager-form input[name=name]", "王经理")
    page.click("#manager-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/managers")
    assert "王经理" in page.locator(f"tr[data-manager='{manager}']").inner_text()

    page.goto(f"{console_url}/console/distributors")
    pick_shopper(page, "#distributor-form", "user_id", phone, shopper)
    page.select_option("#distributor-form select[name=template_id]", template_id)
    pick_shopper(page, "#distributor-form", "manager_id", boss_phone, manager)
    page.click("#distributor-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/distributors")
    row = page.locator(f"tr[data-distributor='{shopper}']")  # newest first
    assert "普通" in row.inner_text() and "5.00%" in row.inner_text()
    from functions import wiring

    stored = wiring.distribution().get_distributor(shopper)
    assert (stored["template_id"], stored["manager_id"]) == (template_id, manager)

    row.locator("a.manager").click()  # the manager's distributors
    page.wait_for_url(f"{console_url}/console/managers/{manager}")
    assert page.inner_text("#manager-id") == manager and "王经理" in page.inner_text("h1")
    assert page.locator(f"#distributor-rows tr[data-distributor='{shopper}']").count() == 1


def test_bad_distributor_and_tier_input_is_a_chinese_4xx_and_changes_nothing(browser_page, console_url, client,
                                                                             shop):
    page = browser_page
    owner_signs_in(page, console_url, "/console/distributors")
    ghost = "u_" + uuid.uuid4().hex[:24]
    # a user id the picker never offers (a forged form) is refused
    page.eval_on_selector("#distributor-form select[name=user_id]",
                          "(el, ghost) => { el.innerHTML = ''; el.add(new Option('ghost', ghost, true, true)); }", ghost)
    with page.expect_response(f"{console_url}/console/distributors") as answer:
        page.click("#distributor-form button[type=submit]")
    assert answer.value.status in (400, 404)
    assert answer.value.status == 404 and "没有这个用户" in page.inner_text("#error-message")
    from functions import wiring
    from layers.domain import errors

    with pytest.raises(errors.NotFound):
        wiring.distribution().get_distributor(ghost)

    page.goto(f"{console_url}/console/tiers")
    page.fill("#template-form input[name=name]", "坏方案")
    page.fill("#template-form textarea[name=tiers]", "普通 百分之五")
    with page.expect_response(f"{console_url}/console/tiers") as answer:
        page.click("#template-form button[type=submit]")
    assert answer.value.status == 400 and "佣金比例" in page.inner_text("#error-message")


def test_a_managers_distributors_page_with_more(browser_page, console_url, client, admin_headers, shop):
    from functions import schemas, wiring

    page = browser_page
    svc = wiring.distribution()
    template = svc.create_template(schemas.CommissionTemplateInput.model_validate(
        {"name": "团队方案", "tiers": [{"name": "普通", "rate_bps": 300}]}))
    manager = login(client)["X-User-Id"]
    members = [login(client)["X-User-Id"] for _ in range(23)]
    for user_id in members:
        svc.make_distributor(schemas.DistributorInput(user_id=user_id, template_id=template["id"],
                                                      manager_id=manager))
    owner_signs_in(page, console_url, "/console/managers")
    page.goto(f"{console_url}/console/managers/{manager}")
    rows = page.locator("#distributor-rows tr[data-distributor]")
    assert rows.count() == 20
    page.click("#more-distributors button")
    wait_until(lambda: rows.count() == 23)
    shown = {rows.nth(i).get_attribute("data-distributor") for i in range(23)}
    assert shown == set(members) and page.locator("#more-distributors").count() == 0


def test_the_settlement_page_pages_with_more(browser_page, console_url, client, admin_headers, shop, monkeypatch):
    from tests.browser.test_console_payouts import manual_payout

    page = browser_page
    first = manual_payout(client, admin_headers, shop, monkeypatch)
    second = manual_payout(client, admin_headers, shop, monkeypatch)
    owner_signs_in(page, console_url, "/console/payouts")
    page.goto(f"{console_url}/console/payouts?limit=1")
    sections = page.locator("section.batch")
    assert sections.count() == 1
    for _ in range(200):  # one batch a page: "more" until both show
        if all(page.locator(f"section[data-batch='{p.batch_id}']").count() for p in (first, second)):
            break
        before = sections.count()
        page.click("#more-batches button")
        wait_until(lambda before=before: sections.count() == before + 1)
    for p in (first, second):
        section = page.locator(f"section[data-batch='{p.batch_id}']")
        assert section.locator(f"tr[data-payout='{p.payout_id}'] .status").get_attribute("data-status") == "AWAITING_MANUAL"
    # a payout of a batch loaded by "more" is marked paid from there
    page.locator(f"tr[data-payout='{first.payout_id}'] button:text('标记已打款')").click()
    page.wait_for_url(f"{console_url}/console/payouts")
    from functions import wiring

    assert wiring.payout_repository().get(first.payout_id).status == "PAID_MANUALLY"
