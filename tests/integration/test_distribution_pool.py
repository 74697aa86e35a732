"""The promotion pool (推广商品池) and `my_commission`, against DynamoDB Local and the sandbox:
a share outside the pool is 422 NOT_IN_POOL, an older share still earns, and what a guide's
list says one unit earns is what a real order of one unit of that SKU accrues."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import body, create_product, login, post, put
from tests.integration.test_distribution import (
    auth,
    commission_of,
    new_distributor,
    new_template,
    paid_order,
    share,
    uid,
)

pytestmark = pytest.mark.integration

POOL = "/admin/distribution/pool"


@pytest.fixture
def pool(client, admin_headers):
    """Set the pool; every product again afterwards (other tests share the table)."""

    def choose(payload):
        r = put(client, POOL, payload, admin_headers)
        assert r.status_code == 200, r.body
        return body(r)

    yield choose
    choose({"all": True})


def my_products(client, headers, **query):
    from urllib.parse import urlencode

    r = client.http.get("/me/distribution/products" + ("?" + urlencode(query) if query else ""),
                        headers=auth(headers))
    assert r.status_code == 200, r.body
    return body(r)


def test_the_pool_is_every_product_until_chosen_and_answers_with_titles(client, admin_headers, pool):
    r = client.http.get(POOL, headers=admin_headers)
    assert r.status_code == 200 and body(r)["all"] is True
    tea = create_product(client, admin_headers, title=f"龙井-{uuid.uuid4().hex[:4]}")
    cup = create_product(client, admin_headers, title="茶杯")
    answer = pool({"product_ids": [tea["id"], cup["id"], tea["id"]]})
    assert answer["all"] is False and answer["product_ids"] == [tea["id"], cup["id"]]
    assert [(p["id"], p["title"]) for p in answer["products"]] == [(tea["id"], tea["title"]), (cup["id"], "茶杯")]
    r = client.http.get(POOL, headers=admin_headers)
    assert body(r)["product_ids"] == [tea["id"], cup["id"]] and body(r)["products"] == answer["products"]


def test_bad_pools_are_refused_and_change_nothing(client, admin_headers, pool):
    tea = create_product(client, admin_headers)
    pool({"product_ids": [tea["id"]]})
    for payload, status in (({"product_ids": [tea["id"], "p_nosuchproduct"]}, 404), ({}, 400),
                            ({"all": False}, 400), ({"all": True, "product_ids": []}, 400),
                            ({"product_ids": [f"p_{i}" for i in range(2001)]}, 400)):
        r = put(client, POOL, payload, admin_headers)
        assert r.status_code == status, (payload, r.body)
        assert set(body(r)["error"]) == {"code", "message"}
    assert put(client, POOL, {"all": True}, auth(login(client))).status_code in (401, 403)
    assert client.http.get(POOL, headers=admin_headers).json_body["product_ids"] == [tea["id"]]


def test_a_share_outside_the_pool_is_422_not_in_pool_and_the_shop_always_goes(client, admin_headers, pool):
    inside, outside = create_product(client, admin_headers), create_product(client, admin_headers)
    guide = new_distributor(client, admin_headers)
    pool({"product_ids": [inside["id"]]})
    r = post(client, "/shares", {"product_id": outside["id"]}, auth(guide))
    assert r.status_code == 422, r.body
    assert body(r)["error"]["code"] == "NOT_IN_POOL"
    assert share(client, guide, inside["id"])
    assert share(client, guide)  # the shop itself
    r = post(client, "/shares", {"product_id": "p_nosuchproduct"}, auth(guide))
    assert r.status_code == 404, r.body
    pool({"all": True})
    assert share(client, guide, outside["id"])


def test_an_order_through_a_share_made_before_its_product_left_the_pool_still_earns(client, admin_headers, pool,
                                                                                    shop):
    tea = create_product(client, admin_headers, price=8000, stock=20)
    cup = create_product(client, admin_headers)
    guide = new_distributor(client, admin_headers, new_template(client, admin_headers, [{"name": "基础", "rate_bps": 1000}]))
    pool({"product_ids": [tea["id"]]})
    token = share(client, guide, tea["id"])
    pool({"product_ids": [cup["id"]]})
    assert post(client, "/shares", {"product_id": tea["id"]}, auth(guide)).status_code == 422
    order = paid_order(shop, uid(login(client)), tea["skus"][0]["id"], share_token=token)
    assert commission_of(uid(guide), order["id"]).amount == 800


def test_my_commission_is_what_an_order_of_one_unit_accrues(client, admin_headers, pool, shop):
    tiered = create_product(client, admin_headers, skus=[{"price": 3333, "stock": 50, "spec": {"规格": "小"}},
                                                         {"price": 12_999, "stock": 50, "spec": {"规格": "大"}}])
    fixed = create_product(client, admin_headers, price=6667, stock=50, commission={"mode": "fixed", "rate_bps": 1500})
    r = post(client, "/admin/products", {"title": "下架的茶", "active": False,
                                         "skus": [{"price": 100, "stock": 1}]}, admin_headers)
    assert r.status_code == 201, r.body
    off_sale = body(r)
    guide = new_distributor(client, admin_headers, new_template(client, admin_headers, [{"name": "基础", "rate_bps": 700}]))
    pool({"product_ids": [tiered["id"], off_sale["id"], fixed["id"]]})

    shopper = login(client)
    r = client.http.get("/me/distribution/products", headers=auth(shopper))
    assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN"

    listed = my_products(client, guide)
    ids = [p["id"] for p in listed["items"]]
    assert ids == [tiered["id"], fixed["id"]]  # in the pool's order, the product off sale left out
    offered = {s["id"]: s for p in listed["items"] for s in p["skus"]}
    assert set(offered) == {tiered["skus"][0]["id"], tiered["skus"][1]["id"], fixed["skus"][0]["id"]}
    assert listed["items"][0]["price_min"] == 3333 and listed["items"][0]["price_max"] == 12_999

    # Paged by one: the same products, a cursor between them.
    seen, cursor = [], None
    for _ in range(5):
        page = my_products(client, guide, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    token = share(client, guide)
    for sku_id in (tiered["skus"][0]["id"], tiered["skus"][1]["id"], fixed["skus"][0]["id"]):
        order = paid_order(shop, uid(login(client)), sku_id, share_token=token)
        [line] = commission_of(uid(guide), order["id"]).lines
        assert (line["amount"], line["rate_bps"]) == (offered[sku_id]["my_commission"],
                                                     offered[sku_id]["my_commission_rate_bps"]), sku_id
    assert offered[fixed["skus"][0]["id"]]["my_commission"] == 1000
    assert offered[tiered["skus"][0]["id"]]["my_commission"] == 233


def test_operators_adding_products_at_once_lose_none(client, admin_headers, pool):
    """The console's "add" reads the list and writes it back: each write is conditioned on the
    version it read, so eight at once all land (a blind write would keep only some)."""
    from concurrent.futures import ThreadPoolExecutor

    from functions import wiring

    first = create_product(client, admin_headers)
    pool({"product_ids": [first["id"]]})
    added = [create_product(client, admin_headers)["id"] for _ in range(8)]
    svc = wiring.distribution_pool()
    with ThreadPoolExecutor(max_workers=8) as workers:
        list(workers.map(svc.add_product, added))
    stored = client.http.get(POOL, headers=admin_headers).json_body
    assert stored["product_ids"][0] == first["id"] and sorted(stored["product_ids"][1:]) == sorted(added)
