"""FlashSaleService on the in-memory sale repository and the real order service over
the in-memory store (tests/fakes/shop.py), whose transaction takes the order's
reservations through that repository. No Java, no network."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest

from functions.schemas import OrderInput, SaleInput
from layers.clock import iso
from layers.domain import errors
from layers.domain import flash_sales as rules
from layers.domain.catalog import Sku
from layers.services.flash_sales import FlashSaleService
from layers.services.orders import OrderService
from tests.fakes.flash_sales import MemoryFlashSales
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.shop import FakeShop

ADDRESS = {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}


class Ticks:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    service: FlashSaleService
    store: MemoryStore
    sales: MemoryFlashSales
    orders: OrderService
    clock: FakeClock
    ticks: Ticks


@pytest.fixture
def world():
    store, clock, ticks = MemoryStore(), FakeClock(), Ticks()
    sales = MemoryFlashSales(store)
    shop = FakeShop(store, clock, reservation_kinds={"flash": sales})
    for sku in (Sku("s1", "p1", "口红", "彩妆", price=1990, stock=100, commission={"mode": "fixed", "rate_bps": 500}),
                Sku("s_off", "p2", "旧款", None, price=100, stock=1, active=False)):
        store.items[("sku", sku.sku_id)] = sku
    rng = random.Random(3)
    service = FlashSaleService(
        sales=sales, orders=shop.orders, new_tx=store.tx, clock=clock, monotonic=ticks, catalog=shop.stock,
        shard_order=lambda n, skip=None: rules.shard_order(n, rng, skip))
    return World(service, store, sales, shop.orders, clock, ticks)


def close(w: World, order_id: str) -> None:
    w.orders.close_unpaid(order_id, reason="CANCELLED", ask_wechat=False)


def new_sale(w: World, stock=10, shards=4, per_user_limit=1, starts_in=-60, lasts=3600) -> dict:
    now = w.clock.now()
    return w.service.create_sale(SaleInput.model_validate({
        "sku_id": "s1", "price": 990, "stock": stock, "shards": shards, "per_user_limit": per_user_limit,
        "starts_at": iso(now + timedelta(seconds=starts_in)),
        "ends_at": iso(now + timedelta(seconds=starts_in + lasts))}))


def body(quantity=1, **extra) -> OrderInput:
    return OrderInput.model_validate({"quantity": quantity, "address": ADDRESS, **extra})


def attempt(w: World, user_id: str, sale_id: str, key=None, quantity=1) -> str:
    try:
        return w.service.place_order(user_id, sale_id, body(quantity), key)["id"]
    except errors.DomainError as exc:
        return exc.code


def test_a_sale_is_created_from_its_sku_split_over_its_shards(world):
    sale = new_sale(world, stock=10, shards=4)
    assert (sale["sku_id"], sale["product_id"], sale["title"], sale["price"]) == ("s1", "p1", "口红", 990)
    assert sale["remaining"] == 10 and sale["status"] == "ACTIVE" and sale["shards"] == 4
    assert sorted(world.store.scan(("flash_shard", sale["id"]))) == sorted(rules.split_stock(10, 4))
    for sku_id in ("s_missing", "s_off"):
        with pytest.raises(errors.NotFound):
            world.service.create_sale(SaleInput.model_validate({
                "sku_id": sku_id, "price": 1, "stock": 1, "per_user_limit": 1,
                "starts_at": "2026-11-22T12:00:00Z", "ends_at": "2026-11-22T13:00:00Z"}))
    assert [s["id"] for s in world.service.list_sales(10, None)[0]] == [sale["id"]]


def test_a_crowd_never_oversells_and_closed_orders_sell_again(world):
    sale = new_sale(world, stock=10, shards=4)
    results = [(u, attempt(world, u, sale["id"])) for u in (f"u{i}" for i in range(30)) for _ in range(2)]
    won = {u: r for u, r in results if r.startswith("o")}
    assert len(won) == 10 and len(set(won.values())) == 10
    assert {r for _, r in results if not r.startswith("o")} <= {"SOLD_OUT", "LIMIT_EXCEEDED"}
    assert world.sales.remaining(sale["id"]) == 0
    order = world.orders.get(next(iter(won.values())))
    assert order.kind == "flash" and order.amounts["goods"] == 990
    assert order.items[0]["commission"] == {"mode": "fixed", "rate_bps": 500}

    for order_id in list(won.values())[:3]:
        close(world, order_id)
    assert world.sales.remaining(sale["id"]) == 3
    world.ticks.t += 1.1  # the one-second "sold out" flag runs out
    late = [attempt(world, f"late{i}", sale["id"]) for i in range(6)]
    assert len([r for r in late if r.startswith("o")]) == 3 and world.sales.remaining(sale["id"]) == 0


def test_the_sold_out_flag_refuses_without_a_transaction_for_a_second(world):
    sale = new_sale(world, stock=1, shards=1)
    assert attempt(world, "u1", sale["id"]).startswith("o")
    assert attempt(world, "u2", sale["id"]) == "SOLD_OUT"
    commits = world.store.commits
    assert attempt(world, "u3", sale["id"]) == "SOLD_OUT"
    assert world.store.commits == commits and world.store.get(("flash_rate", sale["id"], "u3", _window(world))) is None
    close(world, world.store.scan(("order",))[0].order_id)
    assert attempt(world, "u3", sale["id"]) == "SOLD_OUT"  # still flagged
    world.service.forget_caches()
    assert attempt(world, "u3", sale["id"]).startswith("o")


def test_an_empty_shard_sends_the_attempt_to_the_next(world):
    sale = new_sale(world, stock=2, shards=2, per_user_limit=1)
    first = attempt(world, "u1", sale["id"])
    taken = world.orders.get(first).reservations[0]["shard"]
    close(world, first)
    # Empty the other shard behind the service's back: whichever shard the next attempt
    # tries first, it ends with the unit left in `taken`.
    tx = world.store.tx()
    world.sales.stage_take(tx, {"kind": "flash", "sale_id": sale["id"], "shard": 1 - taken, "quantity": 1,
                                "user_id": "x", "limit": 1})
    tx.commit()
    for user in ("v1", "v2", "v3"):
        order_id = attempt(world, user, sale["id"])
        assert world.orders.get(order_id).reservations[0]["shard"] == taken
        close(world, order_id)


def test_windows_stop_and_missing_sales(world):
    soon = new_sale(world, starts_in=3600)
    assert attempt(world, "u1", soon["id"]) == "NOT_STARTED"
    over = new_sale(world, starts_in=-7200, lasts=3600)
    assert attempt(world, "u1", over["id"]) == "ENDED"
    live = new_sale(world)
    stopped = world.service.stop_sale(live["id"])
    assert stopped["status"] == "STOPPED"
    assert world.service.stop_sale(live["id"])["status"] == "STOPPED"  # twice: the same answer
    assert attempt(world, "u1", live["id"]) == "ENDED"
    with pytest.raises(errors.NotFound):
        world.service.get_sale_view("f_missing")
    with pytest.raises(errors.NotFound):
        world.service.stop_sale("f_missing")


def test_a_stop_that_races_another_write_reads_again(world):
    sale = new_sale(world)
    stored = world.sales.get(sale["id"])
    real_change = world.sales.stage_change

    def racing(tx, before, after, on_stale):
        # Someone stops it between our read and our write: our condition fails, we re-read.
        with world.store.lock:
            world.store.items[("flash_sale", before.sale_id)] = after
        real_change(tx, before, after, on_stale)

    world.sales.stage_change = racing
    assert world.service.stop_sale(sale["id"])["status"] == "STOPPED"
    assert world.sales.get(sale["id"]).status == "STOPPED" != stored.status


def test_limits_quantity_and_admission(world):
    sale = new_sale(world, stock=50, shards=2, per_user_limit=2)
    assert attempt(world, "u1", sale["id"], quantity=3) == "LIMIT_EXCEEDED"
    assert attempt(world, "u1", sale["id"], quantity=2).startswith("o")
    assert attempt(world, "u1", sale["id"]) == "LIMIT_EXCEEDED"
    codes = [attempt(world, "u1", sale["id"]) for _ in range(4)]
    assert codes == ["LIMIT_EXCEEDED", "LIMIT_EXCEEDED", "RATE_LIMITED", "RATE_LIMITED"]
    world.clock.advance(10)  # the next window
    assert attempt(world, "u1", sale["id"]) == "LIMIT_EXCEEDED"


def test_a_retried_request_is_the_same_order(world):
    sale = new_sale(world, stock=5, shards=2)
    first = world.service.place_order("u1", sale["id"], body(), "key-1")
    assert world.service.place_order("u1", sale["id"], body(), "key-1") == first
    with pytest.raises(errors.IdempotencyKeyReused):
        world.service.place_order("u1", sale["id"], body(share_token="x"), "key-1")
    assert world.sales.remaining(sale["id"]) == 4 and world.sales.bought(sale["id"], "u1") == 1


def test_the_view_caches_remaining_for_a_second(world):
    sale = new_sale(world, stock=5, shards=2)
    assert world.service.get_sale_view(sale["id"])["remaining"] == 5
    attempt(world, "u1", sale["id"])
    assert world.service.get_sale_view(sale["id"])["remaining"] == 5
    world.ticks.t += 1.1
    assert world.service.get_sale_view(sale["id"])["remaining"] == 4


def _window(w: World) -> int:
    return int(w.clock.now().timestamp()) // 10
