"""A coupon grant against DynamoDB Local: coupons issued per second for 10,000 targets,
capacity units and DynamoDB calls per target, then the same grant run again (a duplicate
message or the sweep), which issues nothing and only reads.

    python bench/grants.py [--targets 10000]

One runner works a grant (a message at a time, batch after batch), so this is the rate
one grant moves at; two grants run side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CallMeter, start_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=10_000)
    args = parser.parse_args()
    stack = start_stack(with_sqs=False)  # the sandbox: WeChat settings, as a stage has them
    try:
        run(args.targets)
    finally:
        stack.stop()


def run(n: int) -> None:
    from functions import schemas, wiring
    from layers import clock
    from layers.storage.users import upsert_user

    coupons = wiring.coupons()
    grants = wiring.coupon_grants()
    grants.schedule = None  # no queue here: this process is the runner
    now = clock.now()
    template = coupons.create_template(schemas.CouponTemplateInput.model_validate({
        "name": "老客回馈券", "kind": "fixed", "value": 1000, "threshold": 0,
        "claim_starts_at": clock.iso(now - timedelta(minutes=1)), "claim_ends_at": clock.iso(now + timedelta(hours=2)),
        "valid_days": 7, "total": n, "per_user_limit": 1}))
    start = time.perf_counter()
    users = [upsert_user(f"o_bench{uuid.uuid4().hex[:20]}", None, clock.now_iso()).user_id for _ in range(n)]
    print(f"{n} customers made in {time.perf_counter() - start:.1f} s", file=sys.stderr)

    meter = CallMeter()
    with meter:
        start = time.perf_counter()
        grant = grants.start(template["id"], user_ids=users, note="bench")
        stored = time.perf_counter() - start
        done = grants.run(grant["id"])
        elapsed = time.perf_counter() - start
    data = meter.snapshot()
    issued_total = wiring.coupon_template_repository().issued_total(template["id"])
    assert done["status"] == "DONE" and done["issued"] == n == issued_total, (done, issued_total)
    cu = data.get(("cu", "dynamodb", "*"), 0.0)
    calls = sum(v for k, v in data.items() if k[0] == "count" and k[1] == "dynamodb" and k[2] != "*")
    print(f"grant of {n}: stored in {stored:.1f} s, DONE in {elapsed:.1f} s = {n / elapsed:.0f} coupons/s "
          f"(one runner, {grants.workers} targets at once); {calls / n:.2f} DynamoDB calls and {cu / n:.1f} capacity units a target; "
          f"issued exactly {issued_total}")
    per_op = sorted(((k[2], v / n) for k, v in data.items() if k[0] == "count" and k[1] == "dynamodb" and k[2] != "*"),
                    key=lambda kv: -kv[1])
    print("  calls a target: " + ", ".join(f"{op} {v:.2f}" for op, v in per_op))

    # The same targets worked again, as a runner that read the grant before it ended (a
    # duplicate message, a runner that lost its race) does: nothing new, only reads.
    from dataclasses import replace

    from layers.domain.coupon_grant import RUNNING
    from layers.services.coupon_grants import Batch

    repo = wiring.coupon_grant_repository()
    stale = replace(repo.get(grant["id"]), status=RUNNING)
    tmpl = wiring.coupon_template_repository().get(template["id"])
    meter = CallMeter()
    with meter:
        start = time.perf_counter()
        index = 0
        while (ids := repo.listed_batch(grant["id"], index)) is not None:
            batch = Batch(stale, tmpl, ids, None, last=False)
            for u in ids:
                grants.work(batch, u)
            assert set(batch.outcomes.values()) == {"ISSUED"}
            index += 1
        rerun = time.perf_counter() - start
    assert wiring.coupon_template_repository().issued_total(template["id"]) == n
    writes = meter.snapshot().get(("count", "dynamodb", "TransactWriteItems"), 0)
    print(f"the same {n} targets worked again: {rerun:.1f} s = {n / rerun:.0f} targets/s, "
          f"{writes:.0f} transactions, issued still exactly {n}")

if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
