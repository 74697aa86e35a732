"""Flash sales against DynamoDB Local: a crowd on a few units, never oversold."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import ADDRESS, body, create_product, login, post

pytestmark = pytest.mark.integration


def new_user() -> str:
    from layers import clock
    from layers.storage.users import upsert_user

    return upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id


def new_sale(client, admin_headers, stock=50, shards=8, per_user_limit=1, starts_in=-60, lasts=3600):
    from layers import clock

    product = create_product(client, admin_headers, price=19900, stock=5)
    now = clock.now()
    r = post(client, "/admin/flash-sales", {
        "sku_id": product["skus"][0]["id"], "price": 990, "stock": stock, "shards": shards,
        "starts_at": clock.iso(now + timedelta(seconds=starts_in)),
        "ends_at": clock.iso(now + timedelta(seconds=starts_in + lasts)), "per_user_limit": per_user_limit},
        admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def attempt(user_id, sale_id, key=None):
    from functions import schemas, wiring
    from layers.domain import errors
    from layers.storage.tx import TransactionConflicted

    for _ in range(5):
        try:
            return wiring.flash_sales().place_order(user_id, sale_id, schemas.OrderInput.model_validate(
                {"quantity": 1, "address": ADDRESS}), key)["id"]
        except TransactionConflicted:
            continue  # "busy": the same attempt again
        except errors.DomainError as exc:
            return exc.code
    return "BUSY"


def sold(sale_id) -> int:
    from functions import wiring

    sales = wiring.flash_sale_repository()
    return sales.get(sale_id).stock - sales.remaining(sale_id)


def test_a_crowd_never_oversells_and_closed_orders_sell_again(client, admin_headers):
    from functions import wiring

    sale = new_sale(client, admin_headers, stock=50, shards=8, per_user_limit=1)
    users = [new_user() for _ in range(200)]
    tries = [u for u in users for _ in range(3)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda u: (u, attempt(u, sale["id"])), tries))
    winners = {u: r for u, r in results if r.startswith("o")}
    assert len(winners) == 50  # exactly 50 orders, one per winner
    assert len({r for _, r in results if r.startswith("o")}) == 50
    refusals = {r for _, r in results if not r.startswith("o")}
    assert refusals <= {"SOLD_OUT", "LIMIT_EXCEEDED"}, refusals  # and never a 5xx
    assert sold(sale["id"]) == 50
    for order_id in winners.values():
        order = wiring.orders().get(order_id, consistent=True)
        assert order.kind == "flash" and order.items[0]["unit_price"] == 990

    # Ten winners never pay: their orders close, their units go back and sell again.
    for order_id in list(winners.values())[:10]:
        assert wiring.orders().close_unpaid(order_id, reason="EXPIRED").status == "CLOSED"
    assert sold(sale["id"]) == 40
    time.sleep(1.1)  # the containers' one-second "sold out" flag runs out
    wiring.flash_sales().forget_caches()
    late = [new_user() for _ in range(40)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        second = list(pool.map(lambda u: attempt(u, sale["id"]), late))
    assert len([r for r in second if r.startswith("o")]) == 10
    assert sold(sale["id"]) == 50


def test_window_limit_rate_and_idempotency_over_http(client, admin_headers):
    from functions import wiring

    soon = new_sale(client, admin_headers, stock=5, shards=2, starts_in=3600)
    shopper = login(client)
    r = post(client, f"/flash-sales/{soon['id']}/orders", {"quantity": 1, "address": ADDRESS}, shopper)
    assert r.status_code == 422 and body(r)["error"]["code"] == "NOT_STARTED"

    sale = new_sale(client, admin_headers, stock=5, shards=2, per_user_limit=1)
    key = {"Idempotency-Key": f"f-{uuid.uuid4().hex}"}
    first = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS}, {**shopper, **key})
    again = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS}, {**shopper, **key})
    assert first.status_code == again.status_code == 201, first.body
    assert body(first)["id"] == body(again)["id"] and body(first)["amounts"]["goods"] == 990
    assert body(first)["payment"]["signType"] == "RSA"
    more = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS}, shopper)
    assert more.status_code == 409 and body(more)["error"]["code"] == "LIMIT_EXCEEDED"
    view = body(client.http.get(f"/flash-sales/{sale['id']}"))
    assert set(view) >= {"id", "sku_id", "price", "starts_at", "ends_at", "per_user_limit", "remaining"}
    wiring.flash_sales().forget_caches()
    assert body(client.http.get(f"/flash-sales/{sale['id']}"))["remaining"] == 4

    script = login(client)
    codes = [post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 2, "address": ADDRESS}, script).status_code
             for _ in range(8)]
    assert 429 in codes and all(c in (409, 429) for c in codes)

    assert post(client, f"/admin/flash-sales/{sale['id']}/stop", {}, admin_headers).status_code == 200
    ended = post(client, f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": ADDRESS}, login(client))
    assert ended.status_code == 422 and body(ended)["error"]["code"] == "ENDED"
    assert client.http.get("/flash-sales/nope").status_code == 404


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=25))
def test_random_takes_and_releases_on_the_table_keep_the_count(shop, steps):
    """Random interleavings of take and release through the real conditional writes (the
    repository's own reservation handler, as the order service calls it)."""
    from functions import wiring
    from layers.domain import flash_sale as domain
    from layers.domain.errors import LimitExceeded
    from layers.storage.tx import Tx

    sales = wiring.flash_sale_repository()
    stock = 6
    sale = domain.FlashSale(sale_id=domain.new_sale_id(), sku_id="s", product_id="p", title="t", category=None,
                            price=1, stock=stock, starts_at="", ends_at="", per_user_limit=100, shards=4,
                            created_at="")
    tx = Tx()
    sales.stage_create(tx, sale, [2, 2, 1, 1], on_exists=None)
    tx.commit()
    held = []
    for take, shard in steps:
        r = domain.reservation(sale, shard, 1, "u")
        if take or not held:
            try:
                t = Tx()
                sales.stage_take(t, r)
                t.commit()
                held.append(r)
            except (domain.ShardEmpty, LimitExceeded):
                pass
        else:
            t = Tx()
            sales.stage_release(t, held.pop())
            t.commit()
        assert len(held) + sales.remaining(sale.sale_id) == stock
