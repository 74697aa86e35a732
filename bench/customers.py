"""The customer list at 100,000 customers, against DynamoDB Local.

    python bench/customers.py [--customers 100000] [--queries 50]

Seeds the records straight into the table in batches (BatchWriteItem, as the storage keeps
them: gsi3 by last order, a few with phone hashes, members of two tags), then times
`CustomerService.page` (what GET /admin/customers answers) for a few filter combinations
and prints p50/p99 and how many customers a page found. The filters that are not an
index are applied within a bounded read (docs/customers.md), so the slow case is a
selective filter: its page reads its whole budget of 1,000 items.

Then a coupon grant to the tag `老客` (every 20th customer: 5,000 at 100,000), run by one
runner as the queue drives it: coupons issued per second, and exactly one coupon per
member. (`bench/grants.py` measures a grant to a list on its own.)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import start_stack  # noqa: E402

LEVELS = [None, "银卡", "金卡", "钻石"]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _at(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def seed(n: int, rng: random.Random) -> list[str]:
    """`n` records; every 10th with a phone number (sealed, hashed), every 20th in tag
    `老客`, every 500th in `大客户`. Returns the numbers seeded."""
    from layers.domain.customers import mask_phone
    from layers.storage import pii
    from layers.storage.customers import (
        LAST4_INDEX,
        LIST,
        PHONE_INDEX,
        CustomerItem,
        TagItem,
        TagMemberItem,
        member_key,
        record_key,
    )

    TagItem("CUSTOMER#TAGS", "老客", name="老客", created_at="2026-11-01T00:00:00Z").save()
    TagItem("CUSTOMER#TAGS", "大客户", name="大客户", created_at="2026-11-01T00:00:00Z").save()
    numbers = []
    started = time.perf_counter()
    with CustomerItem.batch_write() as records, TagMemberItem.batch_write() as members:
        for i in range(n):
            user = f"u_bench{i:09d}"
            orders = rng.choice([0, 1, 1, 1, 2, 2, 3, 5, 8])
            last = NOW - timedelta(seconds=rng.randint(0, 730 * 86400)) if orders else None
            first = last - timedelta(days=rng.randint(0, 300)) if last else None
            spent = sum(rng.randint(1000, 40000) for _ in range(orders))
            tags = (["老客"] if i % 20 == 0 else []) + (["大客户"] if i % 500 == 0 else [])
            item = CustomerItem(*record_key(user), user_id=user, orders=orders, spent=spent,
                                first_order_at=_at(first), last_order_at=_at(last), level=rng.choice(LEVELS),
                                manual_tags=tags, rule_tags=[], version=orders, tags_version=1 if tags else None,
                                gsi3pk=LIST, gsi3n=int(last.timestamp()) if last else 0)
            if i % 10 == 0:
                number = "13" + f"{rng.randint(0, 10**9 - 1):09d}"
                numbers.append(number)
                pk, sk = record_key(user)
                item.phone_sealed = pii.seal(number.encode(), f"{pk}|{sk}")
                item.phone_masked = mask_phone(number)
                item.gsi1pk, item.gsi1sk = f"CUSTOMER#PHONE#{pii.blind_index(number, PHONE_INDEX)}", user
                item.gsi2pk, item.gsi2sk = f"CUSTOMER#LAST4#{pii.blind_index(number[-4:], LAST4_INDEX)}", user
            records.save(item)
            for tag in tags:
                members.save(TagMemberItem(*member_key(tag, user), user_id=user))
            if (i + 1) % 20000 == 0:
                print(f"  seeded {i + 1} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return numbers


def grant_to_tag(n: int) -> None:
    """A grant of one coupon to every member of `老客` (the shopper items they need made
    first: a grant skips an unknown user), timed from the POST's work to DONE."""
    from datetime import UTC, datetime

    from functions import schemas, wiring
    from layers.storage.users import UserItem, user_key

    members = [f"u_bench{i:09d}" for i in range(0, n, 20)]
    with UserItem.batch_write() as users:
        for user in members:
            users.save(UserItem(*user_key(user), user_id=user, openid=f"o_{user}", created_at="2026-11-01T00:00:00Z",
                                last_login_at="2026-11-01T00:00:00Z"))
    now = datetime.now(UTC)
    template = wiring.coupons().create_template(schemas.CouponTemplateInput.model_validate({
        "name": "老客回馈券", "kind": "fixed", "value": 1000, "threshold": 0,
        "claim_starts_at": (now - timedelta(minutes=1)).isoformat(), "claim_ends_at": (now + timedelta(hours=2)).isoformat(),
        "valid_days": 7, "total": len(members), "per_user_limit": 1}))
    grants = wiring.coupon_grants()
    grants.schedule = None  # no queue here: this process is the runner
    started = time.perf_counter()
    grant = grants.start(template["id"], tag="老客", note="bench")
    done = grants.run(grant["id"])
    elapsed = time.perf_counter() - started
    issued = wiring.coupon_template_repository().issued_total(template["id"])
    assert done["status"] == "DONE" and done["issued"] == len(members) == issued, (done, issued)
    print(f"grant to the tag 老客 ({len(members)} members): DONE in {elapsed:.1f} s = "
          f"{len(members) / elapsed:.0f} coupons/s, issued exactly {issued}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    stack = start_stack(with_sqs=False)  # the sandbox too: the grant sends coupon_received
    try:
        from types import SimpleNamespace

        from layers.domain.customers import Filters
        from layers.services.customers import CustomerQuery, CustomerService
        from layers.storage.customers import DynamoCustomerRepository

        rng = random.Random(7)
        started = time.perf_counter()
        numbers = seed(args.customers, rng)
        print(f"seeded {args.customers} customers in {time.perf_counter() - started:.1f} s")
        service = CustomerService(customers=DynamoCustomerRepository(), orders=None, phone_api=None,
                                  level_of=lambda u: None, clock=SimpleNamespace(now=lambda: NOW))
        month_ago = (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        year_ago = (NOW - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cases = {
            "no filter (newest first)": lambda: CustomerQuery(),
            "last order in the last 30 days (index)": lambda: CustomerQuery(filters=Filters(last_order_after=month_ago)),
            "level 金卡 + min_orders 3 (filtered)": lambda: CustomerQuery(filters=Filters(level="金卡", min_orders=3)),
            "min_spent 150000 + before a year ago (selective)": lambda: CustomerQuery(
                filters=Filters(min_spent=150000, last_order_before=year_ago)),
            "min_spent 300000 + min_orders 8 (rare: reads its budget)": lambda: CustomerQuery(
                filters=Filters(min_spent=300000, min_orders=8)),
            "tag 老客 + level 钻石": lambda: CustomerQuery(filters=Filters(tag="老客", level="钻石")),
            "q whole number": lambda: CustomerQuery(q=rng.choice(numbers)),
            "q last four": lambda: CustomerQuery(q=rng.choice(numbers)[-4:]),
        }
        print(f"{'filters':58} {'p50 ms':>8} {'p99 ms':>8} {'found/page':>11}")
        for name, make in cases.items():
            times, found = [], []
            for _ in range(args.queries):
                t = time.perf_counter()
                items, _ = service.page(make(), 20, None)
                times.append((time.perf_counter() - t) * 1000)
                found.append(len(items))
            print(f"{name:58} {pct(times, 50):8.1f} {pct(times, 99):8.1f} {sum(found) / len(found):11.1f}")
        grant_to_tag(args.customers)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
