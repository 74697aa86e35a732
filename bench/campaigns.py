"""Bargain helps against DynamoDB Local: helps per second, latency, DynamoDB calls and
capacity units per help, when a crowd of friends taps one instance at the same instant
(every help but one loses the race on the instance and takes the next cut), and when
the helps are spread over many instances (no contention).

    python bench/campaigns.py [--helpers 50] [--instances 200] [--threads 16]

Whatever the interleaving, the sums are checked: helps = helpers_needed, the help items'
cuts = the instance's cut_total = start_price - floor_price.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CallMeter, start_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--helpers", type=int, default=50)
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    stack = start_stack(with_sqs=True, with_sandbox=True)  # the order service (built with bargains) needs WeChat Pay settings
    try:
        one_instance(args.helpers, args.threads)
        many_instances(args.instances, args.threads)
    finally:
        stack.stop()


def new_bargain(helpers_needed: int, stock: int) -> dict:
    from functions import schemas, wiring
    from layers import clock

    product = wiring.catalog().create_product(schemas.ProductInput.model_validate(
        {"title": "生日蛋糕", "skus": [{"price": 19_900, "stock": 1}]}))
    now = clock.now()
    return wiring.bargains().create_bargain(schemas.BargainInput.model_validate({
        "sku_id": product["skus"][0]["id"], "floor_price": 9_900, "helpers_needed": helpers_needed,
        "ttl_s": 3600, "starts_at": clock.iso(now - timedelta(minutes=1)),
        "ends_at": clock.iso(now + timedelta(hours=1)), "stock": stock, "per_user_limit": 1}))


def help_once(helper: str, instance_id: str, latencies: list) -> str:
    from functions import wiring
    from layers.domain import errors

    start = time.perf_counter()
    for _ in range(20):
        try:
            wiring.bargains().help(helper, instance_id)
            latencies.append(time.perf_counter() - start)
            return "ok"
        except errors.RateLimited:
            continue  # "busy": the client taps again
        except errors.DomainError as exc:
            return exc.code
    return "BUSY"


def report(label: str, n_ok: int, elapsed: float, latencies: list, meter: CallMeter) -> None:
    data = meter.snapshot()
    calls = data.get(("count", "dynamodb", "*"), 0)
    txs = data.get(("count", "dynamodb", "TransactWriteItems"), 0)
    cu = data.get(("cu", "dynamodb", "*"), 0.0)
    lat = sorted(latencies)
    print(f"{label}: {n_ok} helps in {elapsed:.2f} s = {n_ok / elapsed:.0f} helps/s; "
          f"p50 {statistics.median(lat) * 1000:.1f} ms, p99 {lat[int(0.99 * (len(lat) - 1))] * 1000:.1f} ms; "
          f"per help: {calls / n_ok:.1f} DynamoDB calls, {txs / n_ok:.2f} transactions, {cu / n_ok:.1f} capacity units")


def one_instance(helpers: int, threads: int) -> None:
    from functions import wiring

    bargain = new_bargain(helpers, 1)
    instance = wiring.bargains().start("u_owner" + uuid.uuid4().hex[:8], bargain["id"])
    crowd = [f"u_bench{uuid.uuid4().hex[:16]}" for _ in range(helpers)]
    latencies: list = []
    meter = CallMeter()
    with meter:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(lambda h: help_once(h, instance["id"], latencies), crowd))
        elapsed = time.perf_counter() - start
    stored = wiring.bargain_instance_repository().get(instance["id"])
    helps = wiring.help_repository().for_instance(instance["id"])
    assert results.count("ok") == helpers == stored.helps == len(helps), results
    assert sum(h.cut for h in helps) == stored.cut_total == 10_000 and stored.status == "SUCCEEDED"
    report(f"one instance, M={helpers}, {threads} threads", helpers, elapsed, latencies, meter)


def many_instances(n: int, threads: int) -> None:
    from functions import wiring

    bargain = new_bargain(2, 1)
    ids = [wiring.bargains().start(f"u_owner{uuid.uuid4().hex[:12]}", bargain["id"])["id"] for _ in range(n)]
    latencies: list = []
    meter = CallMeter()
    with meter:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(lambda i: help_once(f"u_bench{uuid.uuid4().hex[:16]}", i, latencies), ids))
        elapsed = time.perf_counter() - start
    assert results.count("ok") == n, results
    report(f"{n} instances, one help each, {threads} threads", n, elapsed, latencies, meter)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
