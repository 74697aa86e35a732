"""The guides' period export (`GET /admin/distributors.csv?from=&to=`) against DynamoDB
Local and moto's S3, at two numbers of guides.

    python bench/guide_export.py [--guides 500,2000] [--days 31] [--small-part-kb 4]

For each size, seeds every guide's DISTRIBUTOR day counters over a period of `--days`
days that is no whole month (straight into the table by BatchWriteItem, as the consumer
leaves them: ranked in gsi3 by sales), so the export asks one query per day; then times
`AnalyticsService.export_distributors` as the API calls it and prints its wall time, the
counter items read, DynamoDB queries and read units, the peak of Python's memory during
the export (tracemalloc; moto's S3 runs in a process of its own), the file's size and the parts of its multipart upload. The
file is read back and checked against what was seeded.

Each size is exported twice: timed as it runs, with S3's smallest part (5 MiB: at these
sizes the file is one part); then under tracemalloc (slower) with `--small-part-kb`
parts (moto told to accept them, S3_UPLOAD_PART_MIN_SIZE), so the file leaves in
parts as it is written and the peak is what the export holds, not the file.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CallMeter, start_stack  # noqa: E402

FIRST = {0: date(2026, 11, 5), 1: date(2025, 11, 5), 2: date(2024, 11, 5)}  # a period of its own for each size


def seed(n: int, first: date, days: int, rng: random.Random) -> dict[str, dict[str, int]]:
    """`n` guides' counters on each of `days` days from `first`; their expected totals."""
    from layers.domain import analytics as rules
    from layers.domain.analytics import Key
    from layers.storage.analytics import CounterItem, counter_key, rank_key

    totals: dict[str, dict[str, int]] = {}
    with CounterItem.batch_write() as batch:
        for d in range(days):
            day = (first + timedelta(days=d)).isoformat()
            for g in range(n):
                guide = f"u_guide{g:07d}"
                figures = {"sales_amount": rng.randint(0, 50) * 990, "orders": rng.randint(0, 5),
                           "commission": rng.randint(0, 500), "shares": rng.randint(0, 9), "visits": rng.randint(0, 40)}
                have = totals.setdefault(guide, dict.fromkeys(figures, 0))
                for k, v in figures.items():
                    have[k] += v
                batch.save(CounterItem(*counter_key(Key(rules.DISTRIBUTOR, day, guide)), kind=rules.DISTRIBUTOR,
                                       period=day, subject=guide, visitors=rng.randint(0, 30),
                                       gsi3pk=rank_key(rules.DISTRIBUTOR, day), gsi3n=figures["sales_amount"],
                                       **figures))
    return totals


def export(n: int, first: date, days: int, part_bytes: int, expected: dict, traced: bool) -> dict:
    from layers.services.analytics import AnalyticsService
    from layers.storage.analytics import DynamoAnalyticsRepository
    from layers.storage.exports import S3Exports

    repo = DynamoAnalyticsRepository()
    read = {"items": 0}

    class Counting(DynamoAnalyticsRepository):
        def ranking(self, kind, period, limit):
            out = repo.ranking(kind, period, limit)
            read["items"] += len(out)
            return out

    exports = S3Exports(os.environ["CODE_BUCKET"], os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), part_bytes)
    writers = []
    opened = exports.open
    exports.open = lambda key, content_type: writers.append(opened(key, content_type)) or writers[-1]
    svc = AnalyticsService(analytics=Counting(), orders=None, refunds=None, user_coupons=None, coupon_templates=None,
                           commission_of=lambda oid: None, send=lambda url, body: None, queue_url=None, visits=None,
                           clock=SimpleNamespace(now=lambda: datetime.now(UTC)), new_tx=None, exports=exports)
    last = first + timedelta(days=days - 1)
    _ = exports.client  # the S3 client made before the measure (as a warm Lambda has it)
    peak = 0
    with CallMeter() as meter:
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        svc.export_distributors(first.isoformat(), last.isoformat())
        elapsed = time.perf_counter() - started
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    [writer] = writers
    got = exports.client.get_object(Bucket=exports.bucket, Key=writer.key)["Body"].read()
    rows = list(csv.DictReader(io.StringIO(got.decode())))
    assert len(rows) == n and all(
        {k: int(r[k]) for k in expected[r["distributor_id"]]} == expected[r["distributor_id"]] for r in rows)
    assert all(r["visitors"] == "" for r in rows)  # 31 days: no single week or month
    sales = [int(r["sales_amount"]) for r in rows]
    assert sales == sorted(sales, reverse=True)
    data = meter.snapshot()
    return {"guides": n, "seconds": elapsed, "items": read["items"],
            "queries": int(data.get(("count", "dynamodb", "Query"), 0)),
            "rcu": data.get(("cu", "dynamodb", "*"), 0.0), "peak_mib": peak / 2**20, "bytes": len(got),
            "parts": len(writer.parts), "part_kib": part_bytes / 1024, "traced": traced}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guides", default="500,2000")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--small-part-kb", type=int, default=4)
    args = parser.parse_args()
    sizes = [int(s) for s in args.guides.split(",")]
    stack = start_stack(with_sqs=False, with_sandbox=False)
    s3 = _moto_s3(args.small_part_kb * 1024)
    stack.stoppers.append(lambda: (s3.terminate(), s3.wait(10)))
    try:
        from layers.storage.exports import PART_BYTES

        rng = random.Random(7)
        results = []
        for i, n in enumerate(sizes):
            started = time.perf_counter()
            expected = seed(n, FIRST[i], args.days, rng)
            print(f"seeded {n} guides x {args.days} days = {n * args.days} counters in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            # timed as it runs; then again under tracemalloc (slower) in small parts
            results.append(export(n, FIRST[i], args.days, PART_BYTES, expected, traced=False))
            results.append(export(n, FIRST[i], args.days, args.small_part_kb * 1024, expected, traced=True))
        print(f"period export of {args.days} days (one query per day), "
              f"DynamoDB Local + moto S3, {os.cpu_count()} cores")
        print(f"{'guides':>7} {'part KiB':>9} {'traced':>7} {'wall s':>7} {'items read':>11} {'queries':>8} "
              f"{'RCU':>8} {'peak MiB':>9} {'file KiB':>9} {'parts':>6}")
        for r in results:
            print(f"{r['guides']:7d} {r['part_kib']:9g} {'yes' if r['traced'] else 'no':>7} {r['seconds']:7.2f} "
                  f"{r['items']:11d} {r['queries']:8d} {r['rcu']:8.1f} "
                  f"{r['peak_mib'] if r['traced'] else float('nan'):9.2f} {r['bytes'] / 1024:9.1f} {r['parts']:6d}")
        traced = [r for r in results if r["traced"]]
        if len(traced) >= 2:
            a, b = traced[0], traced[-1]
            print(f"peak memory grows {(b['peak_mib'] - a['peak_mib']) * 1024 / (b['guides'] - a['guides']):.2f} KiB "
                  f"a guide ({a['guides']} -> {b['guides']} guides); the file is never held whole")
    finally:
        stack.stop()


def _moto_s3(min_part: int):
    """moto's S3 in a process of its own: tracemalloc then measures the export, not the
    server's buffers (local.services.MotoServer runs in this process). moto checks S3's
    smallest part at completion: told to take the small parts of the last run."""
    import subprocess

    from local.bootstrap import create_buckets
    from local.services import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            env={**os.environ, "S3_UPLOAD_PART_MIN_SIZE": str(min_part)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    os.environ.update(create_buckets(f"http://127.0.0.1:{port}"))
    return proc


if __name__ == "__main__":
    main()
