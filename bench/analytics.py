"""The analytics consumer against DynamoDB Local: events per second through it, capacity
units per event, and how many writes the hottest counter takes per batch.

    python bench/analytics.py [--events 3000] [--batch 100] [--consumers 1 5]

A flash-sale peak: every sale on one Beijing day, 80 % of them of one product, through
three sales guides, 10 % of events refunds. The consumer is `AnalyticsService.consume`
on batches of `--batch` facts, with `--consumers` of them at once (the analytics
queue's event source allows 5). DynamoDB Local has no partitions, so the per-item
ceiling of AWS (about 1,000 writes/s) does not show; what shows is the cost per event
and that the hot day counter takes one write per transaction, whatever the batch size.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CallMeter, start_stack  # noqa: E402


def facts(n: int, year: int) -> list:
    from layers.domain.analytics import REFUND, SALE, Fact, Line

    rng = random.Random(year)
    buyers = [f"u_bench{uuid.uuid4().hex[:12]}" for _ in range(max(1, n // 3))]
    out = []
    for i in range(n):
        at = f"{year}-11-11T{rng.randint(0, 15):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        if rng.random() < 0.1:
            out.append(Fact(f"order.refunded:r{i}-{year}", REFUND, at, rng.choice(buyers), 990, f"o{i}", paid_at=at))
            continue
        product = "p_hot" if rng.random() < 0.8 else f"p{rng.randint(1, 50)}"
        out.append(Fact(f"order.paid:o{i}-{year}", SALE, at, rng.choice(buyers), 9900, f"o{i}-{year}",
                        (Line(product, "秒杀", 1, 9900),), rng.choice(["g1", "g2", "g3", None]), 990))
    return out


def run(n: int, batch: int, consumers: int) -> None:
    from functions import wiring
    from layers.domain.analytics import DAY, Key

    service = wiring.analytics()
    year = random.randint(3000, 9000)
    events = facts(n, year)
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    hot = Key(DAY, f"{year}-11-11")
    writes_to_hot = tx_items = 0
    original_stage, original_mark = service.analytics.stage_increment, service.analytics.stage_counted

    def stage_increment(tx, inc):
        nonlocal writes_to_hot, tx_items
        writes_to_hot += inc.key == hot
        tx_items += 1
        original_stage(tx, inc)

    def stage_counted(tx, event_id, on_counted):
        nonlocal tx_items
        tx_items += 1
        original_mark(tx, event_id, on_counted)

    service.analytics.stage_increment, service.analytics.stage_counted = stage_increment, stage_counted
    meter = CallMeter()
    try:
        with meter, ThreadPoolExecutor(consumers) as pool:
            start = time.perf_counter()
            results = list(pool.map(service.consume, batches))
            elapsed = time.perf_counter() - start
    finally:
        service.analytics.stage_increment, service.analytics.stage_counted = original_stage, original_mark
    data = meter.snapshot()
    counted = sum(r["counted"] for r in results)
    tx = data.get(("count", "dynamodb", "TransactWriteItems"), 0)
    print(f"{n} events, batch {batch}, {consumers} consumer(s) at once:")
    print(f"  {counted / elapsed:8.0f} events/s through the consumer ({elapsed:.1f} s)")
    print(f"  {data.get(('cu', 'dynamodb', '*'), 0) / n:8.2f} capacity units per event as DynamoDB Local reports "
          f"(transactions {data.get(('cu', 'dynamodb', 'TransactWriteItems'), 0) / n:.2f}, "
          f"buyer slots {data.get(('cu', 'dynamodb', 'UpdateItem'), 0) / n:.2f})")
    # AWS's rules (items under 1 KB): a transactional write is 2 WCU, a plain write 1 (a
    # failed condition too). DynamoDB Local under-reports transactions, so both are shown.
    slots = data.get(("count", "dynamodb", "UpdateItem"), 0)
    print(f"  {(2 * tx_items + slots) / n:8.2f} WCU per event by AWS's rules "
          f"({2 * tx_items / n:.2f} in transactions: marker + share of counters; {slots / n:.2f} buyer slots)")
    print(f"  {data.get(('count', 'dynamodb', '*'), 0) / n:8.2f} DynamoDB calls per event, "
          f"{tx / len(batches):.1f} transactions per batch")
    print(f"  hot day counter: {writes_to_hot} writes for {n} events "
          f"({n / max(1, writes_to_hot):.0f} events per write); at most {consumers} at a time")
    tx_time = data.get(("time", "dynamodb", "TransactWriteItems"), 0) / max(1, tx)
    print(f"  one transaction took {tx_time * 1000:.1f} ms here: the hot counter's ceiling is "
          f"{consumers} / that = {consumers / max(tx_time, 1e-9):.0f} writes/s")
    days = service.analytics.days([hot.period])[hot.period]
    assert days["orders"] + days.get("refund_count", 0) == n, days


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--consumers", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args()
    stack = start_stack(with_sqs=False, with_sandbox=False)
    try:
        for consumers in args.consumers:
            run(args.events, args.batch, consumers)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
