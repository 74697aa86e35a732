"""Freight templates through the HTTP API on DynamoDB Local: made, changed and listed; a wrong
body is a 4xx in the contract's error format and changes nothing; an edit from a stale read
is 409; a product names a template (its shoppers see which), an unknown one is 422; every
change is in the audit log."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import body, create_product, post, put

pytestmark = pytest.mark.integration


def template_body(**kw) -> dict:
    return {"name": "运费-" + uuid.uuid4().hex[:6], "charge_by": "weight",
            "default": {"first": 1000, "first_fee": 800, "additional": 500, "additional_fee": 300},
            "regions": [{"provinces": ["新疆维吾尔自治区", "西藏"], "first": 1000, "first_fee": 2000,
                         "additional": 1000, "additional_fee": 1500}],
            "free": [{"provinces": ["上海市", "江苏省", "浙江省"], "min_amount": 9900},
                     {"min_pieces": 10}],
            "undeliverable": ["香港特别行政区", "澳门"], **kw}


def listed(client, admin_headers) -> dict:
    """Every template, through the pages."""
    found, cursor = {}, None
    while True:
        r = client.http.get("/admin/freight-templates?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                            headers=admin_headers)
        assert r.status_code == 200, r.body
        page = body(r)
        found.update({t["id"]: t for t in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found


def error_of(r) -> dict:
    data = body(r)
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}, data
    return data["error"]


def test_made_changed_and_listed(client, admin_headers):
    sent = template_body()
    r = post(client, "/admin/freight-templates", sent, admin_headers)
    assert r.status_code == 201, r.body
    made = body(r)
    assert made["name"] == sent["name"] and made["charge_by"] == "weight" and made["version"] == 1
    assert made["default"] == sent["default"]
    assert made["regions"] == [{"provinces": ["西藏自治区", "新疆维吾尔自治区"], "first": 1000, "first_fee": 2000,
                                "additional": 1000, "additional_fee": 1500}]
    assert made["free"] == [{"provinces": ["上海市", "江苏省", "浙江省"], "min_amount": 9900, "min_pieces": None},
                            {"provinces": [], "min_amount": None, "min_pieces": 10}]
    assert made["undeliverable"] == ["香港特别行政区", "澳门特别行政区"]
    assert made["created_at"].endswith("Z") and made["created_at"] == made["updated_at"]
    assert listed(client, admin_headers)[made["id"]] == made
    assert body(client.http.get(f"/admin/freight-templates/{made['id']}", headers=admin_headers)) == made

    r = put(client, f"/admin/freight-templates/{made['id']}",
            template_body(name="改名了", charge_by="piece", regions=[], free=[], undeliverable=[],
                          default={"first": 1, "first_fee": 600, "additional": 1, "additional_fee": 200},
                          version=1), admin_headers)
    assert r.status_code == 200, r.body
    edited = body(r)
    assert (edited["name"], edited["charge_by"], edited["version"]) == ("改名了", "piece", 2)
    assert (edited["regions"], edited["free"], edited["undeliverable"]) == ([], [], [])
    assert edited["created_at"] == made["created_at"]
    assert listed(client, admin_headers)[made["id"]] == edited

    from functions import wiring  # audited as every admin change, as the owner

    lines = [e for e in wiring.operators().audit_log() if e["target"] == made["id"]]
    assert lines and lines[0]["operator"] == "owner" and lines[0]["action"].startswith("PUT /admin/freight-templates")
    assert "名称" in lines[0]["detail"] and "计费方式" in lines[0]["detail"]


def test_an_edit_from_a_stale_read_is_409_and_changes_nothing(client, admin_headers):
    made = body(post(client, "/admin/freight-templates", template_body(), admin_headers))
    first = put(client, f"/admin/freight-templates/{made['id']}", template_body(name="甲改的", version=1),
                admin_headers)
    assert first.status_code == 200
    second = put(client, f"/admin/freight-templates/{made['id']}", template_body(name="乙改的", version=1),
                 admin_headers)
    assert second.status_code == 409
    assert error_of(second)["code"] == "INVALID_STATE"
    assert listed(client, admin_headers)[made["id"]]["name"] == "甲改的"
    missing = put(client, "/admin/freight-templates/ft_nothere", template_body(), admin_headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("change", "status", "said"), [
    ({"undeliverable": ["火星"]}, 400, "火星"),
    ({"regions": [{"provinces": ["广东"], "first": 1, "first_fee": 1, "additional": 1, "additional_fee": 1},
                  {"provinces": ["广东省"], "first": 1, "first_fee": 2, "additional": 1, "additional_fee": 1}]},
     400, "广东省"),
    ({"regions": [{"provinces": ["西藏"], "first": 1, "first_fee": 1, "additional": 1, "additional_fee": 1}],
      "undeliverable": ["西藏"]}, 400, "西藏自治区"),
    ({"default": {"first": 0, "first_fee": 800, "additional": 500, "additional_fee": 300}}, 400, "first"),
    ({"default": {"first": 1000, "first_fee": -1, "additional": 500, "additional_fee": 300}}, 400, "first_fee"),
    ({"free": [{"provinces": []}]}, 400, "free[0]"),
    ({"charge_by": "volume"}, 400, "charge_by"),
    ({"default": {"first": "1000", "first_fee": 800, "additional": 500, "additional_fee": 300}}, 400, "first"),
    ({"surprise": 1}, 400, "surprise"),
])
def test_a_wrong_body_is_a_4xx_naming_what_and_changes_nothing(client, admin_headers, change, status, said):
    made = body(post(client, "/admin/freight-templates", template_body(), admin_headers))
    before = listed(client, admin_headers)
    r = post(client, "/admin/freight-templates", template_body(**change), admin_headers)
    assert r.status_code == status, r.body
    error = error_of(r)
    assert error["code"] == "INVALID_REQUEST" and said in error["message"], error
    r = put(client, f"/admin/freight-templates/{made['id']}", template_body(**change), admin_headers)
    assert r.status_code == status and said in error_of(r)["message"]
    assert listed(client, admin_headers) == before


def test_only_operators_see_or_change_templates(client):
    from tests.helpers import login

    for r in (client.http.get("/admin/freight-templates"),
              post(client, "/admin/freight-templates", template_body(), login(client))):
        assert r.status_code == 401 and error_of(r)["code"] == "UNAUTHORIZED"


def test_a_product_names_a_template_and_shoppers_see_it(client, admin_headers):
    template = body(post(client, "/admin/freight-templates", template_body(), admin_headers))
    product = create_product(client, admin_headers, title="运费-" + uuid.uuid4().hex[:6])
    assert product["freight_template_id"] is None
    skus = [{"id": s["id"], "price": s["price"], "weight_g": 350} for s in product["skus"]]
    base = {"title": product["title"], "category": product["category"], "skus": skus}

    r = put(client, f"/admin/products/{product['id']}", {**base, "freight_template_id": template["id"]},
            admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["freight_template_id"] == template["id"]
    shown = body(client.http.get(f"/products/{product['id']}"))
    assert shown["freight_template_id"] == template["id"] and shown["skus"][0]["weight_g"] == 350
    from layers.storage.catalog import get_skus

    # copied onto the SKU: what an order's pricing reads
    assert get_skus([product["skus"][0]["id"]])[product["skus"][0]["id"]].freight_template_id == template["id"]

    r = put(client, f"/admin/products/{product['id']}", {**base, "freight_template_id": "ft_nothere"}, admin_headers)
    assert r.status_code == 422 and error_of(r)["code"] == "UNKNOWN_FREIGHT_TEMPLATE"
    assert body(client.http.get(f"/products/{product['id']}"))["freight_template_id"] == template["id"]

    r = post(client, "/admin/products", {**base, "skus": [{"price": 100, "stock": 1}],
                                         "freight_template_id": "ft_nothere"}, admin_headers)
    assert r.status_code == 422 and error_of(r)["code"] == "UNKNOWN_FREIGHT_TEMPLATE"

    r = put(client, f"/admin/products/{product['id']}", base, admin_headers)  # left out: the flat fee again
    assert r.status_code == 200 and body(r)["freight_template_id"] is None
    assert get_skus([product["skus"][0]["id"]])[product["skus"][0]["id"]].freight_template_id is None
