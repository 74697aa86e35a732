"""`make dev`'s HTTP server (local/dev.py `crowd_server`) takes 200 clients
arriving at once without a reset connection, and each request sees its own request
(Chalice keeps `app.current_request` in one attribute; the server makes it per thread).
A test-only Chalice app, so this depends on no business code."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from chalice import Chalice
from chalice.config import Config

from local.dev import crowd_server
from local.services import free_port

pytestmark = pytest.mark.integration

CLIENTS = 200


def test_two_hundred_clients_at_once_are_all_served_each_with_its_own_request():
    app = Chalice(app_name="crowd")

    @app.route("/echo/{n}")
    def echo(n):
        seen = app.current_request.uri_params["n"]
        time.sleep(0.05)  # let the other threads overwrite a shared attribute, if it were shared
        return {"n": n, "seen": seen, "after": app.current_request.uri_params["n"],
                "header": app.current_request.headers.get("x-n")}

    port = free_port()
    server = crowd_server(app, Config.create(chalice_app=app, lambda_timeout=30), "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    barrier = threading.Barrier(CLIENTS)
    results: dict[int, object] = {}

    def client(n: int) -> None:
        barrier.wait()
        try:
            # A fresh connection each: what a crowd of phones looks like to the server.
            r = requests.get(f"http://127.0.0.1:{port}/echo/{n}", headers={"X-N": str(n), "Connection": "close"},
                             timeout=60)
            results[n] = (r.status_code, r.json())
        except requests.RequestException as exc:  # a reset connection lands here
            results[n] = exc

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        server.shutdown()
        server.server.server_close()
    failures = {n: r for n, r in results.items() if not isinstance(r, tuple) or r[0] != 200}
    assert len(results) == CLIENTS and not failures, list(failures.items())[:5]
    for n, (_, answer) in results.items():
        assert answer == {"n": str(n), "seen": str(n), "after": str(n), "header": str(n)}


def test_unknown_routes_and_methods_answer_in_the_envelope_as_api_gateway_does():
    app = Chalice(app_name="gateway")

    @app.route("/known")
    def known():
        return {"ok": True}

    port = free_port()
    server = crowd_server(app, Config.create(chalice_app=app, lambda_timeout=30), "127.0.0.1", port)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert requests.get(f"{base}/known", timeout=10).json() == {"ok": True}
        for method, path, headers, status in (("GET", "/unknown", {}, 403), ("TRACE", "/known", {}, 405),
                                              ("FOO", "/known", {}, 405),
                                              ("GET", "/unknown", {"Authorization": "Bearer x"}, 403)):
            r = requests.request(method, base + path, headers=headers, timeout=10)
            assert r.status_code == status, (method, path, r.status_code, r.text)
            assert set(r.json()["error"]) == {"code", "message"}
    finally:
        server.shutdown()
        server.server.server_close()
