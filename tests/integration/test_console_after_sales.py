"""The console's after-sales pages against DynamoDB Local and the WeChat Pay sandbox,
without a browser: the queue by status and kind, oldest first; an after-sale's page; the
order page's link; approve, reject, receive (with restock) and ship a replacement, each
the service's own answer, audited with the operator; a wrong CSRF token, a bad field or a
missing return address answers 4xx in Chinese and changes nothing. An operator (not only
the owner) answers after-sales, as with refunds."""

from __future__ import annotations

import os
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests.helpers import body, login, post, put
from tests.integration.test_after_sales import RETURN_ADDRESS, ask, delivered, stock_of
from tests.integration.test_order_summary import refund_notified

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("return_address")]


@pytest.fixture
def return_address(client, admin_headers):
    r = put(client, "/admin/settings", {"return_address": RETURN_ADDRESS}, admin_headers)
    assert r.status_code == 200, r.body


def _console(client, name: str, password: str):
    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in(name, password, "127.0.0.1"))
    csrf = service.csrf_token(cookie)
    base = {"Cookie": f"console_session={cookie}", "Host": "127.0.0.1"}

    class Console:
        def get(self, path, headers: dict | None = None):
            return client.http.get(path, headers={**base, **(headers or {})})

        def post(self, path, fields: list[tuple[str, str]], token: str | None = None):
            return client.http.post(path, body=urlencode([("csrf", token or csrf), *fields]).encode(),
                                    headers={**base, "Content-Type": "application/x-www-form-urlencoded"})

    return Console()


@pytest.fixture
def console(client):
    return _console(client, "owner", os.environ["ADMIN_API_KEY"])


def _after_sale(after_sale_id: str) -> dict:
    from functions import wiring

    return wiring.after_sales().detail(after_sale_id)


def _audit(target: str) -> list[dict]:
    from functions import wiring

    return [e for e in wiring.operators().audit_log(limit=500) if e["target"] == target]


def _asked(client, admin_headers, shop, kind="return_refund", **extra) -> tuple[dict, str, dict]:
    shopper = login(client)
    order, sku_id = delivered(client, admin_headers, shop, shopper)
    r = ask(client, shopper, order["id"], sku_id, kind=kind, **extra)
    assert r.status_code == 201, r.body
    return body(r), sku_id, shopper


def test_the_queue_oldest_first_by_status_and_kind(console, client, admin_headers, shop):
    first, _, _ = _asked(client, admin_headers, shop, kind="refund_only", reason="NOT_RECEIVED")
    time.sleep(1.1)  # created_at is to the second: the queue orders the same second by id
    second, _, _ = _asked(client, admin_headers, shop, kind="exchange", reason="WRONG_SIZE")
    page = console.get("/console/after-sales?limit=100")
    assert page.status_code == 200
    html = page.body.decode()
    assert html.index(first["id"]) < html.index(second["id"])  # oldest first
    assert "仅退款" in html and "换货" in html and "未收到货" in html and "¥10.00" in html
    exchanges = console.get("/console/after-sales?status=REQUESTED&kind=exchange&limit=100").body.decode()
    assert second["id"] in exchanges and first["id"] not in exchanges
    assert first["id"] not in console.get("/console/after-sales?status=REFUNDED&limit=100").body.decode()
    for query in ("status=LOST", "kind=swap", "cursor=forged", "limit=x"):
        answer = console.get(f"/console/after-sales?{query}")
        assert answer.status_code == 400, query
        assert "售后" in answer.body.decode() or "填写" in answer.body.decode() or "整数" in answer.body.decode()


def test_the_queue_a_page_at_a_time(console, client, admin_headers, shop):
    for _ in range(2):
        _asked(client, admin_headers, shop, kind="return_refund")
    html = console.get("/console/after-sales?limit=1").body.decode()
    assert html.count("data-after-sale=") == 1 and 'id="more-row"' in html
    more = html.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rows = console.get(more, {"HX-Request": "true"})  # "more": the next rows alone
    assert rows.status_code == 200 and "<html" not in rows.body.decode() and "data-after-sale=" in rows.body.decode()


def test_an_after_sales_page_and_its_orders_link(console, client, admin_headers, shop):
    a, _, _ = _asked(client, admin_headers, shop, kind="return_refund", description="外盒破损")
    page = console.get(f"/console/after-sales/{a['id']}")
    assert page.status_code == 200
    html = page.body.decode()
    assert f'href="/console/orders/{a["order_id"]}"' in html
    assert "退货退款" in html and "待审核" in html and "商品破损" in html and "外盒破损" in html
    assert "¥10.00" in html  # one of two units of ¥10.00
    assert RETURN_ADDRESS["detail"] in html  # where the goods will go, before approving
    import re

    history = html.split('id="history"')[1]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", history) and not re.search(r"\d{2}:\d{2}:\d{2}Z", html)
    order_page = console.get(f"/console/orders/{a['order_id']}").body.decode()
    assert f'href="/console/after-sales/{a["id"]}"' in order_page
    assert console.get("/console/after-sales/nope").status_code == 404


def test_a_wrong_csrf_token_is_refused_and_changes_nothing(console, client, admin_headers, shop):
    a, _, _ = _asked(client, admin_headers, shop, kind="refund_only", reason="NOT_RECEIVED")
    answer = console.post(f"/console/after-sales/{a['id']}/approve", [], token="forged")
    assert answer.status_code == 403 and "CSRF" in answer.body.decode()
    assert _after_sale(a["id"])["status"] == "REQUESTED" and _audit(a["id"]) == []


def test_approving_a_refund_only_refunds_it_and_is_audited(console, client, admin_headers, shop):
    a, _, shopper = _asked(client, admin_headers, shop, kind="refund_only", reason="NOT_RECEIVED", amount=800)
    answer = console.post(f"/console/after-sales/{a['id']}/approve", [("note", "长" * 201)])
    assert answer.status_code == 400 and "备注" in answer.body.decode()
    assert _after_sale(a["id"])["status"] == "REQUESTED" and _audit(a["id"]) == []
    assert not [r for r in shop["sandbox"].refunds.values() if r["out_trade_no"] == a["order_id"]]
    answer = console.post(f"/console/after-sales/{a['id']}/approve", [("note", "同意")])
    assert answer.status_code == 303, answer.body[:400]
    done = _after_sale(a["id"])
    assert done["status"] == "REFUNDING" and done["history"][-1]["by"] == "owner"
    assert done["history"][-1]["note"] == "同意"
    [line] = _audit(a["id"])
    assert (line["operator"], line["action"], line["amount"], line["outcome"]) == ("owner", "after_sale.approve",
                                                                                  800, "DONE")
    refund_notified(client, shop["sandbox"], done["refund_id"])
    html = console.get(f"/console/after-sales/{a['id']}").body.decode()
    assert 'data-status="REFUNDED"' in html and "已退款" in html and "操作员 owner" in html and "买家" in html
    # approved again: the state it is in, nothing twice
    assert console.post(f"/console/after-sales/{a['id']}/approve", []).status_code in (303, 409)
    assert len([r for r in shop["sandbox"].refunds.values() if r["out_trade_no"] == a["order_id"]]) == 1


def test_an_operator_answers_after_sales_as_with_refunds(client, admin_headers, shop):
    name = "as" + uuid.uuid4().hex[:8]
    r = post(client, "/admin/operators", {"name": name, "password": "correct horse 21", "role": "operator"},
             admin_headers)
    assert r.status_code == 201, r.body
    operator = _console(client, name, "correct horse 21")
    a, _, shopper = _asked(client, admin_headers, shop, kind="return_refund")
    assert operator.get("/console/after-sales").status_code == 200
    answer = operator.post(f"/console/after-sales/{a['id']}/approve", [])
    assert answer.status_code == 303, answer.body[:400]
    done = _after_sale(a["id"])
    assert done["status"] == "AWAITING_RETURN" and done["history"][-1]["by"] == name
    assert [e["operator"] for e in _audit(a["id"])] == [name]
    # the shopper sees the shop, never an operator's name (half of their console sign-in)
    theirs = body(client.http.get(f"/after-sales/{a['id']}", headers=shopper))
    assert theirs["history"][-1]["by"] == "owner" and name not in str(theirs)


def test_rejecting_needs_a_reason(console, client, admin_headers, shop):
    a, _, _ = _asked(client, admin_headers, shop)
    for reason in ("", "   ", "x" * 201):
        answer = console.post(f"/console/after-sales/{a['id']}/reject", [("reason", reason)])
        assert answer.status_code == 400, reason
        assert "原因" in answer.body.decode()
    assert _after_sale(a["id"])["status"] == "REQUESTED" and _audit(a["id"]) == []
    answer = console.post(f"/console/after-sales/{a['id']}/reject", [("reason", "照片看不出破损")])
    assert answer.status_code == 303
    done = _after_sale(a["id"])
    assert done["status"] == "REJECTED" and done["reject_reason"] == "照片看不出破损"
    assert [e["action"] for e in _audit(a["id"])] == ["after_sale.reject"]
    # a rejected after-sale takes no receipt: Chinese 409, nothing changes
    answer = console.post(f"/console/after-sales/{a['id']}/receive", [("restock", "1")])
    assert answer.status_code == 409 and "状态" in answer.body.decode()
    assert _after_sale(a["id"])["status"] == "REJECTED"


def test_approving_a_return_without_a_return_address_says_so_and_changes_nothing(console, client, admin_headers,
                                                                                  shop):
    a, _, _ = _asked(client, admin_headers, shop)
    assert put(client, "/admin/settings", {"return_address": None}, admin_headers).status_code == 200
    try:
        html = console.get(f"/console/after-sales/{a['id']}").body.decode()
        assert 'id="no-return-address"' in html and 'href="/console/settings"' in html
        answer = console.post(f"/console/after-sales/{a['id']}/approve", [])
        assert answer.status_code == 409 and "退货地址" in answer.body.decode()
        assert _after_sale(a["id"])["status"] == "REQUESTED" and _audit(a["id"]) == []
    finally:
        put(client, "/admin/settings", {"return_address": RETURN_ADDRESS}, admin_headers)


def test_a_return_received_with_restock_is_refunded_and_back_in_stock(console, client, admin_headers, shop):
    a, sku_id, shopper = _asked(client, admin_headers, shop, quantity=2)
    assert console.post(f"/console/after-sales/{a['id']}/approve", []).status_code == 303
    r = post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF77"}, shopper)
    assert r.status_code == 200, r.body
    html = console.get(f"/console/after-sales/{a['id']}").body.decode()
    assert "SF77" in html and RETURN_ADDRESS["detail"] in html
    before = stock_of(sku_id)
    for odd in ("yes", "0", "true"):
        answer = console.post(f"/console/after-sales/{a['id']}/receive", [("restock", odd)])
        assert answer.status_code == 400 and "入库" in answer.body.decode()
        assert _after_sale(a["id"]).get("received_at") is None and stock_of(sku_id) == before
    answer = console.post(f"/console/after-sales/{a['id']}/receive", [("restock", "1")])
    assert answer.status_code == 303, answer.body[:400]
    done = _after_sale(a["id"])
    assert done["status"] == "REFUNDING" and done["restocked"] and stock_of(sku_id) == before + 2
    refund_notified(client, shop["sandbox"], done["refund_id"])
    assert _after_sale(a["id"])["status"] == "REFUNDED"
    # (audit lines of the same second are in no particular order)
    assert sorted(e["action"] for e in _audit(a["id"])) == ["after_sale.approve", "after_sale.receive"]


def test_an_exchange_is_received_without_restock_and_its_replacement_shipped(console, client, admin_headers, shop):
    a, sku_id, shopper = _asked(client, admin_headers, shop, kind="exchange", reason="WRONG_SIZE")
    assert console.post(f"/console/after-sales/{a['id']}/approve", []).status_code == 303
    post(client, f"/after-sales/{a['id']}/return", {"express_company": "SF", "tracking_no": "SF78"}, shopper)
    before = stock_of(sku_id)
    assert console.post(f"/console/after-sales/{a['id']}/receive", []).status_code == 303
    assert stock_of(sku_id) == before and _after_sale(a["id"])["received_at"]
    courier = _a_courier()
    for fields in ([("express_company", courier)], [("tracking_no", "SF79")],
                   [("express_company", "NOT-A-COURIER"), ("tracking_no", "SF79")],
                   [("express_company", courier), ("tracking_no", "x" * 129)]):
        answer = console.post(f"/console/after-sales/{a['id']}/ship", fields)
        assert answer.status_code == 400, fields
        assert _after_sale(a["id"])["status"] == "RETURNING"
    answer = console.post(f"/console/after-sales/{a['id']}/ship", [("express_company", courier),
                                                                    ("tracking_no", "SF79")])
    assert answer.status_code == 303, answer.body[:400]
    done = _after_sale(a["id"])
    assert done["status"] == "EXCHANGED"
    assert done["replacement_shipping"] == {"logistics_type": "express", "express_company": courier,
                                            "tracking_no": "SF79"}
    html = console.get(f"/console/after-sales/{a['id']}").body.decode()
    assert "已换货" in html and "SF79" in html


def _a_courier() -> str:
    from functions import wiring

    return wiring.couriers().all()[0]["delivery_id"]


def test_the_return_address_is_set_on_the_settings_page_all_three_or_none(console, client, admin_headers):
    from functions import wiring

    where = {"name": "售后仓", "phone": "021-66660000", "detail": "上海市闵行区申长路 8 号"}
    page = console.get("/console/settings").body.decode()
    assert 'name="return_address.phone"' in page and RETURN_ADDRESS["detail"] in page
    saved = wiring.shop_settings().get()
    for wrong in ({**where, "phone": ""}, {**where, "phone": "call me"}, {**where, "detail": "x" * 201}):
        answer = console.post("/console/settings", [(f"return_address.{k}", v) for k, v in wrong.items()])
        assert answer.status_code == 400, wrong
        assert 'data-field="return_address.' in answer.body.decode()
        assert wiring.shop_settings().get() == saved
    answer = console.post("/console/settings", [(f"return_address.{k}", v) for k, v in where.items()])
    assert answer.status_code == 303, answer.body[:400]
    assert wiring.shop_settings().get()["return_address"] == where
    lines = [e["detail"] or "" for e in wiring.operators().audit_log(limit=500) if e["action"] == "settings.update"]
    assert any("退货地址: 已修改" in d for d in lines)
    assert not any(where["phone"] in d or where["detail"] in d for d in lines)  # never logged
    answer = console.post("/console/settings", [(f"return_address.{k}", "") for k in where])
    assert answer.status_code == 303 and wiring.shop_settings().get()["return_address"] is None


@pytest.mark.parametrize("odd", ["A", "AA", "oA", "o" * 1500 + "A1", "%E2%80%AE", "%E5%BC%A0A%20"])
def test_an_after_sale_id_that_is_not_one_is_a_404_never_a_5xx(console, client, admin_headers, odd):
    assert console.get(f"/console/after-sales/{odd}").status_code == 404
    assert client.http.get(f"/admin/after-sales/{odd}", headers=admin_headers).status_code in (400, 404)
    assert console.post(f"/console/after-sales/{odd}/reject", [("reason", "x")]).status_code == 404
