"""Stores through the app on DynamoDB Local: the admin API (create, edit at a version or
last-writer-wins, staff that move), the shoppers' nearest-first list, a store's staff in
the console seeing only their own store, and a guide's sales counted for their store
through the events and analytics consumers (every batch delivered twice)."""

from __future__ import annotations

import os
import random
import uuid

import pytest

from tests.helpers import body, create_product, login, post, put
from tests.integration.test_distribution import new_distributor, new_template, share, uid
from tests.integration.test_guide_customers import _paid, _through_the_consumers

pytestmark = pytest.mark.integration


def _store(client, admin_headers, name, lat, lng, pickup=True) -> dict:
    r = post(client, "/admin/stores", {"name": name, "address": "上海市黄浦区人民大道 1 号",
                                       "location": {"lat": lat, "lng": lng}, "phone": "021-6321 1234",
                                       "hours": "10:00-22:00", "pickup": pickup}, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def _somewhere() -> tuple[float, float]:
    """A spot of this test's own in the Southern Ocean: its stores are the nearest to it."""
    return round(random.uniform(-60, -50), 4), round(random.uniform(-170, -100), 4)


def test_stores_nearest_first_edits_and_bad_input(client, admin_headers):
    lat, lng = _somewhere()
    tag = uuid.uuid4().hex[:6]
    near = _store(client, admin_headers, f"近{tag}", lat, lng)
    mid = _store(client, admin_headers, f"中{tag}", lat + 0.01, lng)  # ~1.1 km north
    far = _store(client, admin_headers, f"远{tag}", lat + 0.1, lng, pickup=False)  # ~11 km
    assert near["version"] == 1 and near["location"] == {"lat": lat, "lng": lng}

    r = client.http.get(f"/stores?lat={lat}&lng={lng}&limit=3")
    assert r.status_code == 200, r.body
    page = body(r)
    assert [s["id"] for s in page["items"]] == [near["id"], mid["id"], far["id"]]
    assert [s["distance_m"] for s in page["items"]][0] == 0
    assert 1100 <= page["items"][1]["distance_m"] <= 1125 and 11_000 <= page["items"][2]["distance_m"] <= 11_200
    assert page["items"][2]["pickup"] is False
    second = body(client.http.get(f"/stores?lat={lat}&lng={lng}&limit=2"))
    rest = body(client.http.get(f"/stores?lat={lat}&lng={lng}&limit=2&cursor={second['next_cursor']}"))
    assert [s["id"] for s in second["items"] + rest["items"]][:3] == [near["id"], mid["id"], far["id"]]
    by_name = body(client.http.get("/stores?limit=100"))["items"]
    assert "distance_m" not in by_name[0]
    names = [s["name"] for s in by_name]
    assert names == sorted(names)
    for query in ("lat=91&lng=0", "lat=31", "lng=121", "lat=abc&lng=1", "lat=nan&lng=1", "lat=1&lng=-181",
                  "lat=inf&lng=0"):
        r = client.http.get(f"/stores?{query}")
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", (query, r.body)

    edit = {"name": f"近{tag}旗舰", "address": "上海市黄浦区人民大道 2 号", "location": {"lat": lat, "lng": lng},
            "phone": "400-820-8820", "hours": "周一至周五 9:00-21:00", "pickup": True}
    r = put(client, f"/admin/stores/{near['id']}", {**edit, "version": 1}, admin_headers)
    assert r.status_code == 200 and body(r)["version"] == 2 and body(r)["phone"] == "400-820-8820"
    r = put(client, f"/admin/stores/{near['id']}", {**edit, "version": 1}, admin_headers)
    assert r.status_code == 409 and body(r)["error"]["code"] == "STORE_CHANGED"
    r = put(client, f"/admin/stores/{near['id']}", edit, admin_headers)  # no version: last writer wins
    assert r.status_code == 200 and body(r)["version"] == 3
    assert body(client.http.get(f"/admin/stores/{near['id']}", headers=admin_headers))["version"] == 3
    assert client.http.get("/admin/stores/st_nope", headers=admin_headers).status_code == 404
    assert put(client, "/admin/stores/st_nope", edit, admin_headers).status_code == 404
    for bad in ({**edit, "phone": "call me"}, {**edit, "location": {"lat": 100, "lng": 0}}, {**edit, "name": ""},
                {**edit, "extra": 1}, {k: v for k, v in edit.items() if k != "pickup"}):
        r = post(client, "/admin/stores", bad, admin_headers)
        assert r.status_code == 400, (bad, r.body)
    assert client.http.get("/admin/stores").status_code == 401
    listed = body(client.http.get("/admin/stores?limit=100", headers=admin_headers))["items"]
    assert {near["id"], mid["id"], far["id"]} <= {s["id"] for s in listed}


def _operator(client, admin_headers, role="store") -> str:
    name = f"clerk{uuid.uuid4().hex[:8]}"
    r = post(client, "/admin/operators", {"name": name, "password": "门店密码-123456", "role": role}, admin_headers)
    assert r.status_code == 201, r.body
    return name


def test_staff_one_store_each_and_a_store_operator_sees_only_their_store(client, admin_headers):
    from functions import wiring

    lat, lng = _somewhere()
    a, b = _store(client, admin_headers, "甲店", lat, lng), _store(client, admin_headers, "乙店", lat, lng + 0.01)
    clerk = _operator(client, admin_headers)
    guide = uid(new_distributor(client, admin_headers))
    r = post(client, f"/admin/stores/{a['id']}/staff", {"operator_id": clerk}, admin_headers)
    assert r.status_code == 201 and body(r)["moved_from"] is None, r.body
    assert post(client, f"/admin/stores/{a['id']}/staff", {"user_id": guide}, admin_headers).status_code == 201
    r = post(client, f"/admin/stores/{b['id']}/staff", {"user_id": guide}, admin_headers)
    assert r.status_code == 201 and body(r)["moved_from"] == a["id"]  # moving says so
    staff_a = body(client.http.get(f"/admin/stores/{a['id']}/staff", headers=admin_headers))["items"]
    assert [(s["kind"], s.get("operator_id")) for s in staff_a] == [("operator", clerk)]
    assert wiring.store_repository().store_of_guide(guide) == b["id"]
    for payload, code in (({"user_id": uid(login(client))}, "NOT_A_DISTRIBUTOR"),
                          ({"operator_id": "nobody-here"}, "UNKNOWN_OPERATOR")):
        r = post(client, f"/admin/stores/{a['id']}/staff", payload, admin_headers)
        assert r.status_code == 422 and body(r)["error"]["code"] == code
    assert post(client, f"/admin/stores/{a['id']}/staff", {}, admin_headers).status_code == 400
    r = client.http.delete(f"/admin/stores/{a['id']}/staff/guide/{guide}", headers=admin_headers)
    assert r.status_code == 404  # moved to b
    assert client.http.delete(f"/admin/stores/{b['id']}/staff/guide/{guide}", headers=admin_headers).status_code == 204
    assert wiring.store_repository().store_of_guide(guide) is None

    service = wiring.operators()
    cookie = f"console_session={service.issue_session(service.sign_in(clerk, '门店密码-123456'))}"
    headers = {"Cookie": cookie, "Host": "127.0.0.1"}
    own = client.http.get(f"/console/stores/{a['id']}", headers=headers)
    assert own.status_code == 200 and "甲店" in own.body.decode() and "门店店员" in own.body.decode()
    assert f'href="/console/stores/{a["id"]}"' in own.body.decode()  # the sidebar: their store only
    assert "/console/orders" not in own.body.decode() and 'id="store-form"' not in own.body.decode()
    other = client.http.get(f"/console/stores/{b['id']}", headers=headers)
    assert other.status_code == 404 and "乙店" not in other.body.decode()
    for page in ("/console/orders", "/console/stores", "/console/store-figures", "/console/settings"):
        r = client.http.get(page, headers=headers)
        assert r.status_code == 303 and r.headers["Location"] == "/console/my-store", page
    r = client.http.get("/console/my-store", headers=headers)
    assert r.status_code == 303 and r.headers["Location"] == f"/console/stores/{a['id']}"
    token = service.csrf_token(cookie.split("=", 1)[1])
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    r = client.http.post(f"/console/stores/{a['id']}", headers=form,
                         body=f"csrf={token}&version=1&name=x&address=x&lat=1&lng=1&phone=95555&hours=x".encode())
    assert r.status_code == 403  # a store's staff read their store; they do not edit it
    r = client.http.post(f"/console/stores/{a['id']}/staff", headers=form, body=f"csrf={token}&user_id=u".encode())
    assert r.status_code == 403
    # out of the store: their pages are gone at once
    assert client.http.delete(f"/admin/stores/{a['id']}/staff/operator/{clerk}",
                              headers=admin_headers).status_code == 204
    assert client.http.get(f"/console/stores/{a['id']}", headers=headers).status_code == 404
    r = client.http.get("/console/my-store", headers=headers)
    assert r.status_code == 200 and "还没有被分配到门店" in r.body.decode()

    owner = f"console_session={service.issue_session(service.sign_in('owner', os.environ['ADMIN_API_KEY']))}"
    for store in (a, b):
        assert client.http.get(f"/console/stores/{store['id']}", headers={"Cookie": owner}).status_code == 200


def test_a_guides_sales_count_for_their_store_once(client, admin_headers, shop):
    from layers import clock
    from layers.domain.analytics import month_of

    lat, lng = _somewhere()
    a = _store(client, admin_headers, "导购店", lat, lng)
    guide = new_distributor(client, admin_headers, new_template(client, admin_headers))
    assert post(client, f"/admin/stores/{a['id']}/staff", {"user_id": uid(guide)}, admin_headers).status_code == 201
    product = create_product(client, admin_headers, price=2500, stock=10)
    token = share(client, guide)
    orders = [_paid(client, shop, login(client), product["skus"][0]["id"], 1, token) for _ in range(2)]
    plain = _paid(client, shop, login(client), product["skus"][0]["id"], 1)  # no guide: no store's
    _through_the_consumers(shop, {o["id"] for o in orders} | {plain["id"]})
    month = month_of(clock.iso(clock.now()))
    r = client.http.get(f"/admin/analytics/stores?month={month}", headers=admin_headers)
    assert r.status_code == 200, r.body
    row = next(i for i in body(r)["items"] if i["store_id"] == a["id"])
    payable = sum(o["amounts"]["payable"] for o in orders)
    assert row == {"store_id": a["id"], "pickup_orders": 0, "guide_sales": payable, "gmv": payable}
    assert client.http.get("/admin/analytics/stores?month=2026-13", headers=admin_headers).status_code == 400
    assert client.http.get("/admin/analytics/stores", headers=admin_headers).status_code == 400
    owner = f"console_session={_owner_session()}"
    page = client.http.get(f"/console/store-figures?month={month}", headers={"Cookie": owner})
    assert page.status_code == 200 and "导购店" in page.body.decode() and "data-bars" in page.body.decode()


def _owner_session() -> str:
    from functions import wiring

    service = wiring.operators()
    return service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"]))
