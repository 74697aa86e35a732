"""Every order body takes `address_id` (one of GET /me/addresses) in place of `address`:
exactly one of the two, or 400 in the envelope before anything is read or written. A body
with its address inline dumps as it did before, so its Idempotency-Key hash is unchanged."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions import schemas
from layers.domain.order import request_hash
from tests.helpers import ADDRESS, body, create_product, login, order_payload, post

ORDER_MODELS = {
    "PlaceOrderInput": {"items": [{"sku_id": "s1", "quantity": 1}]},   # POST /orders
    "OrderInput": {"quantity": 1},                                   # POST /flash-sales/{id}/orders
    "GroupOrderInput": {},                                           # POST /group-buys/{id}/groups, /groups/{id}/orders
    "BargainOrderInput": {},                                         # POST /bargain-instances/{id}/orders
}


@pytest.mark.parametrize("name", ORDER_MODELS)
def test_exactly_one_of_address_and_address_id(name):
    model, rest = getattr(schemas, name), ORDER_MODELS[name]
    inline = model.model_validate({**rest, "address": ADDRESS})
    assert inline.address.detail == ADDRESS["detail"] and inline.address_id is None
    saved = model.model_validate({**rest, "address_id": "a0123456789abcdef0123"})
    assert saved.address is None and saved.address_id == "a0123456789abcdef0123"
    assert saved.model_dump(mode="json")["address_id"] == "a0123456789abcdef0123"
    for wrong in ({**rest}, {**rest, "address": ADDRESS, "address_id": "a1"},
                  {**rest, "address": None, "address_id": None}, {**rest, "address_id": "a 1"},
                  {**rest, "address_id": ""}):
        with pytest.raises(ValidationError):
            model.model_validate(wrong)


def test_an_inline_address_dumps_and_hashes_as_before_address_id_existed():
    body_ = schemas.PlaceOrderInput.model_validate(order_payload("s1", 2))
    dumped = body_.model_dump(mode="json")
    assert "address_id" not in dumped
    before = {"items": [{"sku_id": "s1", "quantity": 2}], "coupon_id": None, "address": {
        "name": "张三", "phone": "13800000000", "province": "上海", "city": "上海", "district": "静安区",
        "detail": "南京西路 1 号"}, "share_token": None, "pay_with": "wechat", "points": None}
    assert request_hash(dumped) == request_hash(before)


def test_the_document_says_exactly_one():
    schema = schemas.GroupOrderInput.model_json_schema()
    assert [branch["required"] for branch in schema["oneOf"]] == [["address"], ["address_id"], ["delivery"]]


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/orders", "/flash-sales/f1/orders", "/group-buys/g1/groups",
                                  "/groups/g1/orders", "/bargain-instances/b1/orders"])
def test_both_or_neither_is_400_and_nothing_is_placed(client, admin_headers, path):
    sku = create_product(client, admin_headers, stock=5)["skus"][0]["id"]
    rest = {"items": [{"sku_id": sku, "quantity": 1}]} if path == "/orders" else (
        {"quantity": 1} if path.startswith("/flash") else {})
    shopper = login(client)
    for wrong in ({**rest}, {**rest, "address": ADDRESS, "address_id": "a1"}):
        r = post(client, path, wrong, {**shopper, "Idempotency-Key": "k-" + path.replace("/", "")})
        assert r.status_code == 400, r.body
        error = body(r)["error"]
        assert error["code"] == "INVALID_REQUEST" and "address_id" in error["message"]
    orders = body(client.http.get("/orders", headers=shopper))
    assert orders["items"] == []
