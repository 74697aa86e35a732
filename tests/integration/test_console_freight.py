"""The console's freight template forms against DynamoDB Local, without a browser: the form in
yuan and kilograms becomes the API's template in fen and grams; a wrong field is a 400 in
Chinese beside that field and changes nothing; one more row is shown without saving; an edit
from a stale page is 409; a product's page picks a template by name; an order's page shows
the freight breakdown it carries."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def console(client):
    import os

    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"], "127.0.0.1"))
    csrf = service.csrf_token(cookie)
    base = {"Cookie": f"console_session={cookie}", "Host": "127.0.0.1"}

    class Console:
        def get(self, path):
            return client.http.get(path, headers=base)

        def post(self, path, fields: list[tuple[str, str]]):
            return client.http.post(path, body=urlencode([("csrf", csrf), *fields]).encode(),
                                    headers={**base, "Content-Type": "application/x-www-form-urlencoded"})

    return Console()


def form(label: str, **changes) -> list[tuple[str, str]]:
    """By weight: the first 1 kg ¥8, each further 0.5 kg ¥3; 新疆 and 西藏 ¥20 + ¥15 a kg;
    江浙沪 free from ¥99; 香港 not delivered to."""
    fields = {"name": label, "charge_by": "weight", "regions": "2", "frees": "2",
              "d_first": "1", "d_first_fee": "8", "d_additional": "0.5", "d_additional_fee": "3",
              "r0_p": ["新疆维吾尔自治区", "西藏自治区"], "r0_first": "1", "r0_first_fee": "20", "r0_additional": "1",
              "r0_additional_fee": "15",
              "r1_p": [], "r1_first": "", "r1_first_fee": "", "r1_additional": "", "r1_additional_fee": "",
              "f0_p": ["上海市", "江苏省", "浙江省"], "f0_min_amount": "99", "f0_min_pieces": "",
              "f1_p": [], "f1_min_amount": "", "f1_min_pieces": "", "u_p": ["香港特别行政区"], **changes}
    out = []
    for key, value in fields.items():
        out += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    return out


def templates() -> dict:
    from functions import wiring
    from layers.domain.freight import template_view

    return {t.template_id: template_view(t) for t in wiring.freight_templates().all()}


def made_named(name: str) -> dict:
    [found] = [t for t in templates().values() if t["name"] == name]
    return found


def test_the_form_in_yuan_and_kilograms_is_the_template_in_fen_and_grams(console):
    name = "按重-" + uuid.uuid4().hex[:6]
    answer = console.post("/console/freight-templates", form(name))
    assert answer.status_code == 303, answer.body[:500]
    t = made_named(name)
    assert t["charge_by"] == "weight"
    assert t["default"] == {"first": 1000, "first_fee": 800, "additional": 500, "additional_fee": 300}
    assert t["regions"] == [{"provinces": ["西藏自治区", "新疆维吾尔自治区"], "first": 1000, "first_fee": 2000,
                             "additional": 1000, "additional_fee": 1500}]  # the blank row left out
    assert t["free"] == [{"provinces": ["上海市", "江苏省", "浙江省"], "min_amount": 9900, "min_pieces": None}]
    assert t["undeliverable"] == ["香港特别行政区"]

    page = console.get("/console/freight-templates").body.decode()
    row = page[page.find(f'data-template="{t["id"]}"'):]
    assert "首重 1 千克 ¥8.00,续重每 0.5 千克 ¥3.00" in row
    assert "西藏、新疆:首重 1 千克 ¥20.00,续重每 1 千克 ¥15.00" in row and "上海、江苏、浙江 满 ¥99.00 包邮" in row

    edit = console.get(f"/console/freight-templates/{t['id']}").body.decode()
    assert 'name="d_first" inputmode="decimal" value="1"' in edit and 'name="d_first_fee" inputmode="decimal" value="8.00"' in edit
    assert re.search(r'name="r0_p" value="新疆维吾尔自治区" checked', edit)
    assert 'name="version" value="1"' in edit

    answer = console.post(f"/console/freight-templates/{t['id']}",
                          form(name, version="1", charge_by="piece", d_first="2", d_additional="1", u_p=[]))
    assert answer.status_code == 303, answer.body[:500]
    edited = made_named(name)
    assert (edited["charge_by"], edited["default"]["first"], edited["undeliverable"], edited["version"]) == (
        "piece", 2, [], 2)

    from functions import wiring  # in the operators' words

    lines = [e for e in wiring.operators().audit_log() if e["target"] == t["id"]]
    assert sorted(e["action"] for e in lines) == ["freight.create", "freight.edit"]
    assert {e["detail"] for e in lines} == {name}


@pytest.mark.parametrize(("changes", "key", "said"), [
    ({"d_first_fee": "8.123"}, "d_first_fee", "最多两位小数"),
    ({"d_first": "1.2345"}, "d_first", "最多三位小数"),
    ({"d_first": "0"}, "d_first", "不能小于 0.001 千克"),
    ({"d_first": ""}, "d_first", "请填写"),
    ({"name": ""}, "name", "请填写名称"),
    ({"r0_first_fee": "-1"}, "r0_first_fee", "金额"),
    ({"r1_p": ["西藏自治区"], "r1_first": "1", "r1_first_fee": "9"}, "r1_p", "西藏 已在上面的地区里"),
    ({"u_p": ["新疆维吾尔自治区"]}, "u_p", "新疆 已设了地区运费"),
    ({"f1_min_pieces": "abc"}, "f1_min_pieces", "整数"),
    ({"r0_p": [], "r0_first": "1"}, "r0_p", "请至少选择一个省份"),
    ({"d_first_fee": "200000"}, "d_first_fee", "须在 0.00 到 100000.00 元之间"),
])
def test_a_wrong_field_is_said_beside_it_in_chinese_and_nothing_changes(console, changes, key, said):
    name = "错-" + uuid.uuid4().hex[:6]
    assert console.post("/console/freight-templates", form(name)).status_code == 303
    before = templates()
    t = made_named(name)
    for path in ("/console/freight-templates", f"/console/freight-templates/{t['id']}"):
        answer = console.post(path, form(name, version="1", **changes))
        assert answer.status_code == 400, (path, answer.status_code)
        page = answer.body.decode()
        error = re.search(rf'<p class="field-error" data-for="{key}">([^<]*)</p>', page)
        assert error and said in error.group(1), page[page.find("field-error") - 200:][:600]
        assert "本次没有保存任何更改" in page
        typed = dict(form(name, **changes))
        assert f'value="{typed.get("d_first_fee")}"' in page  # what was typed is kept
    assert templates() == before


def test_one_more_row_is_shown_with_what_was_typed_and_nothing_saved(console):
    name = "加行-" + uuid.uuid4().hex[:6]
    before = templates()
    answer = console.post("/console/freight-templates", form(name, more="region"))
    assert answer.status_code == 200
    page = answer.body.decode()
    assert 'id="region-2"' in page and 'name="regions" value="3"' in page
    assert re.search(r'name="r0_p" value="西藏自治区" checked', page) and f'value="{name}"' in page
    assert templates() == before
    answer = console.post("/console/freight-templates", form(name, more="free"))
    assert 'id="free-2"' in answer.body.decode()
    assert templates() == before


def test_an_edit_from_a_page_read_before_anothers_edit_is_409_and_keeps_the_other(console):
    name = "并发-" + uuid.uuid4().hex[:6]
    console.post("/console/freight-templates", form(name))
    t = made_named(name)
    assert console.post(f"/console/freight-templates/{t['id']}", form(name, version="1", d_first_fee="9")).status_code == 303
    stale = console.post(f"/console/freight-templates/{t['id']}", form(name, version="1", d_first_fee="7"))
    assert stale.status_code == 409 and "已被他人修改" in stale.body.decode()
    assert made_named(name)["default"]["first_fee"] == 900


def test_a_product_picks_a_template_by_name_and_an_order_shows_its_freight(console, client, admin_headers):
    from tests.helpers import create_product

    name = "选用-" + uuid.uuid4().hex[:6]
    console.post("/console/freight-templates", form(name))
    t = made_named(name)
    product = create_product(client, admin_headers, price=1990, stock=5, title="运费商品-" + uuid.uuid4().hex[:6])
    page = console.get(f"/console/products/{product['id']}").body.decode()
    assert f'<option value="{t["id"]}">{name}</option>' in page
    sku = product["skus"][0]
    answer = console.post(f"/console/products/{product['id']}", [
        ("title", product["title"]), (f"price_{sku['id']}", "19.90"), ("images", ""), ("detail_images", ""),
        ("description", ""), ("tags", ""), ("sort_weight", "0"), ("category_id", ""),
        ("freight_template_id", t["id"])])
    assert answer.status_code == 303, answer.body[:300]
    assert json.loads(client.http.get(f"/products/{product['id']}").body)["freight_template_id"] == t["id"]
    page = console.get(f"/console/products/{product['id']}").body.decode()
    assert f'<option value="{t["id"]}" selected>{name}</option>' in page


def test_an_orders_page_shows_the_freight_it_was_charged(console, client, admin_headers):
    from tests.helpers import (
        FREIGHT,
        body,
        create_product,
        login,
        order_payload,
        post,
        store_freight,
    )

    sku_id = create_product(client, admin_headers, price=1990, stock=5)["skus"][0]["id"]
    order = body(post(client, "/orders", order_payload(sku_id), login(client)))
    page = console.get(f"/console/orders/{order['id']}").body.decode()
    # placement stores the breakdown: a product without a template is the flat part, here 0
    assert re.search(r'<tr data-rule="flat_free">', page) and 'id="freight-total"' in page
    store_freight(order["id"], None)  # an order placed before breakdowns were kept: nothing shown
    assert 'id="freight"' not in console.get(f"/console/orders/{order['id']}").body.decode()
    store_freight(order["id"], FREIGHT)
    page = console.get(f"/console/orders/{order['id']}").body.decode()
    table = page[page.find('id="freight"'):page.find("</table>", page.find('id="freight"'))]
    cells = [re.sub(r"<[^>]+>", "", row).split("\n") for row in re.findall(r"<tr data-rule[^>]*>(.*?)</tr>", table, re.S)]
    rows = [[c.strip() for c in row if c.strip()] for row in cells]
    assert rows == [["按重量", "3 件,共 1.45 千克", "¥59.70", "按地区", "¥11.00"],
                    ["江浙沪包邮", "1 件", "¥99.00", "包邮", "¥0.00"],
                    ["统一运费", "2 件,共 350 克", "¥20.00", "统一运费", "¥8.00"]]
    assert '<td id="freight-total" data-label="运费合计">¥19.00</td>' in table
