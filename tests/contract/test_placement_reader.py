"""The placement reader: everything placement needs, in one read, from the
in-memory repositories and from DynamoDB Local (one BatchGetItem), alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from layers.domain.attribution import Binding
from layers.domain.catalog import Sku, StockChange
from layers.domain.shop_settings import ShopSettings
from tests.contract.test_coupon_repositories import Exists, _coupon


@dataclass
class Env:
    reader: object
    users: object
    stock: object
    settings: object
    coupons: object
    distributors: object
    new_tx: object
    promotions: object = None
    calls: object = None  # () -> round trips so far (DynamoDB only)


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
        from tests.fakes.coupons import MemoryUserCoupons
        from tests.fakes.distribution import MemoryDistributorRepository
        from tests.fakes.memory import MemoryStore
        from tests.fakes.placement import MemoryPlacementReader
        from tests.fakes.users import MemoryUserRepository

        store = MemoryStore()
        settings = MemorySettingsRepository(store)
        users, stock = MemoryUserRepository(store), MemoryCatalogRepository(store, settings)
        from tests.fakes.promotions import MemoryPromotionRepository

        coupons, distributors = MemoryUserCoupons(store), MemoryDistributorRepository(store)
        promotions = MemoryPromotionRepository(store)
        return Env(MemoryPlacementReader(users, stock, coupons, distributors, promotions=promotions), users, stock,
                   settings, coupons, distributors, store.tx, promotions)
    request.getfixturevalue("dynamodb")
    from layers.storage import placement
    from layers.storage.catalog import DynamoCatalogRepository, DynamoSettingsRepository
    from layers.storage.coupons import DynamoUserCoupons
    from layers.storage.distribution import DynamoDistributorRepository
    from layers.storage.placement import DynamoPlacementReader
    from layers.storage.promotions import DynamoPromotionRepository
    from layers.storage.tx import Tx
    from layers.storage.users import DynamoUserRepository

    settings = DynamoSettingsRepository()
    # the live promotions under a key of this test's own: the shop's are every test's
    live_key = ("PROMOTIONS", "LIVE-" + uuid.uuid4().hex)
    promotions = DynamoPromotionRepository(live_key=live_key, listed_as="PROMOTIONS-" + uuid.uuid4().hex)
    batches = []
    real = placement.batch_get_raw

    def counted(keys, **how):
        batches.append(len(keys))
        return real(keys, **how)

    request.getfixturevalue("monkeypatch").setattr(placement, "batch_get_raw", counted)
    return Env(DynamoPlacementReader(settings, live_key=live_key), DynamoUserRepository(),
               DynamoCatalogRepository(settings), settings, DynamoUserCoupons(), DynamoDistributorRepository(), Tx,
               promotions, lambda: len(batches))


def _sku(**kw) -> Sku:
    return Sku(**{"sku_id": "sku_" + uuid.uuid4().hex[:12], "product_id": "p1", "title": "龙井", "category": "tea",
                  "price": 1500, "stock": 7, "commission": {"rate_bp": 500}, "active": True, "spec": None, **kw})


def _put_skus(env: Env, *skus: Sku) -> None:
    tx = env.new_tx()
    for s in skus:
        env.stock.stage_put_sku(tx, s, StockChange(set_to=s.stock))
    tx.commit()


class TestPlacementReader:
    def test_reads_the_shopper_skus_settings_coupon_and_binding(self, env):
        user = env.users.upsert_user("o-" + uuid.uuid4().hex, None, "2026-11-20T08:00:00Z")
        a, b = _sku(), _sku(price=990, stock=0, active=False)
        _put_skus(env, a, b)
        # The table's settings are the shop's, shared by every test: read, not written here.
        settings = env.settings.load_settings(fresh=True)
        coupon = _coupon(user_id=user.user_id)
        tx = env.new_tx()
        env.coupons.stage_issue(tx, coupon, on_exists=Exists)
        tx.commit()
        binding = Binding(user.user_id, "u_sharer", "2026-11-20T08:00:00Z", "2026-11-27T08:00:00Z", "tok")
        assert env.distributors.put_binding(binding, ttl_epoch=1_900_000_000)

        facts = env.reader.read(user.user_id, [a.sku_id, b.sku_id, "sku_missing", a.sku_id], coupon.coupon_id)
        assert facts.user == user
        assert facts.skus == {a.sku_id: a, b.sku_id: b}
        assert facts.settings == settings
        assert facts.coupon == env.coupons.get(coupon.coupon_id)
        assert facts.binding == binding

    def test_what_is_not_there_is_none(self, env):
        facts = env.reader.read("u_" + uuid.uuid4().hex[:24], ["sku_nope"], "uc_nope")
        assert facts.user is None and facts.skus == {} and facts.coupon is None and facts.binding is None
        assert isinstance(facts.settings, ShopSettings)

    def test_no_coupon_named_reads_none(self, env):
        user = env.users.upsert_user("o-" + uuid.uuid4().hex, None, "2026-11-20T08:00:00Z")
        facts = env.reader.read(user.user_id, [], None)
        assert facts.user == user and facts.coupon is None

    def test_reads_the_live_promotions_with_their_gift_skus(self, env):
        from datetime import UTC, datetime, timedelta

        from layers.domain.promotion import promotion_from

        now = datetime.now(UTC)
        gift, bought = _sku(price=2000, stock=3), _sku()
        _put_skus(env, gift, bought)
        promotion = promotion_from({
            "name": "满100送杯", "kind": "gift", "tiers": [{"threshold": 10000, "value": 1}], "gift_sku_id": gift.sku_id,
            "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()},
            "pm_" + uuid.uuid4().hex[:12], now.isoformat())
        env.promotions.create(promotion, now)
        user = env.users.upsert_user("o-" + uuid.uuid4().hex, None, "2026-11-20T08:00:00Z")

        facts = env.reader.read(user.user_id, [bought.sku_id], None)
        assert [p.promotion_id for p in facts.promotions] == [promotion.promotion_id]
        assert facts.skus[gift.sku_id].stock == 3  # the gift's stock, read with the order
        assert facts.new_customer
        if env.calls is not None:
            # the first read learns of the gift (a second, small batch); the next asks for it at once
            first = env.calls()
            again = env.reader.read(user.user_id, [bought.sku_id], None)
            assert env.calls() == first + 1 and again.skus[gift.sku_id].stock == 3
