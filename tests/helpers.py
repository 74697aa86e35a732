"""Small, explicit steps the tests share (HTTP through chalice's test client)."""

from __future__ import annotations

import json
import uuid

ADDRESS = {"name": "张三", "phone": "13800000000", "province": "上海", "city": "上海",
           "district": "静安区", "detail": "南京西路 1 号"}


def body(response) -> dict:
    return json.loads(response.body) if response.body else {}


def post(client, path, payload=None, headers=None):
    return client.http.post(path, body=json.dumps(payload if payload is not None else {}),
                            headers={"Content-Type": "application/json", **(headers or {})})


def put(client, path, payload, headers=None):
    return client.http.put(path, body=json.dumps(payload),
                           headers={"Content-Type": "application/json", **(headers or {})})


def login(client, code: str | None = None) -> dict:
    """Headers of a shopper logged in with a wx.login code (a fresh shopper by default)."""
    r = post(client, "/auth/login", {"code": code or f"code-{uuid.uuid4().hex}"})
    assert r.status_code == 200, r.body
    data = body(r)
    return {"Authorization": f"Bearer {data['token']}", "X-User-Id": data["user"]["id"]}


def create_product(client, admin_headers, price=1990, stock=10, title="小米手环", category="数码",
                   commission=None, skus=None) -> dict:
    payload = {"title": title, "category": category,
               "skus": skus or [{"price": price, "stock": stock, "spec": {"颜色": "黑"}}]}
    if commission:
        payload["commission"] = commission
    r = post(client, "/admin/products", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def order_payload(sku_id: str, quantity: int = 1, **extra) -> dict:
    return {"items": [{"sku_id": sku_id, "quantity": quantity}], "address": ADDRESS, **extra}


class bills_ready:  # noqa: N801 - used as a context manager
    """WeChat Pay makes day D's bill from 10:00 on D+1 (Beijing): the sandbox clock moves on
    to then while the block runs (nothing waiting on the clock is notified), and back after."""

    def __init__(self, sandbox, day):
        self.sandbox, self.day = sandbox, day

    def __enter__(self):
        import time as _time
        from datetime import datetime as _dt
        from datetime import time as _clock
        from datetime import timedelta as _td

        from layers.domain.reconcile import BEIJING

        ready = _dt.combine(self.day + _td(days=1), _clock(10, 0, 1), tzinfo=BEIJING).timestamp()
        ahead = ready - _time.time()
        if ahead > 0:
            self.sandbox.advance(ahead, notify=False)
        return self

    def __exit__(self, *exc):
        self.sandbox.reset_clock()
        return False


def store_freight(order_id: str, freight: dict | None) -> None:
    """Give a placed order its freight breakdown, as order pricing stores it (`Freight.as_dict()`)."""
    from layers.storage.orders import OrderItem, order_key

    OrderItem(*order_key(order_id)).update(
        actions=[OrderItem.freight.set(freight) if freight is not None else OrderItem.freight.remove()])


# An order's freight as the console shows it: two templates and the flat part.
FREIGHT = {"total": 1900, "parts": [
    {"template_id": "ft_weighed", "name": "按重量", "pieces": 3, "weight_g": 1450, "amount": 5970, "fee": 1100,
     "rule": "region"},
    {"template_id": "ft_jzh", "name": "江浙沪包邮", "pieces": 1, "weight_g": 0, "amount": 9900, "fee": 0, "rule": "free"},
    {"template_id": None, "name": None, "pieces": 2, "weight_g": 350, "amount": 2000, "fee": 800, "rule": "flat"}]}
