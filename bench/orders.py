"""Placing one order against DynamoDB Local: how many DynamoDB calls, how many capacity
units (ReturnConsumedCapacity=TOTAL), and the median latency of the whole placement
next to the time spent in the bare DynamoDB calls it makes, in the same run. Each order
names a saved address (address_id) and its products a freight template by region, as a
real checkout does, and is priced with two live promotions (满减 on one product, 第2件半价
on the other) and a coupon the shopper claimed; then the checkout's preview of the same
body is measured too.

    python bench/orders.py [--orders 200]

It starts its own DynamoDB Local, moto's SQS server and the WeChat sandbox (the prepay
call is real HTTP to the sandbox on loopback and is reported on its own line).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
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


def run(n: int) -> None:
    from functions import schemas, wiring
    from layers import clock
    from layers.storage.users import upsert_user

    orders = wiring.orders()
    template = wiring.freight_templates().create(schemas.FreightTemplateInput.model_validate(
        {"name": "bench", "charge_by": "piece", "default": {"first": 1, "first_fee": 1000, "additional": 1,
                                                            "additional_fee": 500},
         "regions": [{"provinces": ["上海市"], "first": 1, "first_fee": 600, "additional": 1, "additional_fee": 200}]}))
    product = wiring.catalog().create_product(schemas.ProductInput.model_validate(
        {"title": "bench", "freight_template_id": template["id"], "skus": [{"price": 19900, "stock": n + 10}]}))
    second = wiring.catalog().create_product(schemas.ProductInput.model_validate(
        {"title": "bench 2", "freight_template_id": template["id"], "skus": [{"price": 2990, "stock": 2 * n + 10}]}))
    sku_id, second_sku = product["skus"][0]["id"], second["skus"][0]["id"]
    _promotions(product["id"], second["id"])
    coupons = wiring.coupons()
    coupon_template = coupons.create_template(schemas.CouponTemplateInput.model_validate(
        {"name": "bench", "kind": "fixed", "value": 500, "threshold": 10000, "total": n + 10, "per_user_limit": 1,
         "claim_starts_at": clock.now_iso(), "claim_ends_at": "2099-01-01T00:00:00Z",
         "valid_from": clock.now_iso(), "valid_until": "2099-01-01T00:00:00Z"}))
    users = [upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id for _ in range(n)]
    address = schemas.AddressInput.model_validate(
        {"name": "张三", "phone": "13800000000", "province": "上海市", "city": "上海市", "district": "静安区",
         "detail": "南京西路 1 号"})
    bodies = {}
    for user_id in users:
        saved = wiring.addresses().add(user_id, address)
        coupon = coupons.claim(user_id, coupon_template["id"], None)
        bodies[user_id] = schemas.PlaceOrderInput.model_validate(
            {"items": [{"sku_id": sku_id, "quantity": 1}, {"sku_id": second_sku, "quantity": 2}],
             "address_id": saved["id"], "coupon_id": coupon["id"]})

    check = orders.preview(users[0], bodies[users[0]])
    applied = [p["name"] for p in check["promotions"]["applied"]]
    if len(applied) != 2 or not check["amounts"].get("discount"):
        raise SystemExit(f"the bench order should take two promotions and the coupon: {check['amounts']}, {applied}")
    print(f"each order: {check['amounts']} with {', '.join(applied)} and a coupon", file=sys.stderr)

    meter = CallMeter()
    totals, per_order, outside, busy = [], [], [], []
    with meter:
        for i, user_id in enumerate(users):
            meter.reset()
            start = time.perf_counter()
            orders.place_order(user_id, bodies[user_id], idempotency_key=f"bench-{i}-{secrets.token_hex(4)}")
            totals.append(time.perf_counter() - start)
            per_order.append(meter.snapshot())
            outside.append(meter.outside_seconds())
            busy.append(meter.busy_seconds())
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{n} orders", file=sys.stderr)

    previews, preview_calls = [], []
    with meter:
        for user_id in users:
            meter.reset()
            start = time.perf_counter()
            # the coupon is now held by the order just placed: the page previews before choosing one
            orders.preview(user_id, bodies[user_id].model_copy(update={"coupon_id": None}))
            previews.append(time.perf_counter() - start)
            preview_calls.append(meter.snapshot().get(("count", "dynamodb", "*"), 0))

    calls = defaultdict(list)
    for snap in per_order:
        for key, value in snap.items():
            calls[key].append(value)
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"orders placed: {n}")
    print("DynamoDB calls per order: " + ", ".join(
        f"{op}={statistics.median(calls[('count', 'dynamodb', op)]):g}"
        for op in sorted({k[2] for k in calls if k[0] == "count" and k[1] == "dynamodb"})))
    print(f"DynamoDB calls per order (total): {statistics.median(calls[('count', 'dynamodb', '*')]):g}")
    print(f"capacity units per order: {statistics.median(calls[('cu', 'dynamodb', '*')]):.1f} "
          f"(transaction {statistics.median(calls[('cu', 'dynamodb', 'TransactWriteItems')] or [0]):.1f})")
    print(f"median placement latency: {ms(totals):.2f} ms (p99 {sorted(totals)[int(0.99 * (n - 1))] * 1000:.2f} ms)")
    print(f"median time in the bare DynamoDB calls: {ms(calls[('time', 'dynamodb', '*')]):.2f} ms")
    print(f"median time in WeChat Pay prepay (sandbox, loopback): {ms(calls[('time', 'http', 'wechatpay')]):.2f} ms")
    print(f"median time in SQS (expiry message, sent beside the prepay call): {ms(calls[('time', 'sqs', '*')]):.2f} ms")
    print(f"median wall time waiting on WeChat Pay and SQS (overlap counted once): {ms(outside):.2f} ms")
    own = [t - b for t, b in zip(totals, busy, strict=True)]
    print(f"median time in our own code: {ms(own):.2f} ms")
    placement = [t - o for t, o in zip(totals, outside, strict=True)]
    ratio = ms(placement) / ms(calls[("time", "dynamodb", "*")])
    round_trips = statistics.median(calls[("count", "dynamodb", "*")])
    print(f"preview (POST /orders/preview): {statistics.median(preview_calls):g} DynamoDB calls, side by side "
          f"(placement's read and the shopper's coupons), median {ms(previews):.2f} ms "
          f"(p99 {sorted(previews)[int(0.99 * (n - 1))] * 1000:.2f} ms)")
    print(f"\ngoal: at most 3 DynamoDB round trips: {round_trips:g} "
          f"({'met' if round_trips <= 3 else 'NOT MET'})")
    print(f"goal: median placement (without WeChat and SQS) within 1.3x of its bare DynamoDB calls: "
          f"{ms(placement):.2f} ms / {ms(calls[('time', 'dynamodb', '*')]):.2f} ms = {ratio:.2f}x "
          f"({'met' if ratio <= 1.3 else 'NOT MET'})")

def _promotions(first_product: str, second_product: str) -> None:
    """Two live promotions, each on one of the bench's products."""
    from datetime import UTC, datetime, timedelta

    from layers.domain.promotion import promotion_from
    from layers.storage.promotions import DynamoPromotionRepository

    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()}
    repository = DynamoPromotionRepository()
    for n, body in enumerate([
            {"name": "满199减20", "kind": "amount_off", "tiers": [{"threshold": 19900, "value": 2000}],
             "scope": {"product_ids": [first_product]}},
            {"name": "第2件半价", "kind": "nth_item", "tiers": [{"min_quantity": 2, "value": 50}],
             "scope": {"product_ids": [second_product]}}]):
        repository.create(promotion_from({**body, **window}, f"pm_bench_{n}_{uuid.uuid4().hex[:8]}", now.isoformat()),
                          now)


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    main()
