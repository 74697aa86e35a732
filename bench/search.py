"""The storefront's listing and search at 10,000 products, against DynamoDB Local and moto's S3.

    python bench/search.py [--products 10000] [--queries 300]

Prints:
- the whole rebuild (read every product and the sales, publish the snapshot) and the snapshot's size;
- a cold container's first load (the snapshot from the bucket, decoded and indexed);
- per query kind, p50/p99 of the in-memory selection alone and of `GET /products` as the
  service answers it (selection + the page's products and SKUs read fresh: 2 DynamoDB calls);
- how long a product change takes to be findable: its write, the `catalog.changed` patch
  that publishes it, and at most `refresh_s` until every container has asked for it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import start_stack  # noqa: E402

WORDS = ["红茶", "绿茶", "白茶", "乌龙", "普洱", "咖啡豆", "挂耳", "茶杯", "茶壶", "礼盒", "坚果", "果干", "蜂蜜",
         "燕麦", "饼干", "巧克力", "保温杯", "紫砂", "玻璃", "陶瓷", "有机", "特级", "明前", "高山", "手工"]
CATEGORIES = ["茶叶", "咖啡", "器具", "零食", "冲饮"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def seed(n: int, rng: random.Random) -> None:
    """Products written straight to the table (as the catalog writes them), in batches."""
    from layers.clock import iso
    from layers.storage.catalog import PRODUCTS, ProductItem, SkuItem, product_key, sku_key

    now = time.time()
    with ProductItem.batch_write() as products, SkuItem.batch_write() as skus:
        for i in range(n):
            title = f"{rng.choice(WORDS)}{rng.choice(WORDS)} {rng.randint(50, 500)}g"
            price = rng.randint(500, 50_000)
            created = iso(__import__("datetime").datetime.fromtimestamp(now - i, tz=__import__("datetime").UTC))
            pid, sid = f"p_bench{i:013d}", f"s_bench{i:013d}"
            products.save(ProductItem(*product_key(pid), product_id=pid, title=title, category=rng.choice(CATEGORIES),
                                      sku_ids=[sid], created_at=created, updated_at=created, active=True,
                                      tags=rng.sample(WORDS, 2), sort_weight=rng.choice([0, 0, 0, 10]),
                                      price_min=price, gsi1pk=PRODUCTS, gsi1sk=f"{created}#{pid}"))
            skus.save(SkuItem(*sku_key(sid), sku_id=sid, product_id=pid, title=title, price=price, stock=100,
                              active=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    stack = start_stack(with_sqs=True, with_sandbox=False)
    try:
        run(args)
    finally:
        stack.stop()


def run(args) -> None:
    from functions import schemas, wiring

    rng = random.Random(7)
    started = time.perf_counter()
    seed(args.products, rng)
    print(f"seeded {args.products} products in {time.perf_counter() - started:.1f} s")

    listing = wiring.listing()
    t = time.perf_counter()
    result = listing.rebuild()
    print(f"rebuild: {result['products']} products in {time.perf_counter() - t:.2f} s")
    _, key = listing.versions.state()
    print(f"snapshot: {len(listing.snapshots.get(key)) / 1024:.0f} KiB gzipped")

    listing._loaded = None
    t = time.perf_counter()
    listing.loaded()
    print(f"cold container's first load (fetch, decode, index): {(time.perf_counter() - t) * 1000:.0f} ms")

    catalog = wiring.catalog()
    kinds = {
        "one character (茶)": {"q": "茶"},
        "two characters (红茶)": {"q": "红茶"},
        "longer (有机红茶)": {"q": "有机红茶"},
        "no match (威士忌)": {"q": "威士忌"},
        "default order": {},
        "by sales": {"sort": "sales"},
        "price, cheapest first": {"sort": "price_asc"},
    }
    print(f"\n{'query':<26} {'in memory p50/p99':>20} {'GET /products p50/p99':>24} {'hits':>6}")
    for name, params in kinds.items():
        memory, full = [], []
        for _ in range(args.queries):
            t = time.perf_counter()
            ids = listing.select(category_id=None, q=params.get("q"), sort=params.get("sort", "default"))
            memory.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            catalog.list_products(20, None, q=params.get("q"), sort=params.get("sort", "default"))
            full.append((time.perf_counter() - t) * 1000)
        print(f"{name:<26} {pct(memory, 50):>8.2f} / {pct(memory, 99):<8.2f}ms "
              f"{pct(full, 50):>9.1f} / {pct(full, 99):<8.1f}ms {len(ids):>6}")

    t = time.perf_counter()
    made = catalog.create_product(schemas.ProductInput.model_validate(
        {"title": "基准测试专用金骏眉", "skus": [{"price": 12_800, "stock": 5}]}))
    written = time.perf_counter() - t
    t = time.perf_counter()
    listing.on_catalog_changed("bench", {"product_id": made["id"]})
    patched = time.perf_counter() - t
    listing._loaded = None
    found = [p["id"] for p in catalog.list_products(20, None, q="金骏眉")[0]]
    assert found == [made["id"]], found
    print(f"\nfindable after a change: write {written * 1000:.0f} ms + publish {patched * 1000:.0f} ms "
          f"(the catalog.changed consumer) + at most {listing.refresh_s:.0f} s until a warm container asks again")
    print(f"median of the whole query mix: {statistics.median(full):.1f} ms")


if __name__ == "__main__":
    main()
