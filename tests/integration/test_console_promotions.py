"""The console's promotions page against DynamoDB Local, without a browser: the form in yuan,
折 and Beijing time becomes the API's promotion in fen, percent and UTC, with products and
categories chosen by name; a wrong field is a 400 in Chinese beside it and saves nothing;
the list shows each promotion's kind, tiers, window, status and figures in yuan; stop."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.helpers import body, create_product, post

pytestmark = pytest.mark.integration


@pytest.fixture
def console(client):
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


@pytest.fixture
def made():
    """Promotions made here, stopped after the test: the shop's live ones are at most 50."""
    names: list[str] = []
    yield names
    from functions import wiring

    for p in promotions():
        if p["name"] in names and p["status"] == "ACTIVE":
            wiring.promotions().stop(p["id"])


def beijing_input(delta: timedelta) -> str:
    return (datetime.now(UTC) + timedelta(hours=8) + delta).strftime("%Y-%m-%dT%H:%M")


def form(name: str, **changes) -> list[tuple[str, str]]:
    fields = {"name": name, "kind": "amount_off", "t0_threshold": "300", "t0_off": "50",
              "t1_threshold": "500", "t1_off": "100.5", "t2_threshold": "", "t2_off": "",
              "starts_at": beijing_input(-timedelta(hours=1)), "ends_at": beijing_input(timedelta(days=2)),
              "with_coupons": "1", **changes}
    out = []
    for key, value in fields.items():
        out += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    return out


def promotions() -> list[dict]:
    from functions import wiring

    return wiring.promotions().page(100, None)[0]


def named(name: str) -> dict:
    [found] = [p for p in promotions() if p["name"] == name]
    return found


def test_the_form_in_yuan_and_beijing_time_is_the_promotion_in_fen_and_utc(client, admin_headers, console, made):
    product = create_product(client, admin_headers, title="促销茶-" + uuid.uuid4().hex[:6])
    category = body(post(client, "/admin/categories", {"name": "促销类-" + uuid.uuid4().hex[:4]}, admin_headers))
    name = "满减-" + uuid.uuid4().hex[:6]
    made.append(name)
    starts = beijing_input(-timedelta(hours=1))
    answer = console.post("/console/promotions", form(name, starts_at=starts, product_ids=[product["id"]],
                                                      category_ids=[category["id"]], new_customers_only="1"))
    assert answer.status_code == 303, answer.body[:800]
    p = named(name)
    assert p["kind"] == "amount_off" and p["tiers"] == [{"threshold": 30000, "value": 5000},
                                                         {"threshold": 50000, "value": 10050}]
    assert p["scope"] == {"product_ids": [product["id"]], "category_ids": [category["id"]]}
    expected_start = (datetime.fromisoformat(starts + ":00+08:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert p["starts_at"] == expected_start and p["new_customers_only"] and p["with_coupons"]

    page = console.get("/console/promotions").body.decode()
    row = page[page.index(f'data-promotion="{p["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert name in row and "满减" in row and "满300减50,满500减100.5".replace(",", "，") in row
    assert starts.replace("T", " ") in row and 'data-status="LIVE"' in row and "进行中" in row
    assert "¥0.00" in row and "仅限新客" in row and "Z" not in row.split("data-status")[0].split("</td>")[3]

    from functions import wiring

    lines = [e for e in wiring.operators().audit_log() if e["target"] == p["id"]]
    assert lines and lines[0]["action"] == "promotion.create"

    answer = console.post(f"/console/promotions/{p['id']}/stop", [])
    assert answer.status_code == 303
    assert named(name)["status"] == "STOPPED"
    page = console.get("/console/promotions").body.decode()
    row = page[page.index(f'data-promotion="{p["id"]}"'):]
    assert 'data-status="STOPPED"' in row[:row.index("</tr>")] and "/stop" not in row[:row.index("</tr>")]
    assert [e for e in wiring.operators().audit_log() if e["target"] == p["id"] and e["action"] == "promotion.stop"]


@pytest.mark.parametrize(("changes", "tiers"), [
    ({"kind": "percent_off", "t0_threshold": "", "t0_pieces": "2", "t0_zhe": "8.5", "t1_threshold": "",
      "t1_off": ""}, [{"min_quantity": 2, "value": 85}]),
    ({"kind": "nth_item", "t0_pieces": "2", "t0_zhe": "5", "t1_threshold": "", "t1_off": ""},
     [{"min_quantity": 2, "value": 50}]),
    ({"kind": "nth_item", "t0_pieces": "3", "t0_zhe": "0", "t1_threshold": "", "t1_off": ""},
     [{"min_quantity": 3, "value": 0}]),
    ({"kind": "bundle", "t0_pieces": "3", "t0_price": "99.9", "t1_threshold": "", "t1_off": ""},
     [{"min_quantity": 3, "value": 9990}]),
])
def test_each_kind_reads_only_its_own_fields(console, made, changes, tiers):
    name = "类-" + uuid.uuid4().hex[:6]
    made.append(name)
    answer = console.post("/console/promotions", form(name, **changes))
    assert answer.status_code == 303, answer.body[:800]
    assert named(name)["tiers"] == tiers


def test_a_gift_names_its_sku_from_the_picker(client, admin_headers, console, made):
    gift = create_product(client, admin_headers, title="赠品杯-" + uuid.uuid4().hex[:6])
    name = "满赠-" + uuid.uuid4().hex[:6]
    made.append(name)
    fields = form(name, kind="gift", t0_threshold="199", t0_gift="1", t1_threshold="", t1_off="",
                  gift_sku_id=gift["skus"][0]["id"])
    assert console.post("/console/promotions", fields).status_code == 303
    p = named(name)
    assert p["gift_sku_id"] == gift["skus"][0]["id"] and p["label"] == "满199赠1件赠品"
    refused = console.post("/console/promotions", form("无赠品", kind="gift", t0_threshold="199", t0_gift="1",
                                                        t1_threshold="", t1_off=""))
    assert refused.status_code == 400 and 'data-for="gift_sku_id"' in refused.body.decode()


@pytest.mark.parametrize(("changes", "key", "said"), [
    ({"t0_off": "300"}, "t0_off", "减免金额须小于门槛"),
    ({"t0_off": "12.345"}, "t0_off", "最多两位小数"),
    ({"t0_threshold": "abc"}, "t0_threshold", "请填写金额"),
    ({"kind": "percent_off", "t0_pieces": "2", "t0_zhe": "8.55", "t1_threshold": "", "t1_off": ""}, "t0_zhe",
     "请填写折扣"),
    ({"kind": "percent_off", "t0_zhe": "8", "t0_pieces": "2", "t1_threshold": "", "t1_off": ""}, "t0",
     "二选一"),
    ({"t1_off": "40"}, "tiers", "条件更高的一档须给更多优惠"),
    ({"name": ""}, "name", "请填写活动名称"),
    ({"t0_threshold": "", "t0_off": "", "t1_threshold": "", "t1_off": ""}, "tiers", "请至少填写一档优惠"),
    ({"ends_at": beijing_input(-timedelta(hours=2))}, "ends_at", "结束时间须晚于开始时间"),
    ({"starts_at": beijing_input(-timedelta(days=3)), "ends_at": beijing_input(-timedelta(days=2))}, "ends_at",
     "结束时间须在现在之后"),
])
def test_a_wrong_field_is_said_beside_it_and_nothing_is_saved(console, changes, key, said):
    name = "错-" + uuid.uuid4().hex[:6]
    answer = console.post("/console/promotions", form(changes.pop("name", name), **changes))
    page = answer.body.decode()
    assert answer.status_code == 400, page[:500]
    assert f'data-for="{key}"' in page and said in page, page[page.find("promotion-error"):][:600]
    assert "本次没有保存" in page
    assert not [p for p in promotions() if p["name"] == name]
    if changes.get("t0_off"):
        assert f'value="{changes["t0_off"]}"' in page  # what was typed is kept


def test_products_are_picked_by_name_and_ticked_ones_stay(client, admin_headers, console):
    title = "拾取-" + uuid.uuid4().hex[:6]
    product = create_product(client, admin_headers, title=title)
    other = create_product(client, admin_headers, title="别的-" + uuid.uuid4().hex[:6])
    found = console.get("/console/pickers/products?" + urlencode({"product_q": title})).body.decode()
    assert title in found and f'value="{product["id"]}"' in found and other["title"] not in found
    kept = console.get("/console/pickers/products?" + urlencode(
        [("product_q", other["title"]), ("product_ids", product["id"])])).body.decode()
    assert f'value="{product["id"]}" checked' in kept and title in kept and other["title"] in kept
