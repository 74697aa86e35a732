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
        coupons, distributors = MemoryUserCoupons(store), MemoryDistributorRepository(store)
        return Env(MemoryPlacementReader(users, stock, coupons, distributors), users, stock, settings, coupons,
                   distributors, store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.catalog import DynamoCatalogRepository, DynamoSettingsRepository
    from layers.storage.coupons import DynamoUserCoupons
    from layers.storage.distribution import DynamoDistributorRepository
    from layers.storage.placement import DynamoPlacementReader
    from layers.storage.tx import Tx
    from layers.storage.users import DynamoUserRepository

    settings = DynamoSettingsRepository()
    return Env(DynamoPlacementReader(settings), DynamoUserRepository(), DynamoCatalogRepository(settings), settings,
               DynamoUserCoupons(), DynamoDistributorRepository(), Tx)


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
