"""The console's orders, refunds and sessions in Chromium: find a buyer's
orders by phone over a date range (a page at a time); refund part of a paid order from
its page; send an abnormal refund to a bank card; a signed-out session cookie no longer
works; a disabled operator cannot sign in nor use a session already open; a password
reset ends the operator's sessions; error pages speak Chinese."""

from __future__ import annotations

import os
import random
import re
import uuid
from datetime import date, timedelta

import pytest
import requests

from tests.browser.test_console import owner_signs_in, sign_in
from tests.integration.test_miniprogram_platform import paid_order

pytestmark = pytest.mark.integration

LATIN_PROSE = re.compile(r"[A-Za-z]{4,} [A-Za-z]{3,}")  # two English words in a row


def chinese_error(page) -> str:
    text = page.inner_text("#error-message")
    assert re.search(r"[\u4e00-\u9fff]", text) and not LATIN_PROSE.search(text), text
    return text


def beijing_today() -> date:
    from layers.clock import iso, now
    from layers.domain.analytics import day_of

    return date.fromisoformat(day_of(iso(now())))


def an_operator(console_url: str) -> str:
    name = "op" + uuid.uuid4().hex[:8]
    r = requests.post(f"{console_url}/admin/operators", timeout=10,
                      json={"name": name, "password": "correct horse 21", "role": "operator"},
                      headers={"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"})
    assert r.status_code == 201, r.text
    return name


def test_find_a_buyers_orders_by_phone_over_a_date_range_a_page_at_a_time(browser_page, console_url, client,
                                                                          admin_headers, shop):
    from tests.helpers import ADDRESS, body, create_product, login, order_payload, post

    page = browser_page
    phone = "137" + f"{random.randrange(10**8):08d}"
    product = create_product(client, admin_headers, price=1200, stock=10, title="按手机找-" + uuid.uuid4().hex[:4])
    shopper = login(client)
    made = []
    for _ in range(3):
        r = post(client, "/orders", order_payload(product["skus"][0]["id"], 1,
                                                  address={**ADDRESS, "phone": f"+86 {phone}"}), shopper)
        assert r.status_code == 201, r.body
        made.append(body(r)["id"])
    other, _ = paid_order(client, admin_headers, shop["sandbox"])  # another buyer's phone
    from functions import wiring

    # newest first (to the second; then by order id)
    made.sort(key=lambda i: (wiring.orders().get(i).created_at, i))

    today = beijing_today()
    owner_signs_in(page, console_url)
    page.fill("#order-filters input[name=from]", (today - timedelta(days=6)).isoformat())
    page.fill("#order-filters input[name=to]", today.isoformat())
    page.fill("#order-filters input[name=phone]", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}")
    page.click("#order-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/orders\?.*phone="))
    rows = page.locator("#orders tr[data-order]")
    assert [rows.nth(i).get_attribute("data-order") for i in range(rows.count())] == made[::-1]
    assert other not in page.inner_text("#orders")
    assert "手机号" in page.inner_text("#orders-hint")

    # A page at a time: "more" appends the next rows in place (htmx)
    page.goto(page.url + "&limit=2")
    assert page.locator("#orders tr[data-order]").count() == 2
    page.click("#more-row button")
    page.wait_for_selector(f"#orders tr[data-order='{made[0]}']")
    assert [page.locator("#orders tr[data-order]").nth(i).get_attribute("data-order") for i in range(3)] \
        == made[::-1]
    assert page.locator("#more-row").count() == 0

    # The range is the days the orders were placed: a range before today finds none of them
    yesterday = (today - timedelta(days=1)).isoformat()
    page.goto(f"{console_url}/console/orders?from={yesterday}&to={yesterday}&phone={phone}")
    assert page.locator("#orders tr[data-order]").count() == 0
    # By status: none of these is paid
    page.goto(f"{console_url}/console/orders?phone={phone}&status=PAID")
    assert page.locator("#orders tr[data-order]").count() == 0
    page.goto(f"{console_url}/console/orders?phone={phone}&status=PENDING_PAYMENT")
    assert page.locator("#orders tr[data-order]").count() == 3

    # Bad filters are a 400 page in Chinese
    for query in ("status=LOST", f"from={(today - timedelta(days=40)).isoformat()}&to={today.isoformat()}",
                  "phone=12", "cursor=forged"):
        answer = page.goto(f"{console_url}/console/orders?{query}")
        assert answer.status == 400, query
        chinese_error(page)


def test_a_partial_refund_from_the_order_page_is_sent_and_audited(browser_page, console_url, client,
                                                                  admin_headers, shop):
    from functions import wiring
    from tests.integration.test_money_vs_wechat import finish_at_wechat

    page = browser_page
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])  # 2 × ¥25.90
    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    assert page.inner_text("#refundable") == "¥51.80"

    # More than is left: a Chinese 4xx page, and nothing changes
    page.fill("#refund-form input[name=amount]", "60")
    page.fill("#refund-form input[name=reason]", "多退")
    with page.expect_response(f"{console_url}/console/orders/{order_id}/refunds") as answer:
        page.click("#refund-form button[type=submit]")
    assert answer.value.status == 422
    assert "可退金额" in chinese_error(page)
    assert wiring.refunds().for_order(order_id) == []

    page.goto(f"{console_url}/console/orders/{order_id}")
    page.fill("#refund-form input[name=amount]", "12.50")
    page.fill("#refund-form input[name=reason]", "少发一件")
    page.click("#refund-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    [refund] = wiring.refunds().for_order(order_id)
    assert refund["amount"] == 1250 and refund["reason"] == "少发一件"
    assert refund["status"] in ("PROCESSING", "SUCCESS")  # sent to WeChat Pay at once
    row = page.locator("#refunds tr", has_text=refund["id"]).inner_text()
    assert "¥12.50" in row and "少发一件" in row
    assert page.inner_text("#refundable") == "¥39.30"
    assert [no for no, r in shop["sandbox"].refunds.items() if r["out_trade_no"] == order_id] == [refund["id"]]

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=refund["id"]).inner_text()
    assert "owner" in entry and "退款" in entry and "¥12.50" in entry

    finish_at_wechat(client, shop["sandbox"], refund["id"])
    page.goto(f"{console_url}/console/orders/{order_id}")
    assert "已退款" in page.locator("#refunds tr", has_text=refund["id"]).inner_text()


def test_a_refund_of_a_picked_line_refunds_what_its_units_paid(browser_page, console_url, client,
                                                                admin_headers, shop):
    from functions import wiring

    page = browser_page
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])  # 2 × ¥25.90
    owner_signs_in(page, console_url, f"/console/orders/{order_id}")
    line = page.locator("#refund-lines tr[data-line='0']")
    assert line.locator(".left").inner_text() == "2" and "¥51.80" in line.inner_text()

    # An amount and picked units together: a Chinese 400 page, and nothing changes
    page.fill("#refund-form input[name=amount]", "1")
    page.fill("#refund-form input[name=qty_0]", "1")
    page.fill("#refund-form input[name=reason]", "两样都填")
    with page.expect_response(f"{console_url}/console/orders/{order_id}/refunds") as answer:
        page.click("#refund-form button[type=submit]")
    assert answer.value.status == 400
    assert "二选一" in chinese_error(page)
    assert wiring.refunds().for_order(order_id) == []

    page.goto(f"{console_url}/console/orders/{order_id}")
    page.fill("#refund-form input[name=qty_0]", "1")
    page.fill("#refund-form input[name=reason]", "退一件")
    page.click("#refund-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/orders/{order_id}")
    [refund] = wiring.refunds().for_order(order_id)
    assert refund["amount"] == 2590 and refund["reason"] == "退一件"
    sku_id = wiring.orders().get(order_id).items[0]["sku_id"]
    assert refund["items"] == [{"sku_id": sku_id, "quantity": 1, "amount": 2590}]
    assert page.inner_text("#refundable") == "¥25.90"
    title = wiring.orders().get(order_id).items[0]["title"]
    assert page.locator("#refunds tr", has_text=refund["id"]).locator(".refund-items").inner_text() == f"{title}×1"
    assert page.locator("#refund-lines tr[data-line='0'] .left").inner_text() == "1"
    assert page.locator("#refund-form input[name=qty_0]").get_attribute("max") == "1"
    assert wiring.orders().get(order_id, consistent=True).line_refunds == {"0": {"units": 1, "amount": 2590}}

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=refund["id"]).inner_text()
    assert "¥25.90" in entry


def test_an_abnormal_refund_is_sent_to_the_buyers_bank_card_by_the_owner(browser_page, chromium, console_url,
                                                                         client, admin_headers, shop):
    from functions import wiring
    from tests.helpers import body, post
    from tests.integration.test_money_vs_wechat import finish_at_wechat, paid
    from tests.integration.test_payments import deliver

    box = shop["sandbox"]
    order, shopper = paid(client, admin_headers, box)
    refund = body(post(client, f"/orders/{order['id']}/refunds", {"reason": "坏了"}, shopper))
    resource = box.finish_refund(refund["id"], "ABNORMAL", notify=False)
    headers, raw = box.build_notification("REFUND.ABNORMAL", resource)
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)

    # An operator sees it in the ABNORMAL tab but cannot send it
    name = an_operator(console_url)
    context = chromium.new_context(locale="zh-CN")
    try:
        other = context.new_page()
        sign_in(other, console_url, name, "correct horse 21", "/console/refunds?status=ABNORMAL")
        row = other.locator(f"tr[data-refund='{refund['id']}']")
        assert row.locator("form.abnormal-form").count() == 0 and "需店主" in row.inner_text()
        token = other.eval_on_selector("header.top input[name=csrf]", "el => el.value")
        answer = other.request.post(f"{console_url}/console/refunds/{refund['id']}/abnormal-refund",
                                    form={"csrf": token, "type": "MERCHANT_BANK_CARD"})
        assert answer.status == 403
    finally:
        context.close()

    page = browser_page
    owner_signs_in(page, console_url, "/console/refunds?status=ABNORMAL")
    form = page.locator(f"tr[data-refund='{refund['id']}'] form.abnormal-form")
    form.locator("select[name=type]").select_option("USER_BANK_CARD")
    form.locator("input[name=bank_type]").fill("ICBC_DEBIT")
    form.locator("button[type=submit]").click()  # no card number: a Chinese 400 page, nothing sent
    page.wait_for_load_state()
    assert "填写的内容有误" in chinese_error(page)
    assert wiring.refund_repository().get(order["id"], refund["id"]).status == "ABNORMAL"

    page.goto(f"{console_url}/console/refunds?status=ABNORMAL")
    form = page.locator(f"tr[data-refund='{refund['id']}'] form.abnormal-form")
    form.locator("select[name=type]").select_option("USER_BANK_CARD")
    form.locator("input[name=bank_type]").fill("ICBC_DEBIT")
    form.locator("input[name=bank_account]").fill("6222 0000 1111 2222")
    form.locator("input[name=real_name]").fill("张三")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/refunds?status=ABNORMAL")
    assert page.locator(f"tr[data-refund='{refund['id']}']").count() == 0  # no longer abnormal
    assert wiring.refund_repository().get(order["id"], refund["id"]).status == "PROCESSING"
    applied = [r for r in box.requests_log if r["path"].endswith("/apply-abnormal-refund")]
    assert applied, "the abnormal refund went to WeChat Pay"

    page.goto(f"{console_url}/console/operators")
    entry = page.locator("#audit tr", has_text=refund["id"]).inner_text()
    assert "异常退款" in entry and "银行卡 ****2222" in entry and "6222" not in entry

    finish_at_wechat(client, box, refund["id"])
    assert wiring.refund_repository().get(order["id"], refund["id"]).status == "SUCCESS"
    assert [no for no, r in box.refunds.items() if r["out_trade_no"] == order["id"]] == [refund["id"]]


def test_a_signed_out_session_cookie_no_longer_signs_in(browser_page, chromium, console_url):
    page = browser_page
    owner_signs_in(page, console_url)
    copied = [c for c in page.context.cookies() if c["name"] == "console_session"]
    page.click("header.top form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/login"))

    context = chromium.new_context(locale="zh-CN")  # someone who copied the cookie before
    try:
        context.add_cookies(copied)
        thief = context.new_page()
        thief.goto(f"{console_url}/console/orders")
        assert "/console/login" in thief.url
        answer = thief.request.post(f"{console_url}/console/logout", form={"csrf": "x"})
        assert answer.status == 401
    finally:
        context.close()


def test_a_disabled_operator_cannot_sign_in_nor_use_an_open_session(browser_page, chromium, console_url):
    name = an_operator(console_url)
    context = chromium.new_context(locale="zh-CN")
    try:
        op = context.new_page()
        sign_in(op, console_url, name, "correct horse 21")
        assert op.locator("header.top .me").inner_text().startswith(name)

        page = browser_page
        owner_signs_in(page, console_url, "/console/operators")
        page.locator(f"tr[data-operator='{name}'] form.toggle-form button").click()
        page.wait_for_url(f"{console_url}/console/operators")
        assert page.locator(f"tr[data-operator='{name}'] .state").inner_text() == "已停用"

        op.goto(f"{console_url}/console/orders")  # the open session stopped at once
        assert "/console/login" in op.url
        op.fill("input[name=name]", name)
        op.fill("input[name=password]", "correct horse 21")
        op.click("button[type=submit]")
        op.wait_for_load_state()
        assert "/console/login" in op.url and "停用" in op.inner_text("body")

        # Enabled again, the operator signs in anew; a password reset ends that session too
        page.locator(f"tr[data-operator='{name}'] form.toggle-form button").click()
        page.wait_for_url(f"{console_url}/console/operators")
        sign_in(op, console_url, name, "correct horse 21")
        page.locator(f"tr[data-operator='{name}'] input[name=password]").fill("battery staple 22")
        page.locator(f"tr[data-operator='{name}'] form.password-form button").click()
        page.wait_for_url(f"{console_url}/console/operators")
        op.goto(f"{console_url}/console/orders")
        assert "/console/login" in op.url
        sign_in(op, console_url, name, "battery staple 22")

        page.goto(f"{console_url}/console/operators")
        actions = [page.locator("#audit tr", has_text=name).nth(i).inner_text()
                   for i in range(page.locator("#audit tr", has_text=name).count())]
        assert any("停用操作员" in a and "owner" in a for a in actions)
        assert any("重置密码" in a for a in actions)
    finally:
        context.close()


def test_the_order_page_shows_each_lines_promotion_and_paid(browser_page, console_url, client, admin_headers):
    from datetime import UTC, datetime

    from tests.helpers import body, create_product, login, order_payload, post

    tea = create_product(client, admin_headers, price=20000, stock=5, title="龙井礼盒")
    cup = create_product(client, admin_headers, price=10000, stock=5, title="青瓷杯")
    snack = create_product(client, admin_headers, price=6000, stock=5, title="茶点")
    gift = create_product(client, admin_headers, price=3000, stock=5, title="茶巾")
    gift_sku = gift["skus"][0]["id"]
    now = datetime.now(UTC)
    window = {"starts_at": now.isoformat(), "ends_at": datetime(now.year + 1, 1, 1, tzinfo=UTC).isoformat()}
    made = [body(post(client, "/admin/promotions", {**p, **window}, admin_headers))["id"] for p in (
        {"name": "满300减50", "kind": "amount_off", "tiers": [{"threshold": 30000, "value": 5000}],
         "scope": {"product_ids": [tea["id"], cup["id"]]}},
        # a line takes part in one promotion only: the gift is for the snack, outside the 满减
        {"name": "满50送茶巾", "kind": "gift", "tiers": [{"threshold": 5000, "value": 1}], "gift_sku_id": gift_sku,
         "scope": {"product_ids": [snack["id"]]}})]
    try:
        payload = {**order_payload(tea["skus"][0]["id"]), "items": [
            {"sku_id": tea["skus"][0]["id"], "quantity": 1}, {"sku_id": cup["skus"][0]["id"], "quantity": 1},
            {"sku_id": snack["skus"][0]["id"], "quantity": 1}]}
        order = body(post(client, "/orders", payload, login(client)))
    finally:
        for promotion_id in made:
            post(client, f"/admin/promotions/{promotion_id}/stop", None, admin_headers)
    page = browser_page
    owner_signs_in(page, console_url, f"/console/orders/{order['id']}")
    cup_line = page.locator(f"#lines tr[data-sku='{cup['skus'][0]['id']}']")
    assert "满300减50" in cup_line.locator(".promotion").inner_text()
    assert cup_line.locator(".paid").inner_text() == "¥83.33"
    gift_line = page.locator(f"#lines tr[data-sku='{gift_sku}']")
    assert "赠品" in gift_line.inner_text() and gift_line.locator(".paid").inner_text() == "¥0.00"
    assert "满50送茶巾" in gift_line.locator(".promotion").inner_text()
    assert page.locator(f"#lines tr[data-sku='{snack['skus'][0]['id']}'] .paid").inner_text() == "¥60.00"
    assert "促销 ¥50.00" in page.inner_text("#amounts")
    page.locator(f"#lines tr[data-sku='{cup['skus'][0]['id']}']").scroll_into_view_if_needed()
    assert cup_line.is_visible()
