"""Freight templates in Chromium, at a laptop's width and a phone's: a template by weight made
with a region and a free rule (provinces ticked, not typed; kilograms and yuan), edited; a
wrong field said beside it with nothing changed; a product given the template by its name;
an order's page showing the freight it was charged."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def templates() -> dict:
    from functions import wiring
    from layers.domain.freight import template_view

    return {t.template_id: template_view(t) for t in wiring.freight_templates().all()}


def named(name: str) -> dict:
    [found] = [t for t in templates().values() if t["name"] == name]
    return found


def tick(page, box: str, field: str, provinces: list[str]) -> None:
    """Open a province list (if closed) and tick these provinces."""
    details = page.locator(f"{box} details[data-field={field}]")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    for province in provinces:
        details.locator(f"input[value='{province}']").check()


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def shot(page, name: str) -> None:
    folder = SCREENSHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_template_by_weight_with_a_region_and_a_free_rule_is_made_and_edited(browser_page, console_url, shop):
    page = browser_page
    name = "按重-" + uuid.uuid4().hex[:6]
    owner_signs_in(page, console_url, "/console/freight-templates")
    page.click("#new-template")
    page.wait_for_url(f"{console_url}/console/freight-templates/new")
    form = page.locator("#freight-form")
    form.locator("input[name=name]").fill(name)
    assert form.locator("#default-charge .by-piece").first.is_visible()  # by the piece: 首件(件)
    form.locator("#charge-by input[value=weight]").check()
    assert form.locator("#default-charge .by-weight").first.inner_text() == "首重(千克)"
    assert not form.locator("#default-charge .by-piece").first.is_visible()
    form.locator("input[name=d_first]").fill("1")
    form.locator("input[name=d_first_fee]").fill("8")
    form.locator("input[name=d_additional]").fill("0.5")
    form.locator("input[name=d_additional_fee]").fill("3")
    tick(page, "#region-0", "r0_p", ["新疆维吾尔自治区", "西藏自治区", "青海省"])
    chosen = page.locator("#region-0 details[data-field=r0_p] summary .chosen")
    assert set(chosen.inner_text().split()) == {"新疆", "西藏", "青海"}  # named as they are ticked
    page.locator("#region-0 details[data-field=r0_p] input[value='青海省']").uncheck()
    assert set(chosen.inner_text().split()) == {"新疆", "西藏"}
    free = page.locator("#free-0 details[data-field=f0_p] summary .chosen")
    assert free.inner_text() == "全国"  # nothing ticked: the rule holds everywhere
    form.locator("input[name=r0_first]").fill("1")
    form.locator("input[name=r0_first_fee]").fill("20")
    form.locator("input[name=r0_additional]").fill("1")
    form.locator("input[name=r0_additional_fee]").fill("15")
    tick(page, "#free-0", "f0_p", ["上海市", "江苏省", "浙江省"])
    assert set(free.inner_text().split()) == {"上海", "江苏", "浙江"}
    form.locator("input[name=f0_min_amount]").fill("99")
    tick(page, "#freight-form", "u_p", ["香港特别行政区"])
    assert fits(page)
    shot(page, "freight-template-form")
    page.click("#save-template")
    page.wait_for_url(f"{console_url}/console/freight-templates")
    assert page.inner_text("#flash") == "已创建"

    made = named(name)
    assert made["charge_by"] == "weight"
    assert made["default"] == {"first": 1000, "first_fee": 800, "additional": 500, "additional_fee": 300}
    assert made["regions"] == [{"provinces": ["西藏自治区", "新疆维吾尔自治区"], "first": 1000, "first_fee": 2000,
                                "additional": 1000, "additional_fee": 1500}]
    assert made["free"] == [{"provinces": ["上海市", "江苏省", "浙江省"], "min_amount": 9900, "min_pieces": None}]
    assert made["undeliverable"] == ["香港特别行政区"]
    row = page.locator(f"tr[data-template='{made['id']}']")
    assert row.locator(".default").inner_text() == "首重 1 千克 ¥8.00,续重每 0.5 千克 ¥3.00"
    assert row.locator(".free").inner_text() == "上海、江苏、浙江 满 ¥99.00 包邮"
    assert fits(page)
    shot(page, "freight-templates")

    # edited: another name, 西藏 out of the region, a second free rule added by "再加一条"
    row.locator(".name a").click()
    page.wait_for_url(f"{console_url}/console/freight-templates/{made['id']}")
    assert page.input_value("#freight-form input[name=d_additional]") == "0.5"
    assert "西藏 新疆" in page.inner_text("#region-0 details[data-field=r0_p] summary")
    page.fill("#freight-form input[name=name]", name + "改")
    page.locator("#region-0 details[data-field=r0_p] summary").click()
    page.locator("#region-0 input[value='西藏自治区']").uncheck()
    page.click("#more-free")
    page.wait_for_selector("#free-2")  # the one made, the blank one, and one more
    assert page.input_value("#freight-form input[name=name]") == name + "改"  # what was typed is kept
    page.fill("#freight-form input[name=f1_min_pieces]", "10")
    page.click("#save-template")
    page.wait_for_url(f"{console_url}/console/freight-templates")
    assert page.inner_text("#flash") == "已保存"
    edited = templates()[made["id"]]
    assert edited["name"] == name + "改" and edited["version"] == 2
    assert edited["regions"][0]["provinces"] == ["新疆维吾尔自治区"]
    assert edited["free"][1] == {"provinces": [], "min_amount": None, "min_pieces": 10}


def test_a_wrong_field_is_said_beside_it_and_nothing_changes(browser_page, console_url, client, admin_headers,
                                                             shop):
    from tests.helpers import body, post

    page = browser_page
    made = body(post(client, "/admin/freight-templates", {
        "name": "错-" + uuid.uuid4().hex[:6], "charge_by": "piece",
        "default": {"first": 1, "first_fee": 1000, "additional": 1, "additional_fee": 500},
        "regions": [{"provinces": ["新疆"], "first": 1, "first_fee": 2000, "additional": 1, "additional_fee": 1500}]},
        admin_headers))
    owner_signs_in(page, console_url, f"/console/freight-templates/{made['id']}")
    page.fill("#freight-form input[name=d_first_fee]", "8.123")
    page.fill("#freight-form input[name=name]", "不该保存")
    tick(page, "#freight-form", "u_p", ["新疆维吾尔自治区"])  # also charged in the region
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#save-template")
    assert answer.value.status == 400
    page.wait_for_load_state()
    beside = page.locator(".field:has(input[name=d_first_fee]) .field-error")
    assert "最多两位小数" in beside.inner_text()
    assert page.locator("input[name=d_first_fee]").get_attribute("aria-invalid") == "true"
    assert "本次没有保存任何更改" in page.inner_text("#freight-error")
    assert page.input_value("#freight-form input[name=d_first_fee]") == "8.123"  # kept to correct
    assert page.input_value("#freight-form input[name=name]") == "不该保存"
    assert fits(page)
    shot(page, "freight-template-error")
    assert templates()[made["id"]] == made

    page.fill("#freight-form input[name=d_first_fee]", "8")  # the number right: the province is said next
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#save-template")
    assert answer.value.status == 400
    assert "新疆 已设了地区运费" in page.inner_text(".field-error[data-for=u_p]")
    assert templates()[made["id"]] == made


def test_a_product_is_given_a_template_by_its_name(browser_page, console_url, client, admin_headers, shop):
    from tests.helpers import body, create_product, post

    page = browser_page
    name = "商品用-" + uuid.uuid4().hex[:6]
    template = body(post(client, "/admin/freight-templates", {
        "name": name, "charge_by": "piece",
        "default": {"first": 1, "first_fee": 600, "additional": 1, "additional_fee": 200}}, admin_headers))
    product = create_product(client, admin_headers, price=1990, stock=5, title="运费-" + uuid.uuid4().hex[:6])
    owner_signs_in(page, console_url, f"/console/products/{product['id']}")
    picker = page.locator("#edit-form select[name=freight_template_id]")
    assert picker.locator("option:checked").inner_text() == "统一运费(按店铺设置)"
    picker.select_option(label=name)
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    assert page.inner_text("#flash") == "已保存"
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert shown["freight_template_id"] == template["id"]
    assert page.locator("#edit-form select[name=freight_template_id] option:checked").inner_text() == name

    picker = page.locator("#edit-form select[name=freight_template_id]")
    picker.select_option(label="统一运费(按店铺设置)")  # back to the shop's flat fee
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    assert requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()["freight_template_id"] is None


def test_an_orders_page_shows_the_freight_it_was_charged(browser_page, console_url, client, admin_headers, shop):
    from tests.helpers import (
        FREIGHT,
        body,
        create_product,
        login,
        order_payload,
        post,
        store_freight,
    )

    page = browser_page
    sku_id = create_product(client, admin_headers, price=1990, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id), login(client)))
    store_freight(order["id"], FREIGHT)
    owner_signs_in(page, console_url, f"/console/orders/{order['id']}")
    rows = page.locator("#freight tr[data-rule]")
    assert rows.count() == 3
    assert [c.strip() for c in rows.nth(0).locator("td").all_inner_texts()][:5] == [
        "按重量", "3 件,共 1.45 千克", "¥59.70", "按地区", "¥11.00"]
    assert rows.nth(1).locator(".rule").inner_text() == "包邮"
    assert rows.nth(2).locator(".name").inner_text() == "统一运费"
    assert rows.nth(2).locator(".units").inner_text() == "2 件,共 350 克"
    assert page.inner_text("#freight-total") == "¥19.00"
    assert fits(page)
    shot(page, "order-freight")
