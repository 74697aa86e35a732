"""Settling 100,000 commissions locally: DynamoDB Local for the table, the WeChat sandbox
for the transfers (each request signed and checked), auto mode. Settlement makes the
payouts (split into transfers of at most `payout_max_fen`); then every distributor
claims theirs, as WeChat's user-confirmation mode has it, and each claim is a transfer.

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
    """A line every few seconds while the run settles (it used to be silent for
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
                  f"{self.transfers} transfers sent", file=sys.stderr, flush=True)

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
            # One guide in a hundred sells big: their payout is split into several transfers.
            amount = (100 + (k % 50)) * (40 if list(expected).index(uid) % 100 == 0 else 1)
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

    service = wiring.settlement()
    start = time.perf_counter()
    with Progress(n, d):
        result = service.settle_commissions(inline=True)
    elapsed = time.perf_counter() - start
    payouts = [p for p in PayoutItem.scan(PayoutItem.sk == "PAYOUT")]
    claimed = sum(int(p.amount) for p in payouts)
    assert claimed == sum(expected.values()), "every commission in exactly one payout"
    parts = sorted(len(p.parts or ()) for p in payouts)
    print(f"commissions settled into payouts: {n}")
    print(f"payouts: {len(payouts)}; transfers (parts of at most "
          f"{wiring.shop_settings_repository().load_settings().payout_max_fen} fen): {sum(parts)}, "
          f"largest split {parts[-1]}, payouts split: {sum(1 for c in parts if c > 1)}")
    print(f"settle-commissions run: {elapsed:.1f} s ({n / elapsed:.0f} commissions/s)")
    print(f"payout states: {result.get('payouts')}")

    # Every distributor claims every part (the mini-program's "receive" button).
    start = time.perf_counter()
    views = [v for uid in expected for v in service.my_payouts(uid, 100, None)[0]]
    for i, view in enumerate(views, 1):
        answer = service.claim(view_owner(view, payouts), view["id"])
        assert answer["status"] == "WAIT_USER_CONFIRM" and answer["confirm"]["package"]
        if i % 200 == 0:
            print(f"  {i}/{len(views)} claimed", file=sys.stderr)
    elapsed = time.perf_counter() - start
    sent = sum(v["amount"] for v in views)
    assert sent == claimed, "every fen claimed once"
    print(f"claims (one transfer each): {len(views)} in {elapsed:.1f} s ({len(views) / elapsed:.1f}/s; "
          f"paced to {settlement.TRANSFERS_PER_SECOND}/s); amount sent to WeChat: {sent} fen")


def view_owner(view: dict, payouts) -> str:
    from layers.domain import payout as domain

    payout_id, _ = domain.parse_part_id(view["id"])
    return next(p.distributor_id for p in payouts if p.payout_id == payout_id)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
