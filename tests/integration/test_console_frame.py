"""The console's frame over HTTP (Chalice's test client on DynamoDB Local): what a page
says about money (a balance-paid order's sum and where its refund goes), the settings form
in a manager's units with its errors next to the fields, and the pickers."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.helpers import create_product, login, order_payload
from tests.integration.test_members import place, topped_up

pytestmark = pytest.mark.integration


@pytest.fixture
def owner(client):
    import os

    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"]))
    return {"cookie": f"console_session={cookie}", "csrf": service.csrf_token(cookie)}


def get(client, owner, path: str, **headers) -> tuple[int, str]:
    r = client.http.get(path, headers={"Cookie": owner["cookie"], "Host": "127.0.0.1", **headers})
    return r.status_code, r.body.decode()


def post_form(client, owner, path: str, fields: dict) -> tuple[int, str, dict]:
    from urllib.parse import urlencode

    r = client.http.post(path, body=urlencode({"csrf": owner["csrf"], **fields}),
                         headers={"Cookie": owner["cookie"], "Host": "127.0.0.1",
                                  "Content-Type": "application/x-www-form-urlencoded"})
    return r.status_code, r.body.decode(), r.headers


def text(page: str) -> str:
    """What a person reads: the page without its tags, scripts and attributes."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_balance_paid_orders_page_adds_up_to_what_was_paid_and_refunds_to_the_balance(
        client, admin_headers, shop, owner):
    from functions import wiring
    from layers.domain.members import POINTS, Movement
    from layers.storage.tx import Tx

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000)
    user = shopper["X-User-Id"]
    tx = Tx()
    wiring.member_repository().stage_move(tx, Movement(user, POINTS, f"test#{uuid.uuid4().hex}", "grant",
                                                       "2026-11-29T00:00:00Z", available=1000), None, None)
    tx.commit()
    sku_id = create_product(client, admin_headers, price=2000, stock=5)["skus"][0]["id"]
    order = place(user, sku_id, pay_with="balance", points=800)
    assert order["status"] == "PAID" and order["amounts"]["points_discount"] == 800
    assert order["amounts"]["payable"] == 1200

    status, page = get(client, owner, f"/console/orders/{order['id']}")
    assert status == 200
    read = text(page)
    # goods − points + shipping = what the balance paid (the points discount was left out)
    assert re.search(r"商品 ¥20\.00 − 积分抵扣 ¥8\.00 \+ 运费 ¥0\.00 = 余额支付 ¥12\.00", read), read
    # the refund goes back to the balance, not through WeChat Pay
    assert "退回买家的余额" in read and "向微信支付发起退款" not in read
    assert "退回买家余额" in page  # the confirmation asked before the refund says it too


def test_a_wechat_paid_orders_refund_form_says_wechat_pay(client, admin_headers, shop, owner):
    from tests.integration.test_miniprogram_platform import paid_order

    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    read = text(get(client, owner, f"/console/orders/{order_id}")[1])
    assert "向微信支付发起退款" in read and "余额" not in read


def test_settings_are_grouped_in_a_managers_units_and_saved_in_the_apis(client, admin_headers, owner):
    from functions import wiring

    status, page = get(client, owner, "/console/settings")
    assert status == 200
    read = text(page)
    for group in ("订单", "发货与运费", "分销与结算", "会员与积分", "消息"):
        assert f" {group} " in read
    assert "order_payment_timeout_s" not in read and "604800" not in read and "False" not in read
    assert 'type="checkbox" name="transfer_authorization"' in page  # a switch, not a text box

    before = wiring.shop_settings().get()
    fields = {"order_payment_timeout_s": "30", "auto_confirm_receipt_s": "7", "shipping_fee": "8.5",
              "free_shipping_threshold": "99", "share_binding_ttl_s": "3", "commission_freeze_s": "0.5",
              "settlement_mode": "manual", "payout_max_fen": "1000", "transfer_authorization": "1",
              "transfer_display_name": "佣金", "points_per_yuan": "2", "point_value_fen": "0.01",
              "points_max_ratio_bps": "12.5", "subscription_templates.order_paid": "tmpl-paid"}
    try:
        status, _, headers = post_form(client, owner, "/console/settings", fields)
        assert status == 303 and "console_flash=saved" in headers.get("Set-Cookie", "")
        saved = wiring.shop_settings().get()
        assert {k: saved[k] for k in ("order_payment_timeout_s", "auto_confirm_receipt_s", "shipping_fee",
                                      "free_shipping_threshold", "share_binding_ttl_s", "commission_freeze_s",
                                      "settlement_mode", "payout_max_fen", "transfer_authorization",
                                      "points_per_yuan", "point_value_fen", "points_max_ratio_bps")} == {
            "order_payment_timeout_s": 1800, "auto_confirm_receipt_s": 7 * 86400, "shipping_fee": 850,
            "free_shipping_threshold": 9900, "share_binding_ttl_s": 3 * 86400, "commission_freeze_s": 43200,
            "settlement_mode": "manual", "payout_max_fen": 100000, "transfer_authorization": True,
            "points_per_yuan": 2, "point_value_fen": 1, "points_max_ratio_bps": 1250}
        # only the id typed: today's layout
        assert saved["subscription_templates"] == {"order_paid": {"template_id": "tmpl-paid", "fields": {
            "order_id": "character_string1", "amount": "amount2", "note": "thing3"}}}
        # shown again in the manager's units
        page = get(client, owner, "/console/settings")[1]
        assert 'name="order_payment_timeout_s" value="30"' in page and 'name="shipping_fee" value="8.5"' in page
        assert 'name="commission_freeze_s" value="0.5"' in page

        # wrong values: 400, each message next to its field, nothing saved
        wrong = {**fields, "order_payment_timeout_s": "0.5", "shipping_fee": "1.234", "payout_max_fen": "5000",
                 "points_max_ratio_bps": "abc", "auto_confirm_receipt_s": "100", "settlement_mode": "weekly"}
        status, page, _ = post_form(client, owner, "/console/settings", wrong)
        assert status == 400
        assert wiring.shop_settings().get() == saved

        def error_of(key):
            block = re.search(rf'data-field="{re.escape(key)}".*?</div>', page, re.S).group(0)
            found = re.search(r'class="field-error">([^<]+)<', block)
            return found and found.group(1)

        assert error_of("order_payment_timeout_s") == "请填写整数分钟"
        assert error_of("shipping_fee") == "金额最多两位小数"
        assert error_of("points_max_ratio_bps") == "请填写数字"
        assert error_of("settlement_mode") == "请选择一种结算方式"
        assert error_of("transfer_display_name") is None
        assert 'name="shipping_fee" value="1.234"' in page  # what was typed stays in the field
        # bounds are checked once the units are right, and said in the field's unit
        status, page, _ = post_form(client, owner, "/console/settings",
                                    {**fields, "payout_max_fen": "5000", "auto_confirm_receipt_s": "100"})
        assert status == 400 and wiring.shop_settings().get() == saved
        assert error_of("payout_max_fen") == "须小于 2000 元"
        assert error_of("auto_confirm_receipt_s") == "不能大于 60 天"
    finally:
        wiring.shop_settings().update({k: before[k] for k in before})


def test_each_message_template_shows_its_keywords_and_a_layout_that_cannot_be_sent_is_refused_by_its_field(
        client, owner):
    from functions import wiring

    before = wiring.shop_settings().get()
    page = get(client, owner, "/console/settings")[1]
    # no template yet: the id empty, each value's field showing today's keyword
    assert 'name="subscription_templates.order_unpaid" value=""' in page
    assert 'name="subscription_templates.order_unpaid.amount" value="amount2"' in page
    assert "待付金额 的关键词" in text(page)
    theirs = {"subscription_templates.order_unpaid": "tmpl-unpaid",
              "subscription_templates.order_unpaid.order_id": "character_string2",
              "subscription_templates.order_unpaid.amount": "amount1",
              "subscription_templates.order_unpaid.expires_at": "time5",
              "subscription_templates.order_paid": "tmpl-paid",
              "subscription_templates.order_paid.order_id": "character_string1",
              "subscription_templates.order_paid.amount": "amount2",
              "subscription_templates.order_paid.note": ""}
    try:
        status, _, _ = post_form(client, owner, "/console/settings", theirs)
        assert status == 303
        saved = wiring.shop_settings().get()
        assert saved["subscription_templates"] == {
            "order_unpaid": {"template_id": "tmpl-unpaid", "fields": {
                "order_id": "character_string2", "amount": "amount1", "expires_at": "time5"}},
            "order_paid": {"template_id": "tmpl-paid", "fields": {
                "order_id": "character_string1", "amount": "amount2"}}}
        page = get(client, owner, "/console/settings")[1]
        assert 'name="subscription_templates.order_unpaid" value="tmpl-unpaid"' in page
        assert 'name="subscription_templates.order_unpaid.expires_at" value="time5"' in page
        assert 'name="subscription_templates.order_paid.note" value=""' in page

        wrong = {**theirs, "subscription_templates.order_unpaid.amount": "money1",
                 "subscription_templates.order_unpaid.expires_at": "",
                 "subscription_templates.order_unpaid.order_id": "thing2"}
        status, page, _ = post_form(client, owner, "/console/settings", wrong)
        assert status == 400 and wiring.shop_settings().get() == saved

        def error_of(key):
            block = re.search(rf'data-field="{re.escape(key)}".*?</div>', page, re.S).group(0)
            found = re.search(r'class="field-error">([^<]+)<', block)
            return found and found.group(1)

        assert error_of("subscription_templates.order_unpaid.amount").startswith("不是微信的关键词")
        assert error_of("subscription_templates.order_unpaid.expires_at").startswith("这条消息需要这一项")
        assert "字符串(character_string)" in error_of("subscription_templates.order_unpaid.order_id")
        assert error_of("subscription_templates.order_unpaid") is None
        assert 'name="subscription_templates.order_unpaid.amount" value="money1"' in page  # as typed
    finally:
        wiring.shop_settings().update({k: before[k] for k in before})


def test_the_courier_is_chosen_from_wechats_list_its_name_shown_and_its_id_sent(client, admin_headers, shop, owner):
    from functions import wiring
    from tests.integration.test_miniprogram_platform import paid_order

    listed = wiring.mini_program().get_delivery_list()  # through the sandbox, as WeChat answers it
    assert {"delivery_id": "SF", "delivery_name": "顺丰速运"} in listed
    order_id, _ = paid_order(client, admin_headers, shop["sandbox"])
    page = get(client, owner, f"/console/orders/{order_id}")[1]
    assert '<option value="SF">顺丰速运</option>' in page

    # a name typed instead of WeChat's id: refused on the form, nothing shipped
    status, page, _ = post_form(client, owner, f"/console/orders/{order_id}/ship",
                                {"logistics_type": "express", "express_company": "顺丰", "tracking_no": "SF1400000031"})
    assert status == 400 and "请从列表中选择" in page
    assert wiring.orders().get(order_id, consistent=True).status == "PAID"

    status, _, headers = post_form(client, owner, f"/console/orders/{order_id}/ship",
                                   {"logistics_type": "express", "express_company": "SF",
                                    "tracking_no": "SF1400000031"})
    assert status == 303 and "console_flash=shipped" in headers.get("Set-Cookie", "")
    assert wiring.orders().get(order_id, consistent=True).shipping["express_company"] == "SF"
    read = text(get(client, owner, f"/console/orders/{order_id}")[1])
    assert "物流:顺丰速运 SF1400000031(快递)" in read


def test_the_pickers_find_skus_by_title_and_shoppers_by_phone_or_order_number(client, admin_headers, owner):
    from tests.helpers import ADDRESS, body, post

    title = "拾色器-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, price=1234, stock=7, title=title)
    sku_id = product["skus"][0]["id"]
    status, page = get(client, owner, f"/console/pickers/skus?sku_q={title[-6:].upper()}", **{"HX-Request": "true"})
    assert status == 200 and page.lstrip().startswith('<select name="sku_id" required')
    assert re.search(rf'<option value="{sku_id}">{re.escape(title)}[^<]*¥12\.34 · 库存 7</option>', page), page
    assert sku_id not in get(client, owner, "/console/pickers/skus?sku_q=没有这种商品")[1]

    shopper = login(client)
    phone = "1371234" + uuid.uuid4().hex[:4].translate(str.maketrans("abcdef", "123456"))
    order = body(post(client, "/orders", order_payload(sku_id, address={**ADDRESS, "name": "赵六", "phone": phone}),
                      shopper))
    for query in (phone, order["id"]):
        page = get(client, owner, f"/console/pickers/shoppers?field=manager_id&manager_id_q={query}&optional=1")[1]
        assert f'<option value="{shopper["X-User-Id"]}" selected>赵六 {phone[:3]}****{phone[-4:]}' in page, page
        assert page.lstrip().startswith('<select name="manager_id"') and phone not in page  # masked
    assert 'value=""' in get(client, owner, "/console/pickers/shoppers?user_id_q=13900000000")[1]
