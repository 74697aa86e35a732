"""FreightService and a product's freight template, on the in-memory repositories."""

from __future__ import annotations

import pytest

from functions import schemas
from layers.domain import errors
from layers.services.catalog import CatalogService
from layers.services.freight import FreightService
from tests.fakes.catalog import MemoryCatalogRepository
from tests.fakes.freight import MemoryFreightRepository
from tests.fakes.memory import FakeClock, MemoryStore


@pytest.fixture
def shop():
    store, clock = MemoryStore(), FakeClock()
    catalog = MemoryCatalogRepository(store)
    freight = MemoryFreightRepository(store)
    return {"freight": FreightService(freight=freight, clock=clock, new_id=catalog.new_id),
            "catalog": CatalogService(catalog=catalog, new_tx=store.tx, clock=clock, freight=freight),
            "repo": catalog, "clock": clock}


def template_body(**kw) -> dict:
    return {"name": "江浙沪包邮", "charge_by": "piece",
            "default": {"first": 1, "first_fee": 1000, "additional": 1, "additional_fee": 500},
            "regions": [{"provinces": ["新疆", "西藏"], "first": 1, "first_fee": 2000, "additional": 1,
                         "additional_fee": 1500}],
            "free": [{"provinces": ["上海", "江苏", "浙江"]}], "undeliverable": ["香港"], **kw}


def make(shop, **kw) -> dict:
    return shop["freight"].create(schemas.FreightTemplateInput.model_validate(template_body(**kw)))


def test_made_listed_and_read_in_the_apis_shape(shop):
    made = make(shop)
    assert made["id"].startswith("ft_") and made["version"] == 1
    assert made["regions"] == [{"provinces": ["西藏自治区", "新疆维吾尔自治区"], "first": 1, "first_fee": 2000,
                                "additional": 1, "additional_fee": 1500}]
    assert made["free"] == [{"provinces": ["上海市", "江苏省", "浙江省"], "min_amount": None, "min_pieces": None}]
    assert made["undeliverable"] == ["香港特别行政区"]
    assert made["created_at"] == made["updated_at"] == "2026-11-29T02:00:00Z"
    other = make(shop, name="大件")
    assert shop["freight"].get(made["id"]) == made
    page, cursor = shop["freight"].page(1, None)
    assert [t["id"] for t in page] == [made["id"]] and cursor == {"o": 1}
    page, cursor = shop["freight"].page(1, cursor)
    assert [t["id"] for t in page] == [other["id"]] and cursor is None


def test_an_update_replaces_it_and_a_stale_version_is_refused(shop):
    made = make(shop)
    shop["clock"].advance(60)
    edited = shop["freight"].update(made["id"], schemas.FreightTemplateUpdateInput.model_validate(
        template_body(name="改名", free=[], version=1)))
    assert (edited["name"], edited["version"], edited["free"]) == ("改名", 2, [])
    assert edited["created_at"] == made["created_at"] and edited["updated_at"] == "2026-11-29T02:01:00Z"
    with pytest.raises(errors.InvalidState):  # read at version 1, changed since
        shop["freight"].update(made["id"], schemas.FreightTemplateUpdateInput.model_validate(
            template_body(name="旧页面", version=1)))
    without = shop["freight"].update(made["id"], schemas.FreightTemplateUpdateInput.model_validate(
        template_body(name="不带版本")))  # no version: the current one is replaced
    assert (without["name"], without["version"]) == ("不带版本", 3)
    with pytest.raises(errors.NotFound):
        shop["freight"].update("ft_missing", schemas.FreightTemplateUpdateInput.model_validate(template_body()))


def test_a_wrong_template_changes_nothing(shop):
    made = make(shop)
    with pytest.raises(errors.InvalidRequest):
        shop["freight"].update(made["id"], schemas.FreightTemplateUpdateInput.model_validate(
            template_body(undeliverable=["火星"])))
    assert shop["freight"].get(made["id"]) == made
    with pytest.raises(errors.InvalidRequest):
        make(shop, free=[{}])
    assert len(shop["freight"].all()) == 1


def product(**kw) -> schemas.ProductInput:
    return schemas.ProductInput.model_validate({"title": "茶杯", "skus": [{"price": 1990, "stock": 5},
                                                                        {"price": 2990, "stock": 5}], **kw})


def test_a_product_names_a_template_and_its_skus_carry_it(shop):
    template = make(shop)
    made = shop["catalog"].create_product(product(freight_template_id=template["id"]))
    assert made["freight_template_id"] == template["id"]
    skus = shop["repo"].get_skus([s["id"] for s in made["skus"]])
    assert {s.freight_template_id for s in skus.values()} == {template["id"]}
    assert shop["catalog"].get_product(made["id"])["freight_template_id"] == template["id"]

    other = make(shop, name="大件")
    sku_bodies = [{"id": s["id"], "price": s["price"]} for s in made["skus"]]
    moved = shop["catalog"].update_product(made["id"], product(skus=sku_bodies, freight_template_id=other["id"]))
    assert moved["freight_template_id"] == other["id"]
    assert {s.freight_template_id for s in shop["repo"].get_skus([s["id"] for s in made["skus"]]).values()} == {
        other["id"]}

    flat = shop["catalog"].update_product(made["id"], product(skus=sku_bodies))  # left out: the flat fee
    assert flat["freight_template_id"] is None
    assert {s.freight_template_id for s in shop["repo"].get_skus([s["id"] for s in made["skus"]]).values()} == {None}


def test_an_unknown_template_is_refused_and_changes_nothing(shop):
    made = shop["catalog"].create_product(product())
    with pytest.raises(errors.UnknownFreightTemplate) as refused:
        shop["catalog"].update_product(made["id"], product(freight_template_id="ft_nothere"))
    assert refused.value.code == "UNKNOWN_FREIGHT_TEMPLATE" and refused.value.kind == "unprocessable"
    assert shop["catalog"].get_product_admin(made["id"]) == made
    with pytest.raises(errors.UnknownFreightTemplate):
        shop["catalog"].create_product(product(freight_template_id="ft_nothere"))
