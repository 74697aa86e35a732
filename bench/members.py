"""Paying orders from the stored-value balance against DynamoDB Local: DynamoDB
calls per balance order (the one batch read and the placement transaction that also pays
it: no prepay, no expiry message), capacity units and median latency; then 50 concurrent
6000-fen orders on a 10000-fen balance, as the done-when test, timed.

    python bench/members.py [--orders 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import CallMeter, start_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    stack = start_stack()
    try:
        run(args.orders)
    finally:
        stack.stop()


def credit(user_id: str, principal: int, bonus: int = 0) -> None:
    from functions import wiring
    from layers.domain.members import BALANCE, Movement
    from layers.storage.tx import Tx

    tx = Tx()
    wiring.member_repository().stage_move(tx, Movement(user_id, BALANCE, f"bench#{uuid.uuid4().hex}", "grant",
                                                       "2026-11-29T00:00:00Z", principal=principal, bonus=bonus),
                                          None, None)
    tx.commit()


def run(n: int) -> None:
    from functions import schemas, wiring
    from layers import clock
    from layers.domain.errors import DomainError
    from layers.storage.tx import TransactionConflicted
    from layers.storage.users import upsert_user

    orders = wiring.orders()
    product = wiring.catalog().create_product(schemas.ProductInput.model_validate(
        {"title": "bench", "skus": [{"price": 6000, "stock": n + 100}]}))
    sku_id = product["skus"][0]["id"]
    body = schemas.PlaceOrderInput.model_validate({
        "items": [{"sku_id": sku_id, "quantity": 1}], "pay_with": "balance",
        "address": {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}})
    users = [upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id for _ in range(n)]
    for u in users:
        credit(u, 9000, 1000)

    meter = CallMeter()
    totals, per_order = [], []
    with meter:
        for user_id in users:
            meter.reset()
            start = time.perf_counter()
            assert orders.place_order(user_id, body, None)["status"] == "PAID"
            totals.append(time.perf_counter() - start)
            per_order.append(meter.snapshot())
    calls = defaultdict(list)
    for snap in per_order:
        for key, value in snap.items():
            calls[key].append(value)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    round_trips = statistics.median(calls[("count", "dynamodb", "*")])
    print(f"balance orders placed and paid: {n}")
    print("DynamoDB calls per order: " + ", ".join(
        f"{op}={statistics.median(calls[('count', 'dynamodb', op)]):g}"
        for op in sorted({k[2] for k in calls if k[0] == "count" and k[1] == "dynamodb"})))
    print(f"capacity units per order: {statistics.median(calls[('cu', 'dynamodb', '*')]):.1f}")
    print(f"median latency: {ms(totals):.2f} ms (p99 {sorted(totals)[int(0.99 * (n - 1))] * 1000:.2f} ms)")
    print(f"goal: at most 3 DynamoDB round trips: {round_trips:g} ({'met' if round_trips <= 3 else 'NOT MET'})")

    # 50 concurrent 6000-fen orders on one 10000-fen balance
    user = upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id
    credit(user, 10000)

    def attempt(_):
        while True:
            try:
                return orders.place_order(user, body, None)["status"]
            except TransactionConflicted:
                continue
            except DomainError as exc:
                return exc.code

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    took = time.perf_counter() - start
    left = wiring.member_repository().get_book(user, "balance")
    entries = wiring.member_repository().entries_for(user, "balance", "")
    print(f"\n50 concurrent 6000-fen balance orders on 10000 fen: {results.count('PAID')} paid, "
          f"{results.count('INSUFFICIENT_BALANCE')} refused, {results.count('RATE_LIMITED')} busy, "
          f"{left.principal} fen left, ledger {sum(e.principal for e in entries)}, in {took:.2f} s")


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
