"""CatalogService, CartService and ShopSettingsService on the in-memory repositories."""

from __future__ import annotations

import pytest

from functions import schemas
from layers.domain import errors
from layers.services.cart import CartService
from layers.services.catalog import CatalogService, ShopSettingsService
from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.users import MemoryCartRepository


@pytest.fixture
def shop():
    store, clock = MemoryStore(), FakeClock()
    settings = MemorySettingsRepository(store)
    repo = MemoryCatalogRepository(store, settings)
    return {"catalog": CatalogService(catalog=repo, new_tx=store.tx, clock=clock),
            "cart": CartService(carts=MemoryCartRepository(store), stock=repo, clock=clock),
            "settings": ShopSettingsService(settings=settings, clock=clock),
            "repo": repo, "clock": clock, "store": store}


def _product(**kw) -> schemas.ProductInput:
    return schemas.ProductInput.model_validate({
        "title": "手环", "category": "数码", "skus": [{"price": 1990, "stock": 12, "spec": {"色": "黑"}},
                                                  {"price": 990, "stock": 3}], **kw})


def test_create_then_browse(shop):
    made = shop["catalog"].create_product(_product(commission={"mode": "fixed", "rate_bps": 500}))
    assert made["price"] == 990 and made["active"] is True
    assert [(s["price"], s["stock"], s["stock_status"]) for s in made["skus"]] == [
        (1990, 12, "IN_STOCK"), (990, 3, "LOW_STOCK")]
    seen = shop["catalog"].get_product(made["id"])
    assert "stock" not in seen["skus"][0] and "active" not in seen
    sku = shop["repo"].get_skus([made["skus"][0]["id"]])[made["skus"][0]["id"]]
    assert (sku.title, sku.category, sku.commission) == ("手环", "数码", {"mode": "fixed", "rate_bps": 500})
    items, cursor = shop["catalog"].list_products(10, None)
    assert [p["id"] for p in items] == [made["id"]] and cursor is None


def test_update_sets_stock_and_retires_left_out_skus(shop):
    made = shop["catalog"].create_product(_product())
    keep, drop = made["skus"][0]["id"], made["skus"][1]["id"]
    shop["clock"].advance(60)
    changed = shop["catalog"].update_product(made["id"], _product(skus=[{"id": keep, "price": 1500, "stock": 0,
                                                                                   "expected_stock": 12}]))
    assert [(s["id"], s["stock_status"]) for s in changed["skus"]] == [(keep, "SOLD_OUT")]
    assert changed["updated_at"] > changed["created_at"]
    assert shop["repo"].get_skus([drop])[drop].active is False
    with pytest.raises(errors.InvalidRequest):
        shop["catalog"].update_product(made["id"], _product(skus=[{"id": "s_other", "price": 1, "stock": 1}]))
    with pytest.raises(errors.NotFound):
        shop["catalog"].update_product("p_missing", _product())


def test_the_operator_never_makes_stock_appear_that_was_not_there(shop):
    """Stock 10, an order holds 2, the operator 'sets 10' from a stale form, the
    order closes: 12 before. Now the blind set is refused and a delta or a set conditioned
    on what was seen keeps the books."""
    made = shop["catalog"].create_product(_product(skus=[{"price": 1000, "stock": 10}]))
    sku = made["skus"][0]["id"]
    repo, store = shop["repo"], shop["store"]
    hold = {"kind": "sku", "sku_id": sku, "quantity": 2}
    tx = store.tx()
    repo.stage_take(tx, hold)
    tx.commit()
    for stale in ({"stock": 10}, {"stock": 10, "expected_stock": 10}):
        with pytest.raises(errors.StockChanged):
            shop["catalog"].update_product(made["id"], _product(skus=[{"id": sku, "price": 1000, **stale}]))
    assert repo.get_skus([sku])[sku].stock == 8
    answer = shop["catalog"].update_product(made["id"], _product(skus=[{"id": sku, "price": 1000, "stock_delta": 5}]))
    assert answer["skus"][0]["stock"] == 13
    tx = store.tx()
    repo.stage_release(tx, hold)  # the order closes
    tx.commit()
    assert repo.get_skus([sku])[sku].stock == 15  # 10 + 5 received, nothing invented
    answer = shop["catalog"].update_product(made["id"], _product(skus=[{"id": sku, "price": 900, "stock": 20,
                                                                        "expected_stock": 15}]))
    assert answer["skus"][0]["stock"] == 20 and answer["skus"][0]["price"] == 900
    for bad in ({"stock_delta": 1}, {"stock": 1, "stock_delta": 1}, {"id": sku, "expected_stock": 3},
                {"id": sku, "stock": 1, "stock_delta": 1}, {}):
        with pytest.raises(ValueError):
            _product(skus=[{"price": 1000, **bad}])


def test_inactive_products_are_not_found_by_shoppers(shop):
    made = shop["catalog"].create_product(_product(active=False))
    with pytest.raises(errors.NotFound):
        shop["catalog"].get_product(made["id"])
    assert shop["catalog"].list_products(10, None)[0] == []


def test_cart_shows_problems_never_errors(shop):
    made = shop["catalog"].create_product(_product())
    big, small = made["skus"][0]["id"], made["skus"][1]["id"]
    cart = shop["cart"]
    cart.put("u1", big, 2)
    view = cart.put("u1", small, 5)
    by_sku = {i["sku_id"]: i for i in view["items"]}
    assert by_sku[big]["available"] and by_sku[big]["unit_price"] == 1990
    assert by_sku[small]["problem"] == "INSUFFICIENT_STOCK"
    assert view["goods"] == 2 * 1990
    shop["catalog"].update_product(made["id"], _product(skus=[{"id": small, "price": 990}]))
    assert {i["sku_id"]: i.get("problem") for i in cart.view("u1")["items"]}[big] == "SKU_UNAVAILABLE"
    assert cart.remove("u1", big)["items"][0]["sku_id"] == small
    with pytest.raises(errors.NotFound):
        cart.put("u1", "s_missing", 1)


def test_cart_holds_at_most_100_lines(shop):
    skus = [{"price": 100, "stock": 1} for _ in range(50)]
    ids = [s["id"] for p in (shop["catalog"].create_product(_product(skus=skus)) for _ in range(3))
           for s in p["skus"]]
    for sku_id in ids[:100]:
        shop["cart"].put("u1", sku_id, 1)
    shop["cart"].put("u1", ids[0], 1)  # an existing line may change
    with pytest.raises(errors.LimitExceeded):
        shop["cart"].put("u1", ids[100], 1)


def test_settings_merge_a_partial_body(shop):
    assert shop["settings"].get()["shipping_fee"] == 0
    after = shop["settings"].update({"shipping_fee": 800})
    assert after["shipping_fee"] == 800 and after["order_payment_timeout_s"] == 900
    assert shop["repo"].load_settings().shipping_fee == 800
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        shop["settings"].update({"no_such_rule": 1})


def test_an_edit_of_only_a_skus_weight_or_list_price_is_written(shop):
    """Freight by weight reads the SKU's weight: an edit that changes nothing else still writes it."""
    made = shop["catalog"].create_product(_product(skus=[{"price": 1990, "stock": 5}]))
    sku_id = made["skus"][0]["id"]
    shop["catalog"].update_product(made["id"], _product(skus=[{"id": sku_id, "price": 1990, "weight_g": 350}]))
    assert shop["repo"].get_skus([sku_id])[sku_id].weight_g == 350
    shop["catalog"].update_product(made["id"], _product(skus=[{"id": sku_id, "price": 1990, "weight_g": 350,
                                                                "list_price": 2990}]))
    assert shop["repo"].get_skus([sku_id])[sku_id].list_price == 2990
