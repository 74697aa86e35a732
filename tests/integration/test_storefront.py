"""The storefront over HTTP against DynamoDB Local and moto's S3: real uploads through a
presigned POST, categories and their IN_USE guard, full pages, Chinese search from the
published snapshot, campaigns a shopper can find, the open groups of a group buy, sales."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest
import requests

from tests.helpers import body, login, post, put

pytestmark = pytest.mark.integration

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def upload(client, admin_headers, data: bytes = PNG, content_type: str = "image/png") -> str:
    r = post(client, "/admin/uploads", {"content_type": content_type, "size": len(data)}, admin_headers)
    assert r.status_code == 201, r.body
    slot = body(r)
    sent = requests.post(slot["upload"]["url"], data=slot["upload"]["fields"],
                         files={"file": ("a.png", data, content_type)}, timeout=10)
    assert sent.status_code in (200, 201, 204), sent.text
    return slot["image_url"]


def category(client, admin_headers, name, parent_id=None, **kw) -> dict:
    r = post(client, "/admin/categories", {"name": name, "parent_id": parent_id, **kw}, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def product(client, admin_headers, title, price=1000, **kw) -> dict:
    r = post(client, "/admin/products", {"title": title, "skus": [{"price": price, "stock": 10}], **kw},
             admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def publish():
    """What the schedule does every 10 minutes (and `catalog.changed` does per product)."""
    from functions import wiring

    wiring.listing().rebuild()
    wiring.listing()._loaded = None  # this container asks the table again at once


def test_an_uploaded_image_is_served_and_only_issued_images_are_taken(client, admin_headers):
    url = upload(client, admin_headers)
    assert requests.get(url, timeout=10).content == PNG
    made = product(client, admin_headers, "宜兴紫砂壶", images=[url], detail_images=[url])
    assert made["image"] == url and made["images"] == [url]
    for foreign in ("https://example.com/x.png", url.replace("/img/", "/img/0"), url[:-3] + "jpg"):
        r = post(client, "/admin/products", {"title": "x", "skus": [{"price": 1, "stock": 1}], "images": [foreign]},
                 admin_headers)
        assert r.status_code == 422 and body(r)["error"]["code"] == "UNKNOWN_IMAGE", (foreign, r.body)


def test_the_upload_policy_holds_its_type_and_size(client, admin_headers):
    r = post(client, "/admin/uploads", {"content_type": "image/png", "size": len(PNG)}, admin_headers)
    slot = body(r)
    policy = json.loads(base64.b64decode(slot["upload"]["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, len(PNG)] in conditions
    assert {"key": slot["upload"]["fields"]["key"]} in conditions  # the server chose the key
    too_big = post(client, "/admin/uploads", {"content_type": "image/png", "size": 5 * 1024 * 1024 + 1}, admin_headers)
    assert too_big.status_code == 400
    gif = post(client, "/admin/uploads", {"content_type": "image/gif", "size": 10}, admin_headers)
    assert gif.status_code == 400
    assert post(client, "/admin/uploads", {"content_type": "image/png", "size": 10}).status_code == 401


def test_categories_are_two_levels_and_one_in_use_is_not_deleted(client, admin_headers):
    top = category(client, admin_headers, f"茶叶{uuid.uuid4().hex[:4]}", sort_weight=5)
    child = category(client, admin_headers, "红茶", top["id"])
    r = post(client, "/admin/categories", {"name": "正山小种", "parent_id": child["id"]}, admin_headers)
    assert r.status_code == 400
    made = product(client, admin_headers, "金骏眉", category_id=child["id"])
    assert made["category"] == "红茶" and made["category_id"] == child["id"]
    assert client.http.delete(f"/admin/categories/{top['id']}", headers=admin_headers).status_code == 409
    assert client.http.delete(f"/admin/categories/{child['id']}", headers=admin_headers).status_code == 409
    # the product moves elsewhere: the child is free, then its parent
    moved = put(client, f"/admin/products/{made['id']}", {"title": "金骏眉", "skus": [
        {"id": made["skus"][0]["id"], "price": 1000}]}, admin_headers)
    assert moved.status_code == 200, moved.body
    assert client.http.delete(f"/admin/categories/{child['id']}", headers=admin_headers).status_code == 204
    assert client.http.delete(f"/admin/categories/{top['id']}", headers=admin_headers).status_code == 204
    tree = body(client.http.get("/categories"))["items"]
    assert top["id"] not in [c["id"] for c in tree]


def test_pages_are_full_search_finds_chinese_and_a_category_lists_its_children(client, admin_headers):
    tag = uuid.uuid4().hex[:6]
    top = category(client, admin_headers, f"茗茶{tag}")
    child = category(client, admin_headers, f"岩茶{tag}", top["id"])
    ids = [product(client, admin_headers, f"大红袍{tag} {i:02d}", 1000 + i, category_id=child["id"])["id"]
           for i in range(7)]
    off = product(client, admin_headers, f"肉桂{tag}", 900, category_id=top["id"], active=False)["id"]
    publish()
    seen, cursor, sizes = [], None, []
    while True:
        q = f"/products?category_id={top['id']}&sort=price_asc&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = body(client.http.get(q))
        sizes.append(len(page["items"]))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids and off not in seen
    assert sizes == [3, 3, 1]
    found = body(client.http.get(f"/products?q=红袍{tag}&limit=100"))["items"]
    assert {p["id"] for p in found} == set(ids)
    one_char = body(client.http.get("/products?q=袍&limit=100"))["items"]
    assert set(ids) <= {p["id"] for p in one_char}
    by_category = body(client.http.get(f"/products?q=茗茶{tag}&limit=100"))["items"]
    assert {p["id"] for p in by_category} == set(ids)
    assert client.http.get("/products?sort=cheapest").status_code == 400


def test_a_product_change_reaches_search_through_its_event(client, admin_headers):
    from functions import wiring

    tag = uuid.uuid4().hex[:6]
    publish()
    made = product(client, admin_headers, f"白毫银针{tag}")
    # the write staged catalog.changed in its transaction; its consumer patches the snapshot
    wiring.listing().on_catalog_changed("ev", {"product_id": made["id"]})
    wiring.listing()._loaded = None
    assert [p["id"] for p in body(client.http.get(f"/products?q=银针{tag}"))["items"]] == [made["id"]]


def test_campaigns_a_shopper_can_find_with_their_product(client, admin_headers):
    from layers import clock

    url = upload(client, admin_headers)
    made = product(client, admin_headers, f"阳澄湖大闸蟹{uuid.uuid4().hex[:4]}", 29_900, images=[url])
    sku = made["skus"][0]["id"]
    now = clock.now()
    live = body(post(client, "/admin/flash-sales", {
        "sku_id": sku, "price": 9_900, "stock": 5, "per_user_limit": 1,
        "starts_at": clock.iso(now - timedelta(minutes=1)), "ends_at": clock.iso(now + timedelta(hours=1))},
        admin_headers))
    later = body(post(client, "/admin/group-buys", {
        "sku_id": sku, "price": 19_900, "group_size": 2, "group_ttl_s": 3600, "stock": 5, "per_user_limit": 1,
        "starts_at": clock.iso(now + timedelta(hours=2)), "ends_at": clock.iso(now + timedelta(days=1))},
        admin_headers))
    from functions import wiring

    wiring.campaign_directory()._cache.clear()
    flash = body(client.http.get("/flash-sales?limit=100"))["items"]
    mine = next(v for v in flash if v["id"] == live["id"])
    assert mine["title"] == made["title"] and mine["image"] == url and mine["price"] == 9_900
    upcoming = body(client.http.get("/group-buys?status=upcoming&limit=100"))["items"]
    assert later["id"] in [v["id"] for v in upcoming]
    assert later["id"] not in [v["id"] for v in body(client.http.get("/group-buys?limit=100"))["items"]]
    page = body(client.http.get(f"/products/{made['id']}"))
    assert {"kind": "flash_sale", "id": live["id"], "sku_id": sku, "price": 9_900,
            "ends_at": live["ends_at"]} in page["campaigns"]
    assert "commission" not in page
    assert client.http.get("/bargains?status=ended").status_code == 400


def test_open_groups_to_join_soonest_to_expire_first(client, admin_headers, sandbox):
    from functions import wiring
    from tests.integration.test_group_buys import new_activity, new_user, order_input, pay

    activity = new_activity(client, admin_headers, group_size=3)
    leaders = []
    for _ in range(3):
        order = wiring.group_buys().open(new_user(), activity["id"], order_input(), None)
        pay(client, sandbox, order["id"])
        leaders.append(order["group_id"])
    unpaid = wiring.group_buys().open(new_user(), activity["id"], order_input(), None)  # PENDING: not listed
    first = body(client.http.get(f"/group-buys/{activity['id']}/groups?limit=2"))
    rest = body(client.http.get(f"/group-buys/{activity['id']}/groups?limit=2&cursor={first['next_cursor']}"))
    page = first["items"] + rest["items"]
    listed = [g["id"] for g in page]
    assert sorted(listed) == sorted(leaders) and unpaid["group_id"] not in listed
    assert [g["expires_at"] for g in page] == sorted(g["expires_at"] for g in page)
    assert all(g["seats_left"] == 2 for g in first["items"])
    assert client.http.get("/group-buys/gb_missing/groups").status_code == 404


def test_a_distributor_sees_the_commission_a_shopper_does_not(client, admin_headers):
    made = product(client, admin_headers, "紫砂杯", commission={"mode": "fixed", "rate_bps": 700})
    shopper = login(client)
    assert "commission" not in body(client.http.get(f"/products/{made['id']}", headers=shopper))
    template = body(post(client, "/admin/commission-templates",
                         {"name": f"t{uuid.uuid4().hex[:6]}", "tiers": [{"name": "铜牌", "rate_bps": 300}]},
                         admin_headers))
    guide = login(client)
    r = post(client, "/admin/distributors", {"user_id": guide["X-User-Id"], "template_id": template["id"]},
             admin_headers)
    assert r.status_code == 201, r.body
    seen = body(client.http.get(f"/products/{made['id']}", headers=guide))
    assert seen["commission"] == {"mode": "fixed", "rate_bps": 700}
    anonymous = body(client.http.get(f"/products/{made['id']}", headers={"Authorization": "Bearer junk"}))
    assert "commission" not in anonymous


def test_sales_count_units_paid_less_orders_refunded_in_full():
    from functions import wiring
    from layers.domain import analytics as rules
    from layers.domain.analytics import Fact, Line

    pid = f"p_{uuid.uuid4().hex[:20]}"
    line = Line(pid, "茶", 2, 100)
    sale = Fact(f"e{uuid.uuid4().hex}", rules.SALE, "2026-12-05T02:00:00Z", "u1", 200, "o1", (line,))
    other = Fact(f"e{uuid.uuid4().hex}", rules.SALE, "2026-12-05T03:00:00Z", "u2", 200, "o2", (line,))
    refund = Fact(f"e{uuid.uuid4().hex}", rules.REFUND, "2026-12-06T02:00:00Z", "u1", 200, "o1", (line,),
                  paid_at="2026-12-05T02:00:00Z")
    service = wiring.analytics()
    service.consume([sale, other, sale])
    service.consume([refund, refund])
    assert service.units_sold()[pid] == 2
