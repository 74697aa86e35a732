"""Load through `make dev`: the shop as `python -m local.dev --fresh` serves it
(chalice local's threaded server, DynamoDB Local, moto SQS, the WeChat sandbox), and
crowds of shoppers from locust (bench/_locustfile.py), each with its own connection:

1. a flash sale: 200 shoppers log in, then all try one sale at once (stock 50);
2. browsing and ordering: 200 shoppers for 30 s list and open products, fill carts, look
   at their orders, and place orders of a SKU with little stock, paying half of them
   through the sandbox and cancelling the rest.

Prints requests/s, p50/p99, failures (5xx and failed connections, counted apart) and
checks nothing was oversold: the sale's winners never exceed its stock and its
`remaining` is stock minus winners; the SKU's stock is its start minus orders placed
plus orders cancelled, never below 0.

    python bench/load.py [--users 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.services import free_port  # noqa: E402

SALE_STOCK = 50
SKU_STOCK = 150


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_dev(workdir: Path) -> tuple[subprocess.Popen, dict]:
    ports = {"port": free_port(), "dynamodb": free_port(), "sqs": free_port(), "sandbox": free_port()}
    env_file = workdir / "env.local"
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.dev", "--fresh", "--no-seed", "--port", str(ports["port"]),
         "--dynamodb-port", str(ports["dynamodb"]), "--sqs-port", str(ports["sqs"]),
         "--sandbox-port", str(ports["sandbox"]), "--env-file", str(env_file), "--table", "shop-load"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 180
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            break
    else:
        pass
    if proc.poll() is not None or not any("Ctrl-C" in x for x in lines):
        proc.kill()
        raise SystemExit("make dev did not start:\n" + "".join(lines))
    # Keep reading its output so a full pipe never blocks the server.
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    admin_key = next(x.split("=", 1)[1].strip() for x in env_file.read_text().splitlines()
                     if x.startswith("ADMIN_API_KEY="))
    return proc, {"base": f"http://127.0.0.1:{ports['port']}", "admin": admin_key,
                  "sandbox": f"http://127.0.0.1:{ports['sandbox']}"}


def admin(dev: dict, method: str, path: str, body: dict) -> dict:
    r = requests.request(method, dev["base"] + path, json=body, timeout=30,
                         headers={"Authorization": f"Bearer {dev['admin']}"})
    r.raise_for_status()
    return r.json()


def warm_up(dev: dict) -> None:
    """A shop that has been open a while: one shopper logs in (the mini-program's access
    token, shared through the table, is fetched once, not by 200 logins at once), orders,
    and tries a small flash sale, so that the measured crowds do not pay for a cold
    DynamoDB Local, cold connection pools and first-use imports."""
    base = dev["base"]
    r = requests.post(base + "/auth/login", json={"code": "bench-warm-up"}, timeout=60)
    r.raise_for_status()
    me = {"Authorization": f"Bearer {r.json()['token']}"}
    product = admin(dev, "POST", "/admin/products", {"title": "warm-up", "skus": [{"price": 100, "stock": 10}]})
    sku = product["skus"][0]["id"]
    now = datetime.now(UTC)
    sale = admin(dev, "POST", "/admin/flash-sales", {
        "sku_id": sku, "price": 50, "stock": 2, "starts_at": _iso(now - timedelta(seconds=5)),
        "ends_at": _iso(now + timedelta(hours=1)), "per_user_limit": 1})
    address = {"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"}
    for path, body in ((f"/flash-sales/{sale['id']}/orders", {"quantity": 1, "address": address}),
                       ("/orders", {"items": [{"sku_id": sku, "quantity": 1}], "address": address})):
        r = requests.post(base + path, json=body, headers=me, timeout=60)
        assert r.status_code == 201, r.text
        requests.post(f"{base}/orders/{r.json()['id']}/cancel", headers=me, timeout=60).raise_for_status()


def run_locust(dev: dict, scenario: str, users: int, seconds: int, extra_env: dict, workdir: Path) -> dict:
    out = workdir / f"{scenario}.json"
    env = {**os.environ, "BENCH_SCENARIO": scenario, "BENCH_USERS": str(users), "BENCH_OUT": str(out),
           **extra_env}
    subprocess.run(
        [str(Path(sys.executable).with_name("locust")), "-f", str(ROOT / "bench" / "_locustfile.py"), "--headless",
         "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--stop-timeout", "30",
         "--host", dev["base"], "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def report(title: str, result: dict) -> None:
    s, o = result["summary"], result["outcomes"]
    print(f"{title}: {s['requests']} requests in {s['seconds']:.1f} s = {s['rps']:.0f} requests/s; "
          f"p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms; failures {s['failures']} "
          f"(5xx {o.get('server_errors', 0)}, failed connections {o.get('connection_errors', 0)})")
    for name, row in result["routes"].items():
        print(f"  {name:34} {row['requests']:6} req  p50 {row['p50_ms']:5.0f} ms  p99 {row['p99_ms']:5.0f} ms"
              f"  failures {row['failures']}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print("starting make dev (local.dev --fresh) ...", file=sys.stderr)
        proc, dev = start_dev(workdir)
        try:
            warm_up(dev)
            now = datetime.now(UTC)
            sale_product = admin(dev, "POST", "/admin/products",
                                 {"title": "直播间专享 口红礼盒", "skus": [{"price": 19900, "stock": 1}]})
            sale = admin(dev, "POST", "/admin/flash-sales", {
                "sku_id": sale_product["skus"][0]["id"], "price": 9900, "stock": SALE_STOCK,
                "starts_at": _iso(now - timedelta(seconds=5)), "ends_at": _iso(now + timedelta(hours=1)),
                "per_user_limit": 1})
            flash = run_locust(dev, "flash", args.users, 120, {"BENCH_SALE_ID": sale["id"]}, workdir)
            report(f"flash sale, {args.users} shoppers at once on {SALE_STOCK} units", flash)
            remaining = requests.get(f"{dev['base']}/flash-sales/{sale['id']}", timeout=60).json()["remaining"]
            won = flash["outcomes"].get("won", 0)
            print(f"  won {won}, lost {flash['outcomes'].get('lost', 0)}, remaining {remaining}: "
                  f"oversold {max(0, won - SALE_STOCK)}")
            flash_ok = won <= SALE_STOCK and remaining == SALE_STOCK - won and remaining >= 0

            for i in range(5):
                admin(dev, "POST", "/admin/products", {"title": f"氨基酸洁面乳 {i}", "category": "护肤",
                                                        "skus": [{"price": 8900, "stock": 500}]})
            product = admin(dev, "POST", "/admin/products", {"title": "山茶花保湿精华 30ml",
                                                             "skus": [{"price": 25900, "stock": SKU_STOCK}]})
            sku = product["skus"][0]["id"]
            shop = run_locust(dev, "shop", args.users, args.seconds,
                              {"BENCH_SKU_ID": sku, "BENCH_PRODUCT_ID": product["id"],
                               "BENCH_SANDBOX": dev["sandbox"]}, workdir)
            report(f"browsing and ordering, {args.users} shoppers for {args.seconds} s", shop)
            after = admin(dev, "PUT", f"/admin/products/{product['id']}", {
                "title": product["title"], "skus": [{"id": sku, "price": 25900, "stock_delta": 0}]})
            stock = after["skus"][0]["stock"]
            o = shop["outcomes"]
            placed, cancelled = o.get("placed", 0), o.get("cancelled", 0)
            expected = SKU_STOCK - placed + cancelled
            print(f"  orders placed {placed}, paid {o.get('paid', 0)}, cancelled {cancelled}, "
                  f"refused SOLD_OUT {o.get('order 409', 0)}; stock {SKU_STOCK} -> {stock} "
                  f"(expected {expected}): oversold {max(0, -stock)}")
            shop_ok = stock == expected and stock >= 0
            errors = sum(r["outcomes"].get(k, 0) for r in (flash, shop)
                         for k in ("server_errors", "connection_errors"))
            print(f"5xx + failed connections: {errors}; oversold: {'0' if flash_ok and shop_ok else 'YES'}")
            return 0 if errors == 0 and flash_ok and shop_ok else 1
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
