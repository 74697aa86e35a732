"""Promotions in Chromium, at a laptop's width and a phone's: a 满减 made through the form
(money in yuan, a product ticked by its name, Beijing times), its tier fields following the
kind chosen; seen by shoppers in GET /promotions with its label; a wrong field said beside it
with nothing saved; stopped after a confirmation, and gone from GET /promotions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def shot(page, name: str) -> None:
    folder = SCREENSHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def beijing_input(delta: timedelta) -> str:
    return (datetime.now(UTC) + timedelta(hours=8) + delta).strftime("%Y-%m-%dT%H:%M")


def named(name: str) -> dict:
    from functions import wiring

    [found] = [p for p in wiring.promotions().page(100, None)[0] if p["name"] == name]
    return found


def live(console_url) -> dict:
    answer = requests.get(f"{console_url}/promotions?limit=100", timeout=10)
    assert answer.status_code == 200
    return {p["id"]: p for p in answer.json()["items"]}


def test_a_promotion_is_made_seen_by_shoppers_and_stopped(browser_page, console_url, client, admin_headers, shop):
    from tests.helpers import create_product

    page = browser_page
    title = "满减茶-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, title=title)
    name = "满减-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/promotions")
    assert page.locator("nav.side a[href='/console/promotions']").count() == 1
    form = page.locator("#promotion-form")
    form.locator("input[name=name]").fill(name)

    form.locator("select[name=kind]").select_option("bundle")  # the fields follow the kind
    assert form.locator("input[name=t0_price]").is_visible()
    assert not form.locator("input[name=t0_threshold]").is_visible()
    form.locator("select[name=kind]").select_option("gift")
    assert page.locator("#gift-sku").is_visible() and form.locator("input[name=t0_gift]").is_visible()
    form.locator("select[name=kind]").select_option("amount_off")
    assert form.locator("input[name=t0_off]").is_visible()
    assert not form.locator("input[name=t0_pieces]").is_visible() and not page.locator("#gift-sku").is_visible()

    form.locator("input[name=t0_threshold]").fill("300")
    form.locator("input[name=t0_off]").fill("50")
    form.locator("input[name=t1_threshold]").fill("500")
    form.locator("input[name=t1_off]").fill("99.9")
    with page.expect_response(lambda r: "/console/pickers/products" in r.url):
        form.locator("input[name=product_q]").fill(title)
    page.locator(f"#promotion-form input[name=product_ids][value='{product['id']}']").check()
    form.locator("input[name=starts_at]").fill(beijing_input(-timedelta(minutes=10)))
    form.locator("input[name=ends_at]").fill(beijing_input(timedelta(days=1)))
    assert fits(page)
    shot(page, "promotion-form")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/promotions")
    assert page.inner_text("#flash") == "已创建"

    made = named(name)
    assert made["tiers"] == [{"threshold": 30000, "value": 5000}, {"threshold": 50000, "value": 9990}]
    assert made["scope"]["product_ids"] == [product["id"]]
    row = page.locator(f"tr[data-promotion='{made['id']}']")
    assert row.locator(".tiers").inner_text() == "满300减50，满500减99.9"
    assert row.locator(".status").inner_text() == "进行中" and row.locator(".gmv").inner_text() == "¥0.00"
    assert fits(page)
    shot(page, "promotions")
    seen = live(console_url)[made["id"]]
    assert seen["label"] == "满300减50，满500减99.9" and seen["scope"]["product_ids"] == [product["id"]]

    row.locator("form.stop button").click()  # asks first; the operator accepts
    page.wait_for_url(f"{console_url}/console/promotions")
    assert page.dialogs and name in page.dialogs[-1]
    assert page.inner_text("#flash") == "已停止"
    assert page.locator(f"tr[data-promotion='{made['id']}'] .status").inner_text() == "已停止"
    assert made["id"] not in live(console_url)


def test_a_wrong_field_is_said_beside_it_and_nothing_is_saved(browser_page, console_url, shop):
    page = browser_page
    name = "错-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/promotions")
    form = page.locator("#promotion-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=t0_threshold]").fill("100")
    form.locator("input[name=t0_off]").fill("100")  # as much as the threshold
    form.locator("input[name=starts_at]").fill(beijing_input(timedelta(hours=1)))
    form.locator("input[name=ends_at]").fill(beijing_input(timedelta(days=1)))
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 400
    page.wait_for_load_state()
    assert "减免金额须小于门槛" in page.inner_text(".field-error[data-for=t0_off]")
    assert page.locator("input[name=t0_off]").get_attribute("aria-invalid") == "true"
    assert "本次没有保存" in page.inner_text("#promotion-error")
    assert page.input_value("#promotion-form input[name=name]") == name  # kept to correct
    assert fits(page)
    shot(page, "promotion-error")
    from functions import wiring

    assert not [p for p in wiring.promotions().page(100, None)[0] if p["name"] == name]
