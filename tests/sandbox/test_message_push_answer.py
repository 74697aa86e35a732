"""The sandbox's message push reports what the shop answered: a settlement the shop
refused (its signature check failed, a 5xx, a body other than `success` or empty) is not
settled in the sandbox, and its control says so."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.sandbox.test_pay_sandbox import paid_order


class _Shop(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.server.answer[0])
        self.send_header("Content-Length", str(len(self.server.answer[1])))
        self.end_headers()
        self.wfile.write(self.server.answer[1])


@pytest.fixture
def shop():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    server.answer = (200, b"success")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _order_pushing_to(pay, shop) -> str:
    no = paid_order(pay)
    pay.box.orders[no]["notify_url"] = f"http://127.0.0.1:{shop.server_address[1]}/wechatpay/notify"
    pay.box.mp.shipping[no] = {"uploads": [{"upload_time": "2026-12-05T10:00:00.000+08:00"}], "settled": False}  # shipped earlier
    return no


@pytest.mark.parametrize("answer", [(401, b'{"error": {"code": "UNAUTHORIZED"}}'), (500, b""), (200, b"fail")])
def test_a_refused_settlement_push_is_reported_and_not_settled(pay, shop, answer):
    no = _order_pushing_to(pay, shop)
    shop.answer = answer
    r = requests.post(f"{pay.box.base_url}/sandbox/mp/settle/{no}", timeout=10).json()
    assert r["status"] == answer[0] and r["accepted"] is False
    shipping = requests.get(f"{pay.box.base_url}/sandbox/mp/shipping/{no}", timeout=5).json()
    # WeChat settled it all the same; what the shop did not take is said apart
    assert shipping["settled"] is True and shipping["settlement_push_accepted"] is False


@pytest.mark.parametrize("body", [b"success", b""])
def test_a_settlement_the_shop_took_is_settled(pay, shop, body):
    no = _order_pushing_to(pay, shop)
    shop.answer = (200, body)
    r = requests.post(f"{pay.box.base_url}/sandbox/mp/settle/{no}", timeout=10).json()
    assert r == {"status": 200, "body": body.decode(), "accepted": True}
    shipping = requests.get(f"{pay.box.base_url}/sandbox/mp/shipping/{no}", timeout=5).json()
    assert shipping["settled"] is True and shipping["settlement_push_accepted"] is True
