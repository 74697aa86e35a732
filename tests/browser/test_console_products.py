"""Products edited and taken off sale in the console: what the mini-program API
then shows, and refuses."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def test_an_edited_price_and_a_new_sku_are_what_the_mini_program_shows(browser_page, console_url, client,
                                                                       admin_headers, shop):
    from tests.helpers import create_product

    page = browser_page
    product = create_product(client, admin_headers, price=1990, stock=10, title="编辑-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    owner_signs_in(page, console_url, "/console/products")
    page.locator(f"tr[data-sku='{sku_id}'] a").click()
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    form = page.locator("#edit-form")
    assert form.locator(f"input[name=price_{sku_id}]").input_value() == "19.90"
    title = "改名-" + uuid.uuid4().hex[:6]
    form.locator("input[name=title]").fill(title)
    form.locator(f"input[name=price_{sku_id}]").fill("25.5")
    form.locator("input[name=new_sku]").fill("9.9 5 规格:小份")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    assert page.locator("#skus tr[data-sku]").count() == 2

    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert shown["title"] == title
    assert sorted((s["price"], (s["spec"] or {}).get("规格")) for s in shown["skus"]) == [(990, "小份"), (2550, None)]
    listed = requests.get(f"{console_url}/products", params={"limit": 100}, timeout=10).json()["items"]
    assert [p["price"] for p in listed if p["id"] == product["id"]] == [990]
    from functions import wiring

    assert wiring.catalog_repository().get_skus([sku_id])[sku_id].stock == 10  # an edit leaves stock alone

    ledger = page.locator("#stock-entries tr[data-entry]")  # the new SKU's stock, then the product's
    assert [ledger.nth(i).locator(".reason").inner_text() for i in range(ledger.count())] == ["编辑商品", "新建商品"]
    assert f"{sku_id}:+10" in ledger.nth(1).inner_text()

    form = page.locator("#edit-form")  # a price that is not one: 400, nothing changes
    form.locator(f"input[name=price_{sku_id}]").fill("1.234")
    with page.expect_response(f"{console_url}/console/products/{product['id']}") as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 400 and "两位小数" in page.content()
    shown = requests.get(f"{console_url}/products/{product['id']}", timeout=10).json()
    assert 2550 in [s["price"] for s in shown["skus"]]


def test_off_sale_hides_the_product_and_refuses_its_orders_on_sale_brings_it_back(browser_page, console_url,
                                                                                  client, admin_headers, shop):
    from tests.helpers import body, create_product, login, order_payload, post

    page = browser_page
    product = create_product(client, admin_headers, price=990, stock=10, title="下架-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    owner_signs_in(page, console_url, f"/console/products/{product['id']}")
    page.locator("#sale-state button:text('下架')").click()
    page.wait_for_url(f"{console_url}/console/products/{product['id']}")
    assert "已下架" in page.inner_text("#sale-state")

    assert requests.get(f"{console_url}/products/{product['id']}", timeout=10).status_code == 404
    listed = requests.get(f"{console_url}/products", params={"limit": 100}, timeout=10).json()["items"]
    assert product["id"] not in [p["id"] for p in listed]
    refused = post(client, "/orders", order_payload(sku_id), login(client))
    assert refused.status_code == 404, refused.body
    page.goto(f"{console_url}/console/products")  # the operators still see it, off sale
    assert "已下架" in page.locator(f"tr[data-product='{product['id']}'] .sale").inner_text()

    page.locator(f"tr[data-product='{product['id']}'] .sale button").click()
    page.wait_for_url(f"{console_url}/console/products")
    assert "在售" in page.locator(f"tr[data-product='{product['id']}'] .sale").inner_text()
    assert requests.get(f"{console_url}/products/{product['id']}", timeout=10).status_code == 200
    made = post(client, "/orders", order_payload(sku_id), login(client))
    assert made.status_code == 201, made.body
    assert body(made)["status"] == "PENDING_PAYMENT"

    page.goto(f"{console_url}/console/operators")
    rows = page.locator("#audit tr", has_text=product["id"])  # both, whatever their order within a second
    actions = {rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())}
    assert {"下架", "上架"} <= actions


def test_a_stock_adjustment_is_in_the_products_ledger_with_its_reason_and_operator(browser_page, console_url,
                                                                                   client, admin_headers, shop,
                                                                                   artifacts):
    from tests.helpers import create_product, put

    page = browser_page
    product = create_product(client, admin_headers, price=990, stock=10, title="流水-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    r = put(client, f"/admin/products/{product['id']}", {  # the API's delta: the same ledgered move
        "title": product["title"], "category": product["category"],
        "skus": [{"id": sku_id, "price": 990, "stock_delta": 5}]}, admin_headers)
    assert r.status_code == 200, r.body
    owner_signs_in(page, console_url, "/console/products")
    row = page.locator(f"tr[data-sku='{sku_id}']")
    row.locator("input[name=delta]").fill("-4")
    row.locator("input[name=reason]").fill("样品领用")
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/products")
    assert page.locator(f"tr[data-sku='{sku_id}'] .stock").inner_text() == "11"
    page.goto(f"{console_url}/console/products/{product['id']}")
    ledger = page.locator("#stock-entries tr[data-entry]")
    assert ledger.count() == 3
    assert [ledger.nth(i).locator(".moves").inner_text().strip() for i in range(3)] == [
        f"{sku_id}:-4", f"{sku_id}:+5", f"{sku_id}:+10"]
    assert "样品领用" in ledger.nth(0).inner_text() and "owner" in ledger.nth(0).inner_text()
    assert "编辑商品" in ledger.nth(1).inner_text() and "新建商品" in ledger.nth(2).inner_text()
    page.screenshot(path=str(artifacts / "console-product.png"), full_page=True)
