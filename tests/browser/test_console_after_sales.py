"""After-sales in the console, in Chromium at a laptop's and a phone's width: the queue
filtered by kind; a refund_only approved (the refund goes to WeChat Pay, then settles); a
return approved, sent back by the shopper (through the API, as the mini-program does),
received with restock (refunded, the units back in stock); a request rejected with a
reason (a blank reason refused in Chinese, nothing changed); an exchange's replacement
shipped."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import wait_until
from tests.browser.test_console import owner_signs_in
from tests.helpers import body, login, post, put
from tests.integration.test_after_sales import RETURN_ADDRESS, ask, delivered, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("return_address")]


@pytest.fixture
def return_address(client, admin_headers):
    r = put(client, "/admin/settings", {"return_address": RETURN_ADDRESS}, admin_headers)
    assert r.status_code == 200, r.body


def asked(client, admin_headers, shop, kind="return_refund", reason="DAMAGED", **extra) -> tuple[dict, str, dict]:
    """A delivered order (2 × ¥10.00) and the shopper's after-sale of one unit."""
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    r = ask(client, shopper, order["id"], sku_id, kind=kind, reason=reason, **extra)
    assert r.status_code == 201, r.body
    return body(r), sku_id, shopper


def fits(page) -> None:
    """Nothing wider than the screen (a phone reads every table as cards)."""
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def status(page) -> str:
    return page.get_attribute("#after-sale-status", "data-status")


def submit(page, form: str, url: str) -> None:
    page.click(f"{form} button[type=submit]")
    page.wait_for_url(url)
    page.wait_for_load_state("load")


def test_the_queue_filtered_by_kind(browser_page, console_url, client, admin_headers, shop):
    page = browser_page
    refund_only, _, _ = asked(client, admin_headers, shop, kind="refund_only", reason="NOT_RECEIVED")
    time.sleep(1.1)  # created_at is to the second: the queue orders the same second by id
    exchange, _, _ = asked(client, admin_headers, shop, kind="exchange", reason="WRONG_SIZE")
    owner_signs_in(page, console_url, "/console/after-sales")
    assert page.locator("nav.side a[href='/console/after-sales']").count() == 1
    mine = [page.locator(f"#after-sales tr[data-after-sale='{a['id']}']") for a in (refund_only, exchange)]
    assert "仅退款" in mine[0].inner_text() and "未收到货" in mine[0].inner_text() and "¥10.00" in mine[0].inner_text()
    assert "换货" in mine[1].inner_text() and "待审核" in mine[1].inner_text()
    rows = [r.get_attribute("data-after-sale") for r in page.locator("#after-sales tr[data-after-sale]").all()]
    assert rows.index(refund_only["id"]) < rows.index(exchange["id"])  # oldest first
    fits(page)

    page.select_option("#after-sale-filters select[name=kind]", "exchange")
    page.click("#after-sale-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/after-sales\?.*kind=exchange"))
    assert page.locator(f"#after-sales tr[data-after-sale='{exchange['id']}']").count() == 1
    assert page.locator(f"#after-sales tr[data-after-sale='{refund_only['id']}']").count() == 0
    assert all(k == "exchange" for k in page.locator("#after-sales td[data-kind]").evaluate_all(
        "cells => cells.map(c => c.dataset.kind)"))

    page.select_option("#after-sale-filters select[name=status]", "AWAITING_RETURN")
    page.click("#after-sale-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*status=AWAITING_RETURN.*kind=exchange"))
    assert page.locator(f"#after-sales tr[data-after-sale='{exchange['id']}']").count() == 0
    assert all(s == "AWAITING_RETURN" for s in page.locator("#after-sales td[data-status]").evaluate_all(
        "cells => cells.map(c => c.dataset.status)"))
    page.go_back()
    page.wait_for_url(re.compile(r".*status=REQUESTED.*kind=exchange"))
    page.click(f"#after-sales a[href='/console/after-sales/{exchange['id']}']")
    page.wait_for_url(f"{console_url}/console/after-sales/{exchange['id']}")
    assert "尺码/规格不合适" in page.inner_text("#after-sale-reason")
    fits(page)


def test_approving_a_refund_only_refunds_it(browser_page, console_url, client, admin_headers, shop):
    from tests.integration.test_money_vs_wechat import finish_at_wechat

    page = browser_page
    a, _, _ = asked(client, admin_headers, shop, kind="refund_only", reason="NOT_RECEIVED", amount=800,
                    description="快递显示签收,但没有收到")
    here = f"{console_url}/console/after-sales/{a['id']}"
    owner_signs_in(page, console_url, f"/console/after-sales/{a['id']}")
    assert status(page) == "REQUESTED" and page.inner_text("#after-sale-amount") == "¥8.00"
    assert "没有收到" in page.inner_text("#after-sale-description")
    assert page.locator("#after-sale-lines tr[data-line] .paid").inner_text() == "¥20.00"
    fits(page)
    page.fill("#approve-form input[name=note]", "核实未签收")
    submit(page, "#approve-form", here)
    assert page.dialogs and "¥8.00" in page.dialogs[-1]  # asked first: money moves
    assert status(page) in ("REFUNDING", "REFUNDED")
    assert page.inner_text("#after-sale-status") in ("退款中", "已退款")
    from functions import wiring

    refund_id = wiring.after_sales().detail(a["id"])["refund_id"]
    assert shop["sandbox"].refunds[refund_id]["amount"]["refund"] == 800
    finish_at_wechat(client, shop["sandbox"], refund_id)
    page.goto(here)
    assert status(page) == "REFUNDED" and page.inner_text("#after-sale-status") == "已退款"
    history = page.inner_text("#history")
    assert "核实未签收" in history and "操作员 owner" in history and "买家" in history
    assert not re.search(r"\d{4}-\d\d-\d\dT", history)  # Beijing time, never ISO
    fits(page)


def test_a_return_approved_sent_back_and_received_with_restock_is_refunded(browser_page, console_url, client,
                                                                          admin_headers, shop):
    from functions import wiring
    from tests.integration.test_money_vs_wechat import finish_at_wechat

    page = browser_page
    a, sku_id, shopper = asked(client, admin_headers, shop, kind="return_refund")
    here = f"{console_url}/console/after-sales/{a['id']}"
    owner_signs_in(page, console_url, f"/console/after-sales/{a['id']}")
    assert RETURN_ADDRESS["detail"] in page.inner_text("#approve-address")  # where the goods will go
    submit(page, "#approve-form", here)
    assert status(page) == "AWAITING_RETURN" and page.inner_text("#after-sale-status") == "待买家寄回"
    assert RETURN_ADDRESS["detail"] in page.inner_text("#return-address")

    r = post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF3300000001"},
             shopper)
    assert r.status_code == 200, r.body
    page.goto(here)
    assert status(page) == "RETURNING" and "SF3300000001" in page.inner_text("#return-shipping")
    before = stock_of(sku_id)
    page.check("#receive-form input[name=restock]")
    submit(page, "#receive-form", here)
    assert "¥10.00" in page.dialogs[-1]
    assert status(page) in ("REFUNDING", "REFUNDED") and "已入库" in page.inner_text("#received")
    assert stock_of(sku_id) == before + 1
    finish_at_wechat(client, shop["sandbox"], wiring.after_sales().detail(a["id"])["refund_id"])
    page.goto(here)
    assert status(page) == "REFUNDED"
    fits(page)
    from tests.browser.conftest import SCREENSHOTS

    (SCREENSHOTS / page.width_name).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / page.width_name / "after-sale-detail.png"), full_page=True)

    page.click("#order-link")
    page.wait_for_url(f"{console_url}/console/orders/{a['order_id']}")
    link = page.locator(f"#order-after-sales a[href='/console/after-sales/{a['id']}']")
    assert link.count() == 1 and "已退款" in page.inner_text("#order-after-sales")


def test_rejecting_needs_a_reason_the_shopper_is_told(browser_page, console_url, client, admin_headers, shop):
    from functions import wiring

    page = browser_page
    from tests.integration.test_storefront import upload

    photos = [upload(client, admin_headers) for _ in range(2)]
    a, _, _ = asked(client, admin_headers, shop, kind="return_refund", reason="NO_LONGER_WANTED", images=photos,
                    description="颜色和图片不一样")
    here = f"{console_url}/console/after-sales/{a['id']}"
    owner_signs_in(page, console_url, f"/console/after-sales/{a['id']}")
    # The shopper's photos: thumbnails that load (the CSP allows the image origin), each
    # a link to the full picture
    links = page.locator("#after-sale-photos a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == photos
    wait_until(lambda: all(page.locator("#after-sale-photos img").evaluate_all(
        "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")))
    assert "颜色和图片不一样" in page.inner_text("#after-sale-description")
    page.fill("#reject-form input[name=reason]", "   ")  # past the browser's `required`, not the server's
    with page.expect_response(f"{here}/reject") as answer:
        page.click("#reject-form button[type=submit]")
    assert answer.value.status == 400
    assert "原因" in page.inner_text("#error-message")
    assert wiring.after_sales().detail(a["id"])["status"] == "REQUESTED"

    page.goto(here)
    page.fill("#reject-form input[name=reason]", "商品已拆封使用,不支持无理由退货")
    submit(page, "#reject-form", here)
    assert status(page) == "REJECTED" and page.inner_text("#after-sale-status") == "已拒绝"
    assert "已拆封" in page.inner_text("#reject-reason")
    assert page.locator("#approve-form, #reject-form, #receive-form").count() == 0
    fits(page)


def test_an_exchange_received_and_its_replacement_shipped(browser_page, console_url, client, admin_headers, shop):
    from functions import wiring

    page = browser_page
    a, sku_id, shopper = asked(client, admin_headers, shop, kind="exchange", reason="WRONG_SIZE")
    here = f"{console_url}/console/after-sales/{a['id']}"
    owner_signs_in(page, console_url, f"/console/after-sales/{a['id']}")
    submit(page, "#approve-form", here)
    assert status(page) == "AWAITING_RETURN"
    post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF3300000002"}, shopper)
    page.goto(here)
    before = stock_of(sku_id)
    submit(page, "#receive-form", here)  # restock left unticked
    assert stock_of(sku_id) == before and "未入库" in page.inner_text("#received")

    courier = wiring.couriers().all()[0]
    page.select_option("#ship-form select[name=express_company]", courier["delivery_id"])
    page.fill("#ship-form input[name=tracking_no]", "SF3300000003")
    submit(page, "#ship-form", here)
    assert status(page) == "EXCHANGED" and page.inner_text("#after-sale-status") == "已换货"
    shipped = page.inner_text("#replacement-shipping")
    assert courier["delivery_name"] in shipped and "SF3300000003" in shipped
    assert wiring.after_sales().detail(a["id"])["replacement_shipping"]["tracking_no"] == "SF3300000003"
    fits(page)


def test_without_a_return_address_the_page_says_so_and_leads_to_the_settings(browser_page, console_url, client,
                                                                             admin_headers, shop):
    page = browser_page
    a, _, _ = asked(client, admin_headers, shop, kind="exchange", reason="WRONG_SIZE")
    assert put(client, "/admin/settings", {"return_address": None}, admin_headers).status_code == 200
    here = f"{console_url}/console/after-sales/{a['id']}"
    owner_signs_in(page, console_url, f"/console/after-sales/{a['id']}")
    assert "还没有设置退货地址" in page.inner_text("#no-return-address")
    assert page.locator("#approve-form button").count() == 0  # nothing to approve it with yet
    page.click("#no-return-address a[href='/console/settings']")
    page.wait_for_url(f"{console_url}/console/settings")
    where = {"name": "换货仓", "phone": "0571-88880000", "detail": "杭州市余杭区文一西路 9 号"}
    for part, value in where.items():
        page.fill(f"#settings-form input[name='return_address.{part}']", value)
    page.click("#settings-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/settings")
    page.goto(here)
    assert where["detail"] in page.inner_text("#approve-address")
    submit(page, "#approve-form", here)
    assert status(page) == "AWAITING_RETURN" and where["detail"] in page.inner_text("#return-address")
    fits(page)
