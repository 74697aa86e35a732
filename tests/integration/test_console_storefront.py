"""The console's storefront forms against DynamoDB Local and moto's S3, without a browser:
a wrong field is a 400 in Chinese naming the field, and changes nothing; the upload slot is
the API's; every page's policy allows the image origins and nothing else."""

from __future__ import annotations

import json
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

        def post(self, path, **form):
            return client.http.post(path, body=urlencode({"csrf": csrf, **form}).encode(),
                                    headers={**base, "Content-Type": "application/x-www-form-urlencoded"})

    return Console()


def _edit_form(product: dict, **changes) -> dict:
    sku = product["skus"][0]
    form = {"title": product["title"], f"price_{sku['id']}": "19.90", "images": "", "detail_images": "",
            "description": "", "tags": "", "sort_weight": "0", "category_id": ""}
    return {**form, **changes}


@pytest.mark.parametrize(("field", "value", "said"), [
    ("list_price", "9.9", "划线价不能低于价格"),
    ("list_price", "1.234", "两位小数"),
    ("weight_g", "²", "请填写整数"),
    ("spec", "颜色", "规格写作"),
    ("tags", "x" * 21, "标签"),
    ("images", "https://example.com/a.png", "图片不是本店上传的"),
    ("sort_weight", "99999999", "排序值"),
])
def test_a_wrong_field_is_a_400_in_chinese_naming_it_and_changes_nothing(console, client, admin_headers,
                                                                        field, value, said):
    from tests.helpers import create_product

    product = create_product(client, admin_headers, price=1990, stock=3, title="表单-" + uuid.uuid4().hex[:6])
    sku_id = product["skus"][0]["id"]
    key = f"{field}_{sku_id}" if field in ("list_price", "weight_g", "spec") else field
    answer = console.post(f"/console/products/{product['id']}", **_edit_form(product, title="改了", **{key: value}))
    assert answer.status_code in (400, 422), answer.body[:300]
    page = answer.body.decode()
    assert said in page, page[page.find("error-message"):][:200]
    shown = json.loads(client.http.get(f"/products/{product['id']}").body)
    assert shown["title"] == product["title"]


def test_the_upload_slot_is_the_apis_and_refuses_what_the_api_refuses(console):
    answer = console.post("/console/uploads", content_type="image/png", size="1024")
    assert answer.status_code == 201 and answer.headers["Content-Type"] == "application/json"
    slot = json.loads(answer.body)
    assert slot["image_url"].split("/img/")[1] == slot["upload"]["fields"]["key"].split("img/")[1]
    assert slot["max_bytes"] == 5 * 1024 * 1024
    for bad in ({"content_type": "image/gif", "size": "10"}, {"content_type": "image/png", "size": "5242881"},
                {"content_type": "image/png", "size": "1e3"}, {"content_type": "image/png"}):
        refused = console.post("/console/uploads", **bad)
        assert refused.status_code == 400, (bad, refused.status_code)


def test_every_page_allows_the_image_origins_for_images_and_uploads(console):
    import os
    from urllib.parse import urlsplit

    answer = console.get("/console/categories")
    assert answer.status_code == 200
    policy = dict(d.strip().split(" ", 1) for d in answer.headers["Content-Security-Policy"].split(";"))
    endpoint = urlsplit(os.environ["S3_ENDPOINT"])
    moto = f"{endpoint.scheme}://{endpoint.netloc}"
    assert policy["img-src"] == f"'self' {moto}" and policy["connect-src"] == f"'self' {moto}"
    assert policy["default-src"] == "'self'"
