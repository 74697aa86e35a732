"""Payouts in the console: an owner marks a manual payout paid (audited) and
downloads the batch's CSV; an operator cannot open payouts."""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta

import pytest
import requests

from tests.browser.conftest import wait_until
from tests.browser.test_console import owner_signs_in, sign_in
from tests.helpers import put

pytestmark = pytest.mark.integration


def manual_payout(client, admin_headers, shop, monkeypatch):
    """A distributor's AWAITING_MANUAL payout in a manual settlement batch of a day of its own."""
    from layers import clock
    from tests.integration.test_settlement import payouts_of, settleable_commissions, settlement

    expected = settleable_commissions(client, admin_headers, shop, distributors=1)
    [d] = expected
    assert put(client, "/admin/settings", {"settlement_mode": "manual"}, admin_headers).status_code == 200
    try:
        target = clock.now() + timedelta(days=4000 + uuid.uuid4().int % 1000)
        monkeypatch.setattr(clock, "now", lambda: target)
        assert settlement().settle_commissions(inline=True)["mode"] == "manual"
    finally:
        put(client, "/admin/settings", {"settlement_mode": "auto"}, admin_headers)
    [payout] = payouts_of([d])[d]
    assert payout.status == "AWAITING_MANUAL"
    return payout


def test_an_owner_marks_a_manual_payout_paid_and_downloads_the_csv(browser_page, console_url, client,
                                                                   admin_headers, shop, monkeypatch):
    page = browser_page
    payout = manual_payout(client, admin_headers, shop, monkeypatch)
    owner_signs_in(page, console_url, "/console/payouts")
    row = page.locator(f"tr[data-payout='{payout.payout_id}']")
    assert row.locator(".status").get_attribute("data-status") == "AWAITING_MANUAL"

    with page.expect_download() as download:
        page.click(f"section[data-batch='{payout.batch_id}'] a.csv")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("payout_id,distributor_id,openid,amount_fen") and payout.payout_id in text

    row.locator("button:text('标记已打款')").click()
    page.wait_for_url(f"{console_url}/console/payouts")
    assert page.locator(f"tr[data-payout='{payout.payout_id}'] .status").inner_text() == "已线下打款"
    assert page.dialogs and "确认已线下打款" in page.dialogs[-1]
    from functions import wiring

    assert wiring.payout_repository().get(payout.payout_id).status == "PAID_MANUALLY"

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=payout.payout_id).inner_text()
    assert "owner" in entry and "标记已打款" in entry and f"¥{payout.amount / 100:.2f}" in entry
    assert "完成" in entry


def test_an_operator_cannot_open_payouts(browser_page, console_url, shop):
    page = browser_page
    name = "op" + uuid.uuid4().hex[:8]
    r = requests.post(f"{console_url}/admin/operators", timeout=10,
                      json={"name": name, "password": "correct horse 21", "role": "operator"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 201, r.text
    sign_in(page, console_url, name, "correct horse 21")
    assert page.locator("nav.side a[href='/console/payouts']").count() == 0
    assert page.goto(f"{console_url}/console/payouts").status == 403
    token = page.eval_on_selector("header.top input[name=csrf]", "el => el.value")
    assert page.request.post(f"{console_url}/console/payouts/x/mark-paid", form={"csrf": token}).status == 403


def test_distributors_with_what_they_earned_and_their_csv(browser_page, console_url, client, admin_headers, shop):
    from tests.integration.test_settlement import settleable_commissions

    page = browser_page
    expected = settleable_commissions(client, admin_headers, shop, distributors=1)
    [(d, amount)] = expected.items()
    owner_signs_in(page, console_url, "/console/distributors")
    for _ in range(100):  # newest last: load pages until the row shows
        if page.locator(f"tr[data-distributor='{d}']").count():
            break
        more = page.locator("#more-distributors button")
        assert more.count(), f"{d} is not listed"
        before = page.locator("#distributor-rows tr[data-distributor]").count()
        more.click()
        wait_until(lambda before=before: page.locator("#distributor-rows tr[data-distributor]").count() > before)
    row = page.locator(f"tr[data-distributor='{d}']").inner_text()
    assert f"¥{amount / 100:.2f}" in row  # its settleable commission
    with page.expect_download() as download:
        page.click("#distributors-csv")
    sheet = open(download.value.path(), encoding="utf-8-sig").read()
    assert d in sheet and sheet.startswith("分销员,团队长,佣金方案") and "加入时间(北京时间)" in sheet
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", sheet)  # Beijing time, as a person reads it
    assert f"{amount // 100}.{amount % 100:02d}" in sheet  # yuan
