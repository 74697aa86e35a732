"""A demo shop for `make dev`: a brand's mini-program store with a few products, a
warm-up coupon for tonight's live stream, a flash sale, and a sales guide (导购) who
can share. Seeded through the admin API like an operator would, once: a second run
finds the demo products and leaves everything as it is."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import requests


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(base_url: str, admin_key: str) -> dict:
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"})

    def call(method: str, path: str, body: dict | None = None, ok=(200, 201)) -> dict | None:
        r = s.request(method, base_url + path, json=body, timeout=10)
        if r.status_code not in ok:
            print(f"  seed: {method} {path} -> {r.status_code} {r.text[:200]}", file=sys.stderr)
            return None
        return r.json() if r.content else {}

    existing = requests.get(base_url + "/products?limit=100", timeout=10).json().get("items", [])
    if any(p["title"] == "山茶花保湿精华 30ml" for p in existing):
        print("  seed: demo shop already there", file=sys.stderr)
        return {"products": existing}

    call("PUT", "/admin/settings", {"order_payment_timeout_s": 900, "settlement_mode": "auto",
                                    "shipping_fee": 800, "free_shipping_threshold": 9900})
    products = [
        call("POST", "/admin/products", {"title": "山茶花保湿精华 30ml", "category": "护肤",
                                         "skus": [{"price": 25900, "stock": 200, "spec": {"规格": "30ml"}},
                                                  {"price": 45900, "stock": 80, "spec": {"规格": "50ml"}}]}),
        call("POST", "/admin/products", {"title": "氨基酸洁面乳", "category": "护肤",
                                         "skus": [{"price": 8900, "stock": 500}],
                                         "commission": {"mode": "fixed", "rate_bps": 1500}}),
        call("POST", "/admin/products", {"title": "直播间专享 口红礼盒", "category": "彩妆",
                                         "skus": [{"price": 19900, "stock": 50, "spec": {"色号": "#999"}}]}),
    ]
    now = datetime.now(UTC)
    coupon = call("POST", "/admin/coupons", {
        "name": "直播预热 满199减30", "kind": "fixed", "value": 3000, "threshold": 19900,
        "claim_starts_at": _iso(now - timedelta(minutes=5)), "claim_ends_at": _iso(now + timedelta(days=1)),
        "valid_from": _iso(now + timedelta(hours=2)), "valid_until": _iso(now + timedelta(days=3)),
        "total": 1000, "per_user_limit": 1})
    flash = None
    if products[2]:
        flash = call("POST", "/admin/flash-sales", {
            "sku_id": products[2]["skus"][0]["id"], "price": 9900, "stock": 20,
            "starts_at": _iso(now + timedelta(minutes=1)), "ends_at": _iso(now + timedelta(hours=3)),
            "per_user_limit": 1})
    template = call("POST", "/admin/commission-templates", {
        "name": "导购阶梯提成", "tiers": [
            {"name": "铜牌导购", "rate_bps": 500},
            {"name": "银牌导购", "rate_bps": 800, "min_sales_count": 20},
            {"name": "金牌导购", "rate_bps": 1200, "min_sales_amount": 5_000_000}]})
    guide = requests.post(base_url + "/auth/login", json={"code": "demo-sales-guide"}, timeout=10)
    distributor = None
    if template and guide.ok:
        distributor = call("POST", "/admin/distributors", {"user_id": guide.json()["user"]["id"],
                                                           "template_id": template["id"]})
    return {"products": products, "coupon": coupon, "flash_sale": flash,
            "commission_template": template, "distributor": distributor}
