"""One contract for the catalog repositories: the in-memory twin (tests/fakes/catalog.py)
and DynamoDB's (layers/storage/catalog.py) answer alike, conditions included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from layers.domain import errors
from layers.domain.catalog import Product, Sku, StockChange
from layers.domain.shop_settings import ShopSettings


@dataclass
class Env:
    repo: object  # a CatalogRepository (which is also a StockRepository)
    settings: object  # a SettingsRepository
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        settings = MemorySettingsRepository(store)
        return Env(MemoryCatalogRepository(store, settings), settings, store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.catalog import DynamoCatalogRepository, DynamoSettingsRepository
    from layers.storage.tx import Tx

    settings = DynamoSettingsRepository()
    return Env(DynamoCatalogRepository(settings), settings, Tx)


def _sku(stock: int = 5, active: bool = True, **kw) -> Sku:
    sku_id = "s_" + uuid.uuid4().hex[:12]
    return Sku(**{"sku_id": sku_id, "product_id": "p_" + sku_id, "title": "Tea", "category": "drinks",
                  "price": 1200, "stock": stock, "commission": {"mode": "tier"}, "active": active,
                  "spec": {"size": "L"}, **kw})


def _put(env: Env, *skus: Sku) -> None:
    tx = env.new_tx()
    for sku in skus:
        env.repo.stage_put_sku(tx, sku, StockChange(set_to=sku.stock))
    tx.commit()


def _stock(env: Env, sku_id: str) -> int:
    return env.repo.get_skus([sku_id])[sku_id].stock


class TestCatalogRepository:
    def test_skus_read_back_as_written(self, env):
        a, b = _sku(), _sku(category=None, commission=None, spec=None)
        _put(env, a, b)
        assert env.repo.get_skus([a.sku_id, b.sku_id, a.sku_id, "s_missing"]) == {a.sku_id: a, b.sku_id: b}
        assert env.repo.get_skus([]) == {}

    def test_take_decrements_while_stock_suffices(self, env):
        sku = _sku(stock=3)
        _put(env, sku)
        tx = env.new_tx()
        env.repo.stage_take(tx, {"kind": "sku", "sku_id": sku.sku_id, "quantity": 2})
        tx.commit()
        assert _stock(env, sku.sku_id) == 1

    def test_take_more_than_stock_is_sold_out_and_changes_nothing(self, env):
        sku, other = _sku(stock=1), _sku(stock=4)
        _put(env, sku, other)
        tx = env.new_tx()
        env.repo.stage_take(tx, {"kind": "sku", "sku_id": other.sku_id, "quantity": 1})
        env.repo.stage_take(tx, {"kind": "sku", "sku_id": sku.sku_id, "quantity": 2})
        with pytest.raises(errors.SoldOut) as caught:
            tx.commit()
        assert caught.value.details["sku_id"] == sku.sku_id
        assert _stock(env, sku.sku_id) == 1
        assert _stock(env, other.sku_id) == 4

    def test_take_of_an_inactive_or_missing_sku_is_sold_out(self, env):
        sku = _sku(stock=9, active=False)
        _put(env, sku)
        for sku_id in (sku.sku_id, "s_never_" + uuid.uuid4().hex[:8]):
            tx = env.new_tx()
            env.repo.stage_take(tx, {"kind": "sku", "sku_id": sku_id, "quantity": 1})
            with pytest.raises(errors.SoldOut):
                tx.commit()
        assert _stock(env, sku.sku_id) == 9

    def test_release_gives_back_to_an_existing_sku_only(self, env):
        sku = _sku(stock=0)
        _put(env, sku)
        tx = env.new_tx()
        env.repo.stage_release(tx, {"kind": "sku", "sku_id": sku.sku_id, "quantity": 3})
        tx.commit()
        assert _stock(env, sku.sku_id) == 3
        missing = "s_never_" + uuid.uuid4().hex[:8]
        tx = env.new_tx()
        env.repo.stage_release(tx, {"kind": "sku", "sku_id": missing, "quantity": 3})
        with pytest.raises(Exception) as caught:  # noqa: PT011 - no domain error: a bug, not an answer
            tx.commit()
        assert not isinstance(caught.value, errors.DomainError)
        assert env.repo.get_skus([missing]) == {}

    # -- an existing SKU's stock moves by a delta, or is set only while it is what was seen --

    def _change(self, env, sku, change):
        tx = env.new_tx()
        env.repo.stage_put_sku(tx, sku, change)
        tx.commit()

    def test_a_delta_moves_the_stock_never_below_zero(self, env):
        sku = _sku(stock=5)
        _put(env, sku)
        self._change(env, sku, StockChange(delta=3))
        assert _stock(env, sku.sku_id) == 8
        self._change(env, sku, StockChange(delta=-8))
        assert _stock(env, sku.sku_id) == 0
        with pytest.raises(errors.StockChanged):
            self._change(env, sku, StockChange(delta=-1))
        assert _stock(env, sku.sku_id) == 0

    def test_a_set_holds_only_while_the_stock_is_what_the_operator_saw(self, env):
        sku = _sku(stock=10)
        _put(env, sku)
        tx = env.new_tx()
        env.repo.stage_take(tx, {"kind": "sku", "sku_id": sku.sku_id, "quantity": 2})  # an order holds 2
        tx.commit()
        with pytest.raises(errors.StockChanged):
            self._change(env, sku, StockChange(set_to=10, expected=10))
        assert _stock(env, sku.sku_id) == 8
        self._change(env, sku, StockChange(set_to=10, expected=8))
        assert _stock(env, sku.sku_id) == 10
        self._change(env, sku, StockChange(set_to=10, expected=10))  # unchanged: fields only
        with pytest.raises(errors.StockChanged):  # a new SKU's outright set never lands on an existing one
            self._change(env, sku, StockChange(set_to=3))
        self._change(env, replace(sku, price=1500), StockChange())
        got = env.repo.get_skus([sku.sku_id])[sku.sku_id]
        assert got.stock == 10 and got.price == 1500

    def test_retire_keeps_the_sku_off_sale(self, env):
        sku = _sku(stock=2)
        _put(env, sku)
        tx = env.new_tx()
        env.repo.stage_retire_sku(tx, sku.sku_id)
        tx.commit()
        got = env.repo.get_skus([sku.sku_id])[sku.sku_id]
        assert got.active is False and got.stock == 2

    def test_products_read_back_and_list_newest_first_active_only(self, env):
        tag = uuid.uuid4().hex[:8]
        made = []
        for i, active in enumerate([True, False, True]):
            product = Product(product_id=f"p_{tag}_{i}", title=f"T{i}", category=None,
                              sku_ids=(f"s_{tag}_{i}",), commission=None,
                              created_at=f"2999-01-0{i + 1}T00:00:00Z",
                              updated_at=f"2999-01-0{i + 1}T00:00:00Z", active=active)
            tx = env.new_tx()
            env.repo.stage_put_product(tx, product)
            tx.commit()
            made.append(product)
        assert env.repo.get_product(made[1].product_id) == made[1]
        assert env.repo.get_product("p_missing") is None
        page, _ = env.repo.list_products(50, None)
        ours = [p.product_id for p in page if p.product_id.startswith(f"p_{tag}")]
        assert ours == [made[2].product_id, made[0].product_id]

    def test_content_reads_back_and_products_are_got_in_one_batch(self, env):
        tag = uuid.uuid4().hex[:8]
        full = Product(product_id=f"p_{tag}_full", title="红茶", category="茶叶", sku_ids=(f"s_{tag}",),
                       commission=None, created_at="2999-02-01T00:00:00Z", updated_at="2999-02-01T00:00:00Z",
                       images=("https://img/a.png", "https://img/b.png"), description="一级", detail_images=(
                           "https://img/c.png",), category_id="c_1", tags=("正山小种", "礼盒"), sort_weight=7,
                       price_min=1200, freight_template_id="ft_1")
        bare = replace(full, product_id=f"p_{tag}_bare", images=(), description=None, detail_images=(),
                       category_id=None, tags=(), sort_weight=0, price_min=None, active=False,
                       freight_template_id=None)
        tx = env.new_tx()
        env.repo.stage_put_product(tx, full)
        env.repo.stage_put_product(tx, bare)
        tx.commit()
        got = env.repo.get_products([full.product_id, bare.product_id, "p_missing", full.product_id])
        assert got == {full.product_id: full, bare.product_id: bare}
        on_sale = {p.product_id for p in env.repo.all_products()}
        assert full.product_id in on_sale and bare.product_id not in on_sale

    def test_a_sku_keeps_its_list_price_and_weight(self, env):
        sku = _sku(list_price=1500, weight_g=250)
        _put(env, sku)
        assert env.repo.get_skus([sku.sku_id])[sku.sku_id] == sku

    def test_a_sku_keeps_its_freight_template_until_a_write_without_one(self, env):
        sku = _sku(freight_template_id="ft_1")
        _put(env, sku)
        assert env.repo.get_skus([sku.sku_id])[sku.sku_id] == sku
        tx = env.new_tx()
        env.repo.stage_put_sku(tx, replace(sku, freight_template_id=None), StockChange())
        tx.commit()
        assert env.repo.get_skus([sku.sku_id])[sku.sku_id].freight_template_id is None

    def test_settings_default_then_saved(self, env):
        before = env.settings.load_settings(fresh=True)
        assert isinstance(before, ShopSettings)
        changed = before.model_copy(update={"shipping_fee": before.shipping_fee + 1})
        env.settings.save_settings(changed, "2026-01-01T00:00:00Z")
        assert env.settings.load_settings() == changed
        assert env.repo.load_settings(fresh=True) == changed
        env.settings.save_settings(before, "2026-01-01T00:00:01Z")
