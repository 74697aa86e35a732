"""Settling 100,000 commissions locally: DynamoDB Local for the table, the WeChat sandbox
for the transfers (each request signed and checked), auto mode.

    python bench/settlement.py [--commissions 100000] [--distributors 1000]

The commissions are written straight into the table as SETTLEABLE (making them through
100,000 orders would measure the order path, not settlement). The run is inline (one
process, distributor after distributor); on AWS the same work fans out through the
settlement queue. Transfers are paced to 50/s per consumer, as in production.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import start_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commissions", type=int, default=100_000)
    parser.add_argument("--distributors", type=int, default=1_000)
    args = parser.parse_args()
    stack = start_stack()
    try:
        run(args.commissions, args.distributors)
    finally:
        stack.stop()


class Progress:
    """Issue 16: a line every few seconds while the run settles (it used to be silent for
    minutes): elapsed time, DynamoDB writes and WeChat transfer calls so far. It counts
    calls by wrapping botocore and requests; the settlement code is untouched."""

    EVERY_S = 5.0

    def __init__(self, commissions: int, distributors: int) -> None:
        self.commissions, self.distributors = commissions, distributors
        self.writes = self.transfers = 0
        self._stop = threading.Event()

    def __enter__(self):
        import botocore.client
        import requests

        self._call, self._send = botocore.client.BaseClient._make_api_call, requests.Session.send
        call, send, progress = self._call, self._send, self

        def make_api_call(client, operation, params):
            if operation in ("TransactWriteItems", "UpdateItem", "PutItem", "BatchWriteItem", "DeleteItem"):
                progress.writes += 1
            return call(client, operation, params)

        def counted_send(session, request, **kwargs):
            if "/transfer" in request.url and request.method == "POST":
                progress.transfers += 1
            return send(session, request, **kwargs)

        botocore.client.BaseClient._make_api_call = make_api_call
        requests.Session.send = counted_send
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(self.EVERY_S):
            print(f"  settling: {time.perf_counter() - self._start:5.0f} s, {self.writes} DynamoDB writes, "
                  f"{self.transfers}/{self.distributors} transfers sent", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        import botocore.client
        import requests

        self._stop.set()
        self._thread.join()
        botocore.client.BaseClient._make_api_call, requests.Session.send = self._call, self._send


def run(n: int, d: int) -> None:
    from functions import wiring
    from layers import clock
    from layers.domain import commission_entry as cm
    from layers.domain.commission_entry import Commission
    from layers.services import settlement
    from layers.storage import distribution as dist
    from layers.storage.distribution import CommissionItem, StatsItem
    from layers.storage.settlement import PayoutItem
    from layers.storage.users import UserItem, user_id_for, user_key

    now = clock.now_iso()
    print(f"writing {n} SETTLEABLE commissions for {d} distributors ...", file=sys.stderr)
    start = time.perf_counter()
    per = n // d
    expected = {}
    with UserItem.batch_write() as users:
        for i in range(d):
            openid = f"obench{i:022d}"
            uid = user_id_for(openid)
            users.save(UserItem(*user_key(uid), user_id=uid, openid=openid, created_at=now, last_login_at=now))
            expected[uid] = 0
    # Straight into the table (a bulk load, not a use case): the storage module still
    # makes each item, its keys and its work-queue attributes.
    with CommissionItem.batch_write() as writer:
        for k in range(n):
            uid = list(expected)[k % d] if k < per * d else list(expected)[0]
            amount = 100 + (k % 50)
            expected[uid] += amount
            writer.save(dist.to_item(Commission(
                distributor_id=uid, commission_id=f"obench{k:020d}", order_id=f"obench{k:020d}",
                kind=cm.COMMISSION, status=cm.SETTLEABLE, amount=amount, accrued=amount, created_at=now,
                updated_at=now, settleable_at=now)))
            if (k + 1) % 20_000 == 0:
                print(f"  {k + 1}/{n} written", file=sys.stderr)
    with StatsItem.batch_write() as stats:
        for uid, total in expected.items():
            stats.save(StatsItem(dist.dist_pk(uid), "STATS", settleable=total))
    print(f"setup: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    start = time.perf_counter()
    with Progress(n, d):
        result = wiring.settlement().settle_commissions(inline=True)
    elapsed = time.perf_counter() - start
    payouts = [p for p in PayoutItem.scan(PayoutItem.sk == "PAYOUT")]
    paid = sum(int(p.amount) for p in payouts)
    assert paid == sum(expected.values()), "every commission settled exactly once"
    print(f"commissions settled: {n}")
    print(f"distributors (payouts / transfers): {len(payouts)}")
    print(f"amount transferred: {paid} fen (= the commissions' sum)")
    print(f"settle-commissions run: {elapsed:.1f} s ({n / elapsed:.0f} commissions/s, "
          f"{len(payouts) / elapsed:.1f} transfers/s; transfers paced to {settlement.TRANSFERS_PER_SECOND}/s)")
    print(f"payout states: {result.get('payouts')}")


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
