"""Commission debt in the console: the distributors page shows what a distributor owes
back after a refund of a commission already paid out, and the settlement page what the
next payout deducted."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.browser.conftest import wait_until
from tests.browser.test_console import owner_signs_in
from tests.helpers import create_product, login

pytestmark = pytest.mark.integration


def _days_of_its_own(monkeypatch):
    """Moves the clock to a day no other test settles on, then 30 days on each call (a
    settlement batch is per day; each waits out the freeze of the one before)."""
    from layers import clock

    base = clock.now() + timedelta(days=6000 + uuid.uuid4().int % 3000)
    step = iter(range(0, 3000, 30))

    def go():
        target = base + timedelta(days=next(step))
        monkeypatch.setattr(clock, "now", lambda: target)

    return go


def _show_row(page, locator: str, more: str, rows: str) -> None:
    """Load more pages until the row shows."""
    for _ in range(200):
        if page.locator(locator).count():
            return
        button = page.locator(more)
        assert button.count(), f"{locator} is not listed"
        before = page.locator(rows).count()
        button.click()
        wait_until(lambda before=before: page.locator(rows).count() > before)


def test_a_distributors_debt_and_what_the_next_payout_deducted(browser_page, console_url, client, admin_headers,
                                                                 shop, monkeypatch):
    from functions import wiring
    from tests.integration.test_commission_debt import _receive, _settle_and_receive
    from tests.integration.test_distribution import (
        new_distributor,
        paid_order,
        refund,
        share,
        uid,
    )

    page = browser_page
    next_day = _days_of_its_own(monkeypatch)
    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=10_000, stock=100)  # 5%: 500 a unit
    sku = product["skus"][0]["id"]
    guide = new_distributor(client, admin_headers)
    d = uid(guide)
    buyer = login(client)
    token = share(client, guide, product["id"])
    first = paid_order(shop, uid(buyer), sku, share_token=token)
    _receive(shop, uid(buyer), first["id"])
    next_day()
    _settle_and_receive(client, sandbox, d)
    refund(first["id"], f"{first['id']}R", 10_000, 10_000, 10_000)  # paid out: 500 owed

    owner_signs_in(page, console_url, "/console/distributors")
    _show_row(page, f"tr[data-distributor='{d}']", "#more-distributors button",
              "#distributor-rows tr[data-distributor]")
    debt = page.locator(f"tr[data-distributor='{d}'] td.debt")
    assert debt.get_attribute("data-debt") == "500" and debt.inner_text() == "¥5.00"
    assert debt.is_visible() or page.width_name == "phone"  # a phone scrolls the wide table

    second = paid_order(shop, uid(buyer), sku, 3, share_token=token)  # earns 1500
    _receive(shop, uid(buyer), second["id"])
    next_day()
    _settle_and_receive(client, sandbox, d)
    [payout] = [p for p in wiring.payout_repository().list_for_user(d, 10, None)[0] if p.deducted]
    assert (payout.amount, payout.deducted) == (1000, 500)

    owner_signs_in(page, console_url, "/console/payouts?limit=50")  # 30 days on: the session is over
    _show_row(page, f"tr[data-payout='{payout.payout_id}']", "#more-batches button", "section.batch")
    row = page.locator(f"tr[data-payout='{payout.payout_id}']")
    assert row.locator("td.deducted").get_attribute("data-deducted") == "500"
    assert "¥5.00" in row.locator("td.deducted").inner_text() and "¥15.00" in row.locator("td.deducted").inner_text()
    assert "¥10.00" in row.inner_text()
    heading = page.locator(f"section[data-batch='{payout.batch_id}'] h2").inner_text()
    assert "已抵扣佣金欠款" in heading

    page.goto(f"{console_url}/console/distributors")
    _show_row(page, f"tr[data-distributor='{d}']", "#more-distributors button",
              "#distributor-rows tr[data-distributor]")
    assert page.locator(f"tr[data-distributor='{d}'] td.debt").inner_text() == "-"  # paid back
