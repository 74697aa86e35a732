"""Coupon claims against DynamoDB Local: claims per second and capacity units per claim,
with the template's counter on 1 shard and on 8.

    python bench/coupons.py [--claims 2000] [--threads 16]

DynamoDB Local has no partitions, so it cannot show the hot-item ceiling the shards
exist for (about 1,000 writes/s per item on AWS); what it shows is the cost of a claim,
which the shards do not change, and that the count stays exact under concurrency.
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
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    stack = start_stack(with_sqs=False, with_sandbox=False)
    try:
        for shards in (1, 8):
            run(args.claims, args.threads, shards)
    finally:
        stack.stop()


def run(n: int, threads: int, shards: int) -> None:
    from functions import schemas, wiring
    from layers import clock

    coupons = wiring.coupons()
    issued_total = wiring.coupon_template_repository().issued_total
    now = clock.now()
    template = coupons.create_template(schemas.CouponTemplateInput.model_validate({
        "name": "直播券", "kind": "fixed", "value": 1000, "threshold": 0,
        "claim_starts_at": clock.iso(now - timedelta(minutes=1)), "claim_ends_at": clock.iso(now + timedelta(hours=1)),
        "valid_days": 7, "total": n, "per_user_limit": 1, "shards": shards}))
    users = [f"u_bench{uuid.uuid4().hex[:16]}" for _ in range(n)]
    latencies = []
    meter = CallMeter()

    def one(user):
        start = time.perf_counter()
        coupons.claim(user, template["id"], None)
        latencies.append(time.perf_counter() - start)

    with meter:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, users))
        elapsed = time.perf_counter() - start
    data = meter.snapshot()
    tx_cu = data.get(("cu", "dynamodb", "TransactWriteItems"), 0.0)
    all_cu = data.get(("cu", "dynamodb", "*"), 0.0)
    txs = data.get(("count", "dynamodb", "TransactWriteItems"), 0)
    assert issued_total(template["id"]) == n
    lat = sorted(latencies)
    print(f"shards={shards}: {n} claims in {elapsed:.1f} s = {n / elapsed:.0f} claims/s "
          f"({threads} threads); p50 {statistics.median(lat) * 1000:.1f} ms, p99 {lat[int(0.99 * (n - 1))] * 1000:.1f} ms; "
          f"capacity units per claim {all_cu / n:.1f} (transaction {tx_cu / n:.1f}); "
          f"transactions per claim {txs / n:.2f}; issued exactly {n}")


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
