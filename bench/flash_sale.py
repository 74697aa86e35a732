"""A flash sale against DynamoDB Local: attempts/s, p50/p99 latency, and capacity units
per winning and per losing attempt, with K = 1 and K = 8 shards, in the same run.

    python bench/flash_sale.py [--shoppers 600] [--stock 200] [--threads 24]

The attempt is the real one (window, flag, admission, the order's transaction); the
WeChat Pay prepay that follows a win is replaced by a no-op here, since it measures
WeChat, not the sale. DynamoDB Local has no partitions: it shows each attempt's cost
and one item's contention, not AWS's per-item ceiling (see docs/flash-sales.md).
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--shoppers", type=int, default=600)
    parser.add_argument("--stock", type=int, default=200)
    parser.add_argument("--threads", type=int, default=24)
    args = parser.parse_args()
    # The sandbox only supplies WeChat Pay's settings, which building the order service needs;
    # the prepay itself is a no-op below, so the bench measures the sale, not WeChat.
    stack = start_stack(with_sqs=True, with_sandbox=True)
    try:
        from functions import wiring

        orders = wiring.orders()
        orders._with_prepay = orders.view  # no WeChat in this bench
        for shards in (1, 8):
            run(args.shoppers, args.stock, args.threads, shards)
    finally:
        stack.stop()


def run(n: int, stock: int, threads: int, shards: int) -> None:
    import threading

    from functions import schemas, wiring
    from layers import clock
    from layers.domain import errors
    from layers.storage.users import upsert_user

    flash_sales = wiring.flash_sales()
    product = wiring.catalog().create_product(schemas.ProductInput.model_validate(
        {"title": "口红礼盒", "skus": [{"price": 19900, "stock": 1}]}))
    now = clock.now()
    sale = flash_sales.create_sale(schemas.SaleInput.model_validate({
        "sku_id": product["skus"][0]["id"], "price": 990, "stock": stock, "shards": shards,
        "starts_at": clock.iso(now - timedelta(seconds=5)), "ends_at": clock.iso(now + timedelta(hours=1)),
        "per_user_limit": 1}))
    users = [upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id for _ in range(n)]
    body = schemas.OrderInput.model_validate({"quantity": 1, "address": {
        "name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}})
    meter = CallMeter()
    results = []
    lock = threading.Lock()

    def attempt(user_id):
        # Capacity is counted per thread through the meter's totals, so attempts are
        # measured one by one under a per-attempt snapshot.
        start = time.perf_counter()
        try:
            flash_sales.place_order(user_id, sale["id"], body, None)
            won = True
        except (errors.SoldOut, errors.LimitExceeded, errors.RateLimited):
            won = False
        with lock:
            results.append((won, time.perf_counter() - start))

    with meter:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(attempt, users))
        elapsed = time.perf_counter() - start
    total_cu = meter.snapshot().get(("cu", "dynamodb", "*"), 0.0)
    wins = [t for w, t in results if w]
    losses = [t for w, t in results if not w]

    # Capacity per winning and per losing attempt: measured apart, one attempt at a time.
    win_cu = _one_attempt_cu(meter, flash_sales, sale["id"], body, expect_win=True, stock=stock)
    cold_loss_cu = _one_attempt_cu(meter, flash_sales, sale["id"], body, expect_win=False, stock=stock)
    warm_loss_cu = _one_attempt_cu(meter, flash_sales, sale["id"], body, expect_win=False, stock=stock)
    pct = lambda xs, q: sorted(xs)[int(q * (len(xs) - 1))] * 1000 if xs else 0.0  # noqa: E731
    print(f"K={shards}: {n} attempts on {stock} units in {elapsed:.2f} s = {n / elapsed:.0f} attempts/s "
          f"({threads} threads); won {len(wins)}, lost {len(losses)}")
    print(f"  latency: wins p50 {pct(wins, 0.5):.1f} ms p99 {pct(wins, 0.99):.1f} ms; "
          f"losses p50 {pct(losses, 0.5):.1f} ms p99 {pct(losses, 0.99):.1f} ms")
    print(f"  capacity units: {total_cu / n:.1f} per attempt overall; {win_cu:.1f} per winning attempt; "
          f"per losing attempt {warm_loss_cu:.1f} with the sold-out flag set, "
          f"{cold_loss_cu:.1f} for the first loss in a container (it tries all {shards} shards)")
    assert len(wins) == stock


def _one_attempt_cu(meter, flash_sales, sale_id, body, expect_win: bool, stock: int) -> float:
    from functions import wiring
    from layers import clock
    from layers.domain import errors
    from layers.storage.tx import Tx
    from layers.storage.users import upsert_user

    if expect_win:
        # One unit back on shard 0, as an order closing would give it (a purchase of nobody's).
        tx = Tx()
        wiring.flash_sale_repository().stage_release(tx, {"kind": "flash", "sale_id": sale_id, "shard": 0,
                                                          "quantity": 1, "user_id": "bench", "limit": 1})
        tx.commit()
        flash_sales.forget_caches()
    user = upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id
    with meter:
        meter.reset()
        try:
            flash_sales.place_order(user, sale_id, body, None)
        except errors.SoldOut:
            pass
        return meter.snapshot().get(("cu", "dynamodb", "*"), 0.0)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
