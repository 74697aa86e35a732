"""The shoppers of bench/load.py (locust). Which crowd comes is BENCH_SCENARIO:

- `flash`: every shopper logs in, waits until all have, then all try the flash sale
  BENCH_SALE_ID at once, once each (201 won; 409 SOLD_OUT / LIMIT_EXCEEDED lost).
- `shop`: shoppers browse (list, product), put something in the cart, look at their
  orders, and place orders of BENCH_SKU_ID, paying half of them through the WeChat
  sandbox (BENCH_SANDBOX) and cancelling the others.

A 5xx, or a connection that fails (reset, refused, timed out) is a failure; the expected
4xx answers are successes. What each shopper saw is written to BENCH_OUT at the end.
"""

from __future__ import annotations

import json
import os
import random
import uuid

import gevent
from gevent.event import Event
from locust import HttpUser, between, constant, events, task
from locust.exception import StopUser

SCENARIO = os.environ.get("BENCH_SCENARIO", "shop")
USERS = int(os.environ.get("BENCH_USERS", "200"))
ADDRESS = {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}
outcomes: dict[str, int] = {}
_ready = Event()
_arrived = [0]   # shoppers whose login is over (in or refused)
_finished = [0]  # shoppers done (their attempt answered, or their login refused)


def _arrive(finished: bool, environment) -> None:
    _arrived[0] += 1
    if _arrived[0] >= USERS:
        _ready.set()
    if finished:
        _finish(environment)


def _finish(environment) -> None:
    _finished[0] += 1
    if SCENARIO == "flash" and _finished[0] >= USERS:
        gevent.spawn_later(0.5, environment.runner.quit)


def count(name: str) -> None:
    outcomes[name] = outcomes.get(name, 0) + 1


def checked(response, expected: tuple[int, ...], name: str) -> int:
    """Mark the answer: expected codes succeed, anything else (5xx, status 0) fails."""
    status = response.status_code
    if status in expected:
        response.success()
    else:
        response.failure(f"{status}: {(response.text or '')[:120]}")
    if status == 0:
        count("connection_errors")
    elif status >= 500:
        count("server_errors")
    count(f"{name} {status}")
    return status


class Shopper(HttpUser):
    abstract = True

    def on_start(self) -> None:
        with self.client.post("/auth/login", json={"code": f"bench-{uuid.uuid4().hex}"},
                              catch_response=True, name="/auth/login") as r:
            ok = checked(r, (200,), "login") == 200
            if ok:
                self.headers = {"Authorization": f"Bearer {r.json()['token']}"}
        _arrive(finished=not ok, environment=self.environment)
        if not ok:
            raise StopUser()


class FlashShopper(Shopper):
    wait_time = constant(0)
    abstract = SCENARIO != "flash"

    @task
    def attempt(self) -> None:
        _ready.wait(timeout=120)  # all at once, as a sale's start brings them
        sale = os.environ["BENCH_SALE_ID"]
        with self.client.post(f"/flash-sales/{sale}/orders", json={"quantity": 1, "address": ADDRESS},
                              headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
                              catch_response=True, name="/flash-sales/{id}/orders") as r:
            status = checked(r, (201, 409, 429), "flash")
            if status == 201:
                count("won")
            elif status in (409, 429):
                count("lost")
        _finish(self.environment)
        raise StopUser()


class BrowsingShopper(Shopper):
    wait_time = between(0.2, 1.0)
    abstract = SCENARIO != "shop"

    @task(6)
    def browse(self) -> None:
        with self.client.get("/products?limit=20", catch_response=True, name="/products") as r:
            if checked(r, (200,), "list") == 200:
                self.products = [p["id"] for p in r.json()["items"]]

    @task(4)
    def product(self) -> None:
        product_id = random.choice(getattr(self, "products", None) or [os.environ["BENCH_PRODUCT_ID"]])
        with self.client.get(f"/products/{product_id}", catch_response=True, name="/products/{id}") as r:
            checked(r, (200,), "product")

    @task(1)
    def cart(self) -> None:
        with self.client.put(f"/cart/items/{os.environ['BENCH_SKU_ID']}", json={"quantity": 1},
                             headers=self.headers, catch_response=True, name="/cart/items/{sku_id}") as r:
            checked(r, (200,), "cart")

    @task(2)
    def my_orders(self) -> None:
        with self.client.get("/orders", headers=self.headers, catch_response=True, name="/orders") as r:
            checked(r, (200,), "my orders")

    @task(2)
    def order(self) -> None:
        body = {"items": [{"sku_id": os.environ["BENCH_SKU_ID"], "quantity": 1}], "address": ADDRESS}
        with self.client.post("/orders", json=body, headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
                              catch_response=True, name="/orders") as r:
            status = checked(r, (201, 409), "order")
        if status != 201:
            return
        count("placed")
        order_id = r.json()["id"]
        if random.random() < 0.5:
            with self.client.post(f"{os.environ['BENCH_SANDBOX']}/sandbox/pay/{order_id}", catch_response=True,
                                  name="/sandbox/pay/{order_id} (WeChat sandbox)") as p:
                if checked(p, (200, 201, 204), "pay") < 300:
                    count("paid")
        else:
            with self.client.post(f"/orders/{order_id}/cancel", headers=self.headers, catch_response=True,
                                  name="/orders/{id}/cancel") as c:
                if checked(c, (200, 409), "cancel") == 200:
                    count("cancelled")


@events.quitting.add_listener
def _write(environment, **_kwargs) -> None:
    stats = environment.stats
    rows = {}
    for (name, method), entry in sorted(stats.entries.items()):
        rows[f"{method} {name}"] = {
            "requests": entry.num_requests, "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5), "p99_ms": entry.get_response_time_percentile(0.99)}
    total = stats.total
    summary = {"requests": total.num_requests, "failures": total.num_failures,
               "rps": total.total_rps, "p50_ms": total.get_response_time_percentile(0.5),
               "p99_ms": total.get_response_time_percentile(0.99),
               "seconds": (total.last_request_timestamp or 0) - (total.start_time or 0)}
    with open(os.environ.get("BENCH_OUT", "bench-load.json"), "w") as out:
        json.dump({"summary": summary, "routes": rows, "outcomes": outcomes}, out)
