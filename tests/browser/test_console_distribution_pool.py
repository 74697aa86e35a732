"""分销 → 推广商品池 in the console: products chosen with the product picker, one taken out,
every product again; readable at a laptop's and a phone's width."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import pick_sku
from tests.browser.test_console import owner_signs_in
from tests.helpers import create_product

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def stored():
    from functions import wiring

    return wiring.distribution_pool().get_pool()


@pytest.fixture
def every_product_after():
    """Other tests share the table: the pool is every product again afterwards."""
    yield
    from types import SimpleNamespace

    from functions import wiring

    wiring.distribution_pool().set_pool(SimpleNamespace(all=True, product_ids=None))


def test_choose_products_take_one_out_and_go_back_to_every_product(browser_page, console_url, client, admin_headers,
                                                                   shop, every_product_after):
    page = browser_page
    tag = uuid.uuid4().hex[:6]
    tea = create_product(client, admin_headers, title=f"龙井{tag}", price=8800)
    cup = create_product(client, admin_headers, title=f"茶杯{tag}", price=1900)
    owner_signs_in(page, console_url, "/console/distribution-pool")
    assert page.get_attribute("#pool-mode", "data-mode") == "all"
    assert fits(page)

    for product in (tea, cup):
        pick_sku(page, "#pool-add-form", product["title"], product["skus"][0]["id"])
        page.click("#pool-add-form button[type=submit]")
        page.wait_for_url(f"{console_url}/console/distribution-pool")
        assert page.locator(f"#pool-products tr[data-product='{product['id']}']").count() == 1
    assert page.get_attribute("#pool-mode", "data-mode") == "list"
    assert "仅限下方 2 个商品" in page.inner_text("#pool-mode")
    row = page.locator(f"#pool-products tr[data-product='{tea['id']}']")
    assert tea["title"] in row.inner_text() and "在售" in row.inner_text()
    assert stored()["product_ids"] == [tea["id"], cup["id"]]
    assert fits(page)
    from tests.browser.test_console_pages import CODE_NAMES, ISO_TIME

    text = page.inner_text("body")
    assert not ISO_TIME.search(text) and not CODE_NAMES.search(text), text
    assert "最后修改" in text  # in Beijing time

    row.locator("button:text('移出')").click()
    page.wait_for_url(f"{console_url}/console/distribution-pool")
    assert page.locator(f"#pool-products tr[data-product='{tea['id']}']").count() == 0
    assert stored()["product_ids"] == [cup["id"]]

    page.click("#pool-all-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/distribution-pool")
    assert page.get_attribute("#pool-mode", "data-mode") == "all"
    assert stored()["all"] is True


def test_the_sidebar_leads_to_the_pool(browser_page, console_url, shop):
    page = browser_page
    owner_signs_in(page, console_url, "/console/distributors")
    if page.width_name == "phone":
        page.click("label.menu-button")
    page.click("nav.side a[href='/console/distribution-pool']")
    page.wait_for_url(f"{console_url}/console/distribution-pool")
    assert page.locator("nav.side a.active").inner_text() == "推广商品池"
    assert page.inner_text("h1") == "推广商品池"
