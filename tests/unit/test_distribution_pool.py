"""The promotion pool and what one unit earns a guide, over in-memory repositories. The
same under DynamoDB Local, with a real order's commission: tests/integration/test_distribution_pool.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from layers.domain import commission as rules
from layers.domain import distribution_pool as pools
from layers.domain import errors
from layers.domain.catalog import Product, Sku
from layers.services.distribution import DistributionService
from layers.services.distribution_pool import ROUNDS, DistributionPoolService
from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
from tests.fakes.distribution import MemoryCommissionRepository, MemoryDistributorRepository
from tests.fakes.distribution_pool import MemoryPoolRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.users import MemoryUserRepository

# -- the rule: one line's commission -----------------------------------------------------------


def test_a_line_earns_its_products_fixed_rate_or_the_tier_rate_rounded_down():
    assert rules.line_commission(3333, None, 700) == (700, 233)
    assert rules.line_commission(3333, {"mode": "tier", "rate_bps": None}, 700) == (700, 233)
    assert rules.line_commission(6667, {"mode": "fixed", "rate_bps": 1500}, 700) == (1500, 1000)
    assert rules.line_commission(6667, {"mode": "fixed", "rate_bps": 0}, 700) == (0, 0)
    assert rules.line_commission(-5, None, 700) == (700, 0)


commissions = st.one_of(st.none(), st.just({"mode": "tier", "rate_bps": None}),
                        st.builds(lambda r: {"mode": "fixed", "rate_bps": r}, st.integers(0, 10_000)))


@given(price=st.integers(0, 10_000_000), commission=commissions, tier=st.integers(0, 10_000))
def test_one_unit_earns_what_an_order_of_one_unit_without_discount_accrues(price, commission, tier):
    item = {"sku_id": "s1", "quantity": 1, "unit_price": price, "commission": commission, "paid": price}
    [line] = rules.order_commission([item], {"goods": price, "discount": 0, "shipping": 0, "payable": price}, tier)
    assert rules.line_commission(price, commission, tier) == (line.rate_bps, line.amount)


# -- the pool's rules ----------------------------------------------------------------------------

def test_the_chosen_ids_drop_duplicates_keep_order_and_are_capped():
    assert pools.chosen(["b", "a", "b", "c", "a"]) == ("b", "a", "c")
    assert len(pools.chosen([f"p{i}" for i in range(pools.MAX_PRODUCTS)] * 2)) == pools.MAX_PRODUCTS
    with pytest.raises(errors.InvalidRequest):
        pools.chosen([f"p{i}" for i in range(pools.MAX_PRODUCTS + 1)])


def test_a_share_of_the_shop_always_goes_and_of_a_product_only_inside_the_pool():
    listed = pools.Pool(all=False, product_ids=("p1",))
    pools.check_share(listed, None)
    pools.check_share(listed, "p1")
    pools.check_share(pools.EVERYTHING, "p2")
    with pytest.raises(errors.NotInPool) as caught:
        pools.check_share(listed, "p2")
    assert caught.value.code == "NOT_IN_POOL" and caught.value.kind == "unprocessable"
    with pytest.raises(errors.NotInPool):
        pools.check_share(pools.Pool(all=False), "p1")  # an empty list: the shop only


def test_the_request_takes_exactly_one_of_all_and_product_ids():
    from functions.schemas import DistributionPoolInput

    assert DistributionPoolInput.model_validate({"all": True}).all is True
    assert DistributionPoolInput.model_validate({"product_ids": ["a", "a"]}).product_ids == ["a", "a"]
    for bad in ({}, {"all": False}, {"all": True, "product_ids": []}, {"product_ids": ["bad id"]},
                {"all": "yes"}, {"product_ids": ["a"], "extra": 1}):
        with pytest.raises(ValidationError):
            DistributionPoolInput.model_validate(bad)


# -- the service ---------------------------------------------------------------------------------

class CountingCatalog(MemoryCatalogRepository):
    """Counts the catalog's calls: a page must cost a bounded number of them."""

    def __init__(self, store):
        super().__init__(store)
        self.calls = 0

    def get_products(self, product_ids):
        self.calls += 1
        return super().get_products(product_ids)

    def get_skus(self, sku_ids):
        self.calls += 1
        return super().get_skus(sku_ids)

    def list_products(self, limit, cursor):
        self.calls += 1
        return super().list_products(limit, cursor)


class World:
    def __init__(self):
        self.store = MemoryStore()
        self.clock = FakeClock()
        self.users = MemoryUserRepository(self.store)
        self.catalog = CountingCatalog(self.store)
        self.distributors = MemoryDistributorRepository(self.store)
        self.commissions = MemoryCommissionRepository(self.store)
        self.pool = MemoryPoolRepository(self.store)
        self.pools = DistributionPoolService(pool=self.pool, catalog=self.catalog, distributors=self.distributors,
                                             commissions=self.commissions, clock=self.clock)
        self.svc = DistributionService(
            distributors=self.distributors, commissions=self.commissions, orders=None, users=self.users,
            products=self.catalog, shop_settings=MemorySettingsRepository(self.store), clock=self.clock,
            new_tx=self.store.tx, pool=self.pools)
        self._n = 0

    def product(self, prices=(1000,), commission=None, active=True) -> str:
        self._n += 1
        pid = f"p{self._n:04d}"
        sku_ids = tuple(f"{pid}-s{i}" for i in range(len(prices)))
        for sku_id, price in zip(sku_ids, prices, strict=True):
            self.store.items[("sku", sku_id)] = Sku(sku_id=sku_id, product_id=pid, title=f"茶 {pid}", category=None,
                                                    price=price, stock=5, commission=commission, active=active)
        at = f"2026-11-{1 + self._n // 100:02d}T00:00:{self._n % 60:02d}Z"
        self.store.items[("product", pid)] = Product(
            product_id=pid, title=f"茶 {pid}", category=None, sku_ids=sku_ids, commission=commission,
            created_at=at, updated_at=at, active=active, images=(f"https://img/{pid}.jpg",))
        return pid

    def distributor(self, rate_bps=500) -> str:
        user = self.users.upsert_user(f"openid-{self._n}-{len(self.store.items)}", None, "2026-11-01T00:00:00Z").user_id
        template = self.svc.create_template(SimpleNamespace(name="导购", tiers=[SimpleNamespace(
            name="基础", rate_bps=rate_bps, min_sales_count=None, min_sales_amount=None)]))
        self.svc.make_distributor(SimpleNamespace(user_id=user, template_id=template["id"], manager_id=None))
        return user

    def share(self, user, product_id):
        return self.svc.create_share(user, SimpleNamespace(product_id=product_id))

    def listed(self, ids):
        return self.pools.set_pool(SimpleNamespace(all=None, product_ids=ids))


@pytest.fixture
def world():
    return World()


def test_a_shop_that_never_chose_lets_guides_share_every_product(world):
    p = world.product()
    assert world.pools.get_pool() == {"all": True, "product_ids": [], "products": [], "updated_at": None}
    assert world.share(world.distributor(), p)["product_id"] == p


def test_a_listed_pool_refuses_other_products_but_never_the_shop(world):
    inside, outside = world.product(), world.product()
    guide = world.distributor()
    view = world.listed([inside, inside])
    assert view["all"] is False and view["product_ids"] == [inside]
    assert view["products"] == [{"id": inside, "title": f"茶 {inside}", "active": True}]
    world.share(guide, inside)
    world.share(guide, None)
    with pytest.raises(errors.NotInPool):
        world.share(guide, outside)
    world.pools.set_pool(SimpleNamespace(all=True, product_ids=None))
    world.share(guide, outside)


def test_an_unknown_product_is_404_and_the_pool_stays_as_it_was(world):
    p = world.product()
    world.listed([p])
    with pytest.raises(errors.NotFound):
        world.listed([p, "p9999"])
    assert world.pools.get_pool()["product_ids"] == [p]


def test_a_product_that_does_not_exist_is_404_before_the_pool_is_asked(world):
    world.listed([])
    with pytest.raises(errors.NotFound):
        world.share(world.distributor(), "p9999")


def test_a_change_decided_from_a_pool_changed_meanwhile_is_decided_again(world):
    a, b = world.product(), world.product()
    world.listed([a])
    real_get = world.pool.get

    def get_then_someone_else_adds_b(fresh=False):
        found = real_get(fresh)
        if world.pool.reads == 1:  # the first read of the change below: another operator writes now
            world.pools.add_product(b)
        return found

    world.pool.get = get_then_someone_else_adds_b
    world.pool.reads = 0
    assert world.pools.remove_product(a)["product_ids"] == [b]  # b kept: decided again from [a, b]


def test_the_console_adds_and_removes_one_product(world):
    a, b = world.product(), world.product()
    assert world.pools.add_product(b)["product_ids"] == [b]  # from every product: a list of one
    assert world.pools.add_product(a)["product_ids"] == [b, a]
    assert world.pools.add_product(a)["product_ids"] == [b, a]
    assert world.pools.remove_product(b)["product_ids"] == [a]
    world.pools.set_pool(SimpleNamespace(all=True, product_ids=None))
    with pytest.raises(errors.InvalidRequest):
        world.pools.remove_product(a)


def test_only_a_distributor_lists_the_pool(world):
    with pytest.raises(errors.Forbidden):
        world.pools.my_products("u-nobody", 20, None)


def test_my_commission_is_one_unit_at_the_tier_rate_or_the_products_fixed_rate(world):
    tiered = world.product(prices=(3333, 5000))
    fixed = world.product(prices=(6667,), commission={"mode": "fixed", "rate_bps": 1500})
    guide = world.distributor(rate_bps=700)
    world.listed([tiered, fixed])
    items, cursor = world.pools.my_products(guide, 20, None)
    assert cursor is None
    assert [p["id"] for p in items] == [tiered, fixed]
    first, second = items
    assert (first["price_min"], first["price_max"], first["image"]) == (3333, 5000, f"https://img/{tiered}.jpg")
    assert [(s["price"], s["my_commission"], s["my_commission_rate_bps"]) for s in first["skus"]] == [
        (3333, 233, 700), (5000, 350, 700)]
    assert first["my_commission_rate_bps"] == 700 and first["my_commission_max"] == 350
    assert [(s["my_commission"], s["my_commission_rate_bps"]) for s in second["skus"]] == [(1000, 1500)]


def test_the_guides_list_pages_through_the_pool_skipping_products_off_sale(world):
    ids = [world.product() for _ in range(7)]
    off = world.product(active=False)
    world.listed([ids[0], off, *ids[1:]])
    guide = world.distributor()
    seen, cursor = [], None
    while True:
        items, cursor = world.pools.my_products(guide, 3, cursor)
        assert len(items) <= 3
        seen += [p["id"] for p in items]
        if cursor is None:
            break
    assert seen == ids


def test_every_product_pages_newest_first_and_a_cursor_of_the_other_kind_is_refused(world):
    ids = [world.product() for _ in range(5)]
    guide = world.distributor()
    first, cursor = world.pools.my_products(guide, 3, None)
    rest, end = world.pools.my_products(guide, 3, cursor)
    assert [p["id"] for p in first + rest] == ids[::-1] and end is None
    world.listed(ids)
    with pytest.raises(errors.InvalidRequest):
        world.pools.my_products(guide, 3, cursor)


def test_a_page_costs_a_bounded_number_of_catalog_calls(world):
    ids = [world.product(prices=(100, 200, 300)) for _ in range(100)]
    for i in ids[:90]:  # mostly off sale: a page reads on to fill itself, but only so far
        world.store.items[("product", i)] = Product(**{**world.store.items[("product", i)].__dict__, "active": False})
    world.listed(ids)
    guide = world.distributor()
    seen, cursor, pages = [], None, 0
    while True:
        world.catalog.calls = 0
        items, cursor = world.pools.my_products(guide, 20, cursor)
        assert world.catalog.calls <= ROUNDS + 1  # the products' batches, then one of their SKUs
        seen += [p["id"] for p in items]
        pages += 1
        if cursor is None:
            break
    assert seen == ids[90:] and pages == 2  # the first page is empty but says where to go on
