"""PromotionService on the in-memory repositories: made in the API's shape (times in UTC),
refused naming the field, stopped once, listed newest first with figures, and the live
ones for shoppers with their labels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions import schemas
from layers.domain import errors
from layers.domain.analytics import PROMOTION as COUNTER
from layers.domain.analytics import Key
from layers.domain.promotion import MAX_ID, Promotion, Tier
from layers.services.promotions import PromotionService, discount_words, label, yuan
from tests.fakes.analytics import MemoryAnalyticsRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.promotions import MemoryPromotionRepository


@pytest.fixture
def shop():
    store, clock = MemoryStore(), FakeClock()  # 2026-11-29T02:00:00Z
    analytics = MemoryAnalyticsRepository(store)
    counter = iter(range(1, 1000))
    service = PromotionService(promotions=MemoryPromotionRepository(store), figures=analytics.promotions,
                               clock=clock, new_id=lambda prefix: f"{prefix}_{next(counter):03d}")
    return {"service": service, "clock": clock, "analytics": analytics, "store": store}


def promotion_body(**kw) -> dict:
    return {"name": "双12满减", "kind": "amount_off",
            "tiers": [{"threshold": 50000, "value": 10000}, {"threshold": 30000, "value": 5000}],
            "scope": {"product_ids": ["p_tea"], "category_ids": ["c_cups"]},
            "starts_at": "2026-11-29T08:00:00+08:00", "ends_at": "2026-12-13T00:00:00+08:00", **kw}


def make(shop, **kw) -> dict:
    return shop["service"].create(schemas.PromotionInput.model_validate(promotion_body(**kw)))


def test_made_in_the_apis_shape_times_in_utc_tiers_lowest_first(shop):
    made = make(shop)
    assert made == {
        "id": "pr_001", "name": "双12满减", "kind": "amount_off",
        "tiers": [{"threshold": 30000, "value": 5000}, {"threshold": 50000, "value": 10000}],
        "scope": {"product_ids": ["p_tea"], "category_ids": ["c_cups"]},
        "starts_at": "2026-11-29T00:00:00Z", "ends_at": "2026-12-12T16:00:00Z", "new_customers_only": False,
        "with_coupons": True, "status": "ACTIVE", "created_at": "2026-11-29T02:00:00Z", "stopped_at": None,
        "live": True, "label": "满300减50，满500减100", "figures": {"orders": 0, "discount": 0, "gmv": 0}}
    assert shop["service"].get("pr_001") == made
    with pytest.raises(errors.NotFound):
        shop["service"].get("pr_none")


@pytest.mark.parametrize(("change", "field"), [
    ({"tiers": [{"threshold": 30000, "value": 30000}]}, "tiers.0.value"),
    ({"tiers": [{"min_quantity": 2, "value": 500}]}, "tiers.0"),
    ({"kind": "gift", "tiers": [{"threshold": 19900, "value": 1}]}, "gift_sku_id"),
    ({"gift_sku_id": "s_1"}, "gift_sku_id"),
    ({"ends_at": "2026-11-29T07:00:00+08:00"}, "ends_at"),
    ({"starts_at": "2026-11-01T00:00:00+08:00", "ends_at": "2026-11-28T00:00:00Z"}, "ends_at"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"starts_at": "2026-11-29T08:00:00"}, "starts_at"),
    ({"starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at"),
    ({"ends_at": "9999-12-31T23:59:59-14:00"}, "ends_at"),
    ({"kind": "percent_off", "tiers": [{"min_quantity": 2, "value": 80}, {"min_quantity": 3, "value": 90}]}, "tiers"),
])
def test_refused_naming_the_field_and_nothing_stored(shop, change, field):
    with pytest.raises(errors.InvalidRequest) as refused:
        make(shop, **change)
    assert refused.value.message.startswith(field + ":"), refused.value.message
    assert shop["service"].page(10, None) == ([], None)


def test_an_id_too_long_for_the_live_item_is_refused_by_the_model_and_the_domain():
    from pydantic import ValidationError

    from layers.domain.promotion import promotion_from

    with pytest.raises(ValidationError):
        schemas.PromotionInput.model_validate(promotion_body(scope={"product_ids": ["p" * (MAX_ID + 1)]}))
    with pytest.raises(errors.InvalidRequest, match="scope.product_ids"):
        promotion_from(promotion_body(scope={"product_ids": ["p" * (MAX_ID + 1)]}), "pr_1", "2026-11-29T02:00:00Z")


def test_a_time_far_back_is_kept_in_four_digits_and_read_again(shop):
    made = make(shop, starts_at="0001-01-01T08:00:00+08:00")
    assert made["starts_at"] == "0001-01-01T00:00:00Z" and made["live"]
    assert shop["service"].get(made["id"])["label"] == "满300减50，满500减100"


def test_stopped_once_a_retry_answered_as_it_is_and_no_longer_live(shop):
    made = make(shop)
    shop["clock"].advance(60)
    stopped = shop["service"].stop(made["id"])
    assert (stopped["status"], stopped["stopped_at"], stopped["live"]) == ("STOPPED", "2026-11-29T02:01:00Z", False)
    shop["clock"].advance(60)
    assert shop["service"].stop(made["id"]) == stopped
    assert shop["service"].live(20, None) == ([], None)
    with pytest.raises(errors.NotFound):
        shop["service"].stop("pr_none")


def test_listed_newest_first_each_with_its_figures(shop):
    first = make(shop)
    shop["clock"].advance(60)
    second = make(shop, name="第二件半价", kind="nth_item", tiers=[{"min_quantity": 2, "value": 50}], scope=None)
    tx = shop["store"].tx()
    from layers.domain.analytics import Increment

    shop["analytics"].stage_increment(tx, Increment(Key(COUNTER, "-", first["id"]),
                                                    {"orders": 2, "discount": 10000, "gmv": 70000}))
    tx.commit()
    page, cursor = shop["service"].page(1, None)
    assert [p["id"] for p in page] == [second["id"]] and page[0]["figures"] == {"orders": 0, "discount": 0, "gmv": 0}
    assert page[0]["scope"] == {"product_ids": [], "category_ids": []} and page[0]["label"] == "第2件半价"
    page, cursor = shop["service"].page(1, cursor)
    assert [p["id"] for p in page] == [first["id"]] and cursor is None
    assert page[0]["figures"] == {"orders": 2, "discount": 10000, "gmv": 70000}


def test_shoppers_see_the_live_ones_soonest_to_end_first_without_their_history(shop):
    later = make(shop, name="晚结束")
    sooner = make(shop, name="早结束", ends_at="2026-12-01T00:00:00Z")
    make(shop, name="还没开始", starts_at="2026-12-01T00:00:00Z", ends_at="2026-12-02T00:00:00Z")
    page, cursor = shop["service"].live(1, None)
    assert [p["id"] for p in page] == [sooner["id"]] and cursor == {"o": 1}
    assert set(page[0]) == {"id", "name", "kind", "tiers", "scope", "starts_at", "ends_at", "new_customers_only",
                            "with_coupons", "label"}
    page, cursor = shop["service"].live(1, cursor)
    assert [p["id"] for p in page] == [later["id"]] and cursor is None
    shop["clock"].current += timedelta(days=2, hours=1)  # the first two ended or still on; the third started
    assert [p["name"] for p in shop["service"].live(20, None)[0]] == ["还没开始", "晚结束"]


def t(value, threshold=None, pieces=None) -> Tier:
    return Tier(value=value, threshold=threshold, min_quantity=pieces)


@pytest.mark.parametrize(("kind", "tiers", "said"), [
    ("amount_off", (t(5000, 30000),), "满300减50"),
    ("amount_off", (t(550, 9950), t(1001, 19900)), "满99.5减5.5，满199减10.01"),
    ("percent_off", (t(80, pieces=2),), "满2件8折"),
    ("percent_off", (t(85, 20000),), "满200打8.5折"),
    ("gift", (t(1, 19900),), "满199赠1件赠品"),
    ("gift", (t(2, pieces=3),), "满3件赠2件赠品"),
    ("nth_item", (t(50, pieces=2),), "第2件半价"),
    ("nth_item", (t(0, pieces=3),), "第3件免费"),
    ("nth_item", (t(70, pieces=2),), "第2件7折"),
    ("bundle", (t(9900, pieces=3),), "3件99元"),
    ("bundle", (t(9990, pieces=3),), "3件99.9元"),
])
def test_labels_read_as_people_say_them(kind, tiers, said):
    p = Promotion(promotion_id="pr", name="x", kind=kind, tiers=tiers, starts_at="2026-11-29T00:00:00Z",
                  ends_at="2026-12-29T00:00:00Z", gift_sku_id="s" if kind == "gift" else None)
    assert label(p) == said


def test_yuan_and_discounts_exactly():
    assert [yuan(f) for f in (0, 1, 10, 100, 12345, 30000, 100_000_000)] == [
        "0", "0.01", "0.1", "1", "123.45", "300", "1000000"]
    assert [discount_words(p) for p in (1, 5, 50, 75, 99)] == ["0.1折", "0.5折", "5折", "7.5折", "9.9折"]
