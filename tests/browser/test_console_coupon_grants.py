"""定向发券 in Chromium, at a laptop's width and a phone's: a coupon given to two customers
found by their phones (the first stays ticked while the second is searched), the grant's
page whose progress bar moves while the grant runs and stops polling once it is DONE, and
the grant in the list. The grant is run here batch by batch, slowly, as the queue would."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest

from tests.browser.conftest import shopper_with_phone, wait_until
from tests.browser.test_console import owner_signs_in
from tests.helpers import body, post

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def coupon_template(client, admin_headers, name: str) -> dict:
    from layers import clock

    now = clock.now()
    r = post(client, "/admin/coupons", {
        "name": name, "kind": "fixed", "value": 500, "threshold": 0,
        "claim_starts_at": clock.iso(now - timedelta(minutes=1)), "claim_ends_at": clock.iso(now + timedelta(days=1)),
        "valid_days": 7, "total": 10, "per_user_limit": 1}, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def run_slowly(grant_id: str, pause_s: float, stop: threading.Event) -> None:
    """The queue's runner, one target a batch with a pause between, so the bar is seen moving."""
    from functions import wiring

    service = wiring.coupon_grants()
    while not stop.is_set():
        batch = service.take_batch(grant_id)
        if batch is None:
            return
        for user_id in batch.user_ids:
            service.work(batch, user_id)
        stop.wait(pause_s)
        service.count(batch)


def tick(page, phone: str) -> None:
    page.fill("#grant-form input[name=customer_q]", phone)
    box = page.locator("#grant-form .customer-options label.check", has_text=phone[-4:]).first
    box.wait_for()
    box.locator("input[type=checkbox]").check()


def test_a_grant_is_started_and_its_bar_moves_to_done(browser_page, console_url, client, admin_headers, shop,
                                                      monkeypatch):
    from layers.domain import coupon_grant

    monkeypatch.setattr(coupon_grant, "BATCH_SIZE", 1)
    page = browser_page
    name = "回馈券-" + uuid.uuid4().hex[:6]
    template = coupon_template(client, admin_headers, name)
    (first, first_phone), (second, second_phone) = (shopper_with_phone(client, admin_headers, "王五"),
                                                    shopper_with_phone(client, admin_headers, "赵六"))
    owner_signs_in(page, console_url, "/console/coupon-grants")
    assert page.locator("nav.side a[href='/console/coupon-grants']").count() == 1
    page.select_option("#grant-form select[name=template_id]", template["id"])
    tick(page, first_phone)
    tick(page, second_phone)  # the first stays ticked while the second is found
    page.wait_for_selector("#grant-form .customer-options input[name=user_ids]:checked >> nth=1")
    ticked = page.locator("#grant-form .customer-options input[name=user_ids]:checked")
    assert {ticked.nth(i).get_attribute("value") for i in range(ticked.count())} == {
        first["X-User-Id"], second["X-User-Id"]}
    page.fill("#grant-form input[name=note]", "老客回馈")
    assert fits(page)
    page.click("#grant-form button[type=submit]")
    page.wait_for_url("**/console/coupon-grants/g*")
    grant_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#grant-status").inner_text() == "发放中"
    assert page.locator("#grant-bar").get_attribute("value") == "0"

    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith(f"/{grant_id}/progress") else None)
    seen: list[str] = []
    stop = threading.Event()
    runner = threading.Thread(target=run_slowly, args=(grant_id, 1.5, stop), daemon=True)
    runner.start()
    try:
        def done() -> bool:
            # Both read in one evaluation: two separate reads can straddle an htmx swap and
            # see the old bar with the new status.
            value, status = page.evaluate("""() => [
                document.querySelector('#grant-bar').getAttribute('value'),
                document.querySelector('#grant-progress').getAttribute('data-status')]""")
            if not seen or seen[-1] != value:
                seen.append(value)
            return status == "DONE"

        wait_until(done, timeout_s=30)
    finally:
        stop.set()
        runner.join(10)
    assert "50" in seen and seen[-1] == "100", seen  # it moved: halfway, then whole
    assert page.locator("#grant-status").inner_text() == "已完成"
    assert page.locator("#grant-issued").inner_text() == "2"
    assert page.locator("#grant-progress").get_attribute("hx-trigger") is None
    polled = len(polls)
    time.sleep(2.5)
    assert len(polls) == polled  # DONE: the bar no longer polls
    assert fits(page)

    from functions import wiring

    coupons = [c for u in (first, second) for c in wiring.user_coupon_repository().for_user(u["X-User-Id"], 10, None)[0]
               if c.template_id == template["id"]]
    assert len(coupons) == 2
    page.goto(f"{console_url}/console/coupon-grants")
    row = page.locator(f"#grants tr[data-grant='{grant_id}']")
    assert name in row.inner_text() and "已完成" in row.inner_text() and "2/2" in row.inner_text()
    assert fits(page)
