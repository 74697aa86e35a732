"""One contract for the flash-sale repository and "flash" reservation handler: the
in-memory twin (tests/fakes/flash_sales.py) and DynamoDB's (layers/storage/flash_sales.py)
answer alike, conditions included."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from layers.domain import errors
from layers.domain import flash_sale as domain
from layers.domain.flash_sale import FlashSale, ShardEmpty


@dataclass
class Env:
    sales: object  # a FlashSaleRepository
    new_tx: object
    bought: Callable[[str, str], int]  # what the table holds of a shopper's purchases in a sale


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.flash_sales import MemoryFlashSales
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        sales = MemoryFlashSales(store)
        return Env(sales, store.tx, sales.bought)
    request.getfixturevalue("dynamodb")
    from layers.storage.flash_sales import DynamoFlashSales, FlashUserItem, user_key
    from layers.storage.tx import Tx

    def bought(sale_id: str, user_id: str) -> int:
        try:
            return int(FlashUserItem.get(*user_key(sale_id, user_id), consistent_read=True).bought)
        except FlashUserItem.DoesNotExist:
            return 0

    return Env(DynamoFlashSales(), Tx, bought)


class Exists(Exception):
    pass


class Stale(Exception):
    pass


def _sale(**kw) -> FlashSale:
    values = {"sale_id": domain.new_sale_id(), "sku_id": "s1", "product_id": "p1", "title": "口红",
              "category": None, "price": 990, "stock": 6, "starts_at": "2026-11-22T12:00:00Z",
              "ends_at": "2026-11-22T13:00:00Z", "per_user_limit": 2, "shards": 3,
              "created_at": "2026-11-20T00:00:00Z"}
    values.update(kw)
    return FlashSale(**values)


def _create(env: Env, sale: FlashSale, units: list[int]) -> None:
    tx = env.new_tx()
    env.sales.stage_create(tx, sale, units, on_exists=Exists)
    tx.commit()


def _r(sale: FlashSale, shard: int, quantity: int = 1, user_id: str = "u1") -> dict:
    return domain.reservation(sale, shard, quantity, user_id)


def _take(env: Env, *reservations: dict) -> None:
    tx = env.new_tx()
    for r in reservations:
        env.sales.stage_take(tx, r)
    tx.commit()


def _release(env: Env, *reservations: dict) -> None:
    tx = env.new_tx()
    for r in reservations:
        env.sales.stage_release(tx, r)
    tx.commit()


class TestFlashSaleRepository:
    def test_a_sale_reads_back_as_written_and_is_listed(self, env):
        sale = _sale(category="彩妆", starts_at="2031-01-01T00:00:00Z")
        later = _sale(starts_at="2031-01-02T00:00:00Z")
        _create(env, sale, [2, 2, 2])
        _create(env, later, [6])
        assert env.sales.get(sale.sale_id) == sale
        assert env.sales.get("f_missing") is None
        assert env.sales.remaining(sale.sale_id) == 6
        with pytest.raises(Exists):
            _create(env, sale, [6])
        ids, cursor = [], None
        while True:
            page, cursor = env.sales.list_sales(50, cursor)
            ids += [s.sale_id for s in page]
            if cursor is None:
                break
        assert ids.index(later.sale_id) < ids.index(sale.sale_id)  # latest start first

    def test_stop_is_conditioned_on_the_status_read(self, env):
        sale = _sale()
        _create(env, sale, [6])
        stopped = domain.stop(sale)
        tx = env.new_tx()
        env.sales.stage_change(tx, sale, stopped, on_stale=Stale)
        tx.commit()
        assert env.sales.get(sale.sale_id) == stopped
        with pytest.raises(Stale):
            tx = env.new_tx()
            env.sales.stage_change(tx, sale, stopped, on_stale=Stale)
            tx.commit()

    def test_take_needs_units_in_the_shard_and_room_under_the_limit(self, env):
        sale = _sale(per_user_limit=2)
        _create(env, sale, [2, 1, 0])
        _take(env, _r(sale, 0, 2, "u1"))
        assert env.sales.remaining(sale.sale_id) == 1 and env.bought(sale.sale_id, "u1") == 2
        with pytest.raises(ShardEmpty):
            _take(env, _r(sale, 2, 1, "u2"))
        with pytest.raises(ShardEmpty):
            _take(env, _r(sale, 1, 2, "u2"))
        with pytest.raises(ShardEmpty):
            _take(env, _r(sale, 9, 1, "u2"))  # no such shard
        # Over the limit and an empty shard at once: the limit is the answer.
        with pytest.raises(errors.LimitExceeded):
            _take(env, _r(sale, 2, 1, "u1"))
        assert env.sales.remaining(sale.sale_id) == 1 and env.bought(sale.sale_id, "u2") == 0
        _take(env, _r(sale, 1, 1, "u2"))
        assert env.sales.remaining(sale.sale_id) == 0

    def test_release_gives_units_and_room_back(self, env):
        sale = _sale(per_user_limit=1)
        _create(env, sale, [1, 1])
        r = _r(sale, 1, 1, "u1")
        _take(env, r)
        with pytest.raises(errors.LimitExceeded):
            _take(env, _r(sale, 0, 1, "u1"))
        _release(env, r)
        assert env.sales.remaining(sale.sale_id) == 2 and env.bought(sale.sale_id, "u1") == 0
        _take(env, _r(sale, 0, 1, "u1"))
        assert env.sales.remaining(sale.sale_id) == 1

    def test_a_failed_take_writes_nothing(self, env):
        sale = _sale(per_user_limit=5)
        _create(env, sale, [1, 0])
        with pytest.raises(ShardEmpty):
            _take(env, _r(sale, 0, 1, "u1"), _r(sale, 1, 1, "u2"))
        assert env.sales.remaining(sale.sale_id) == 1
        assert env.bought(sale.sale_id, "u1") == 0 and env.bought(sale.sale_id, "u2") == 0

    def test_admission_counts_up_to_the_limit_per_window(self, env):
        sale_id, user = domain.new_sale_id(), "u_" + uuid.uuid4().hex[:8]
        assert [env.sales.admit(sale_id, user, 7, 10_000, 3) for _ in range(5)] == [True, True, True, False, False]
        assert env.sales.admit(sale_id, user, 8, 10_000, 3)
        assert env.sales.admit(sale_id, "other", 7, 10_000, 3)
