"""Request keys belong to one invocation: a warm container (or a thread of the local
server, or a poller of the local runtime) serves many, and a log line must never carry
the path or the order of another request."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from chalice import Chalice
from chalice.test import Client

from functions._middleware import install_middleware
from layers.observability import logger


@pytest.fixture
def lines():
    """Every line the shop's logger writes during the test, parsed."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    out: list[dict] = []

    def read() -> list[dict]:
        out[:] = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
        return out
    yield read
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.clear_state()


@pytest.fixture
def app():
    app = Chalice("log-keys")
    entered, release = threading.Event(), threading.Event()
    app.entered, app.release = entered, release

    @app.route("/orders/{order_id}/receipt", methods=["POST"])
    def receipt(order_id):
        logger.append_keys(order_id=order_id)
        logger.info("receipt")
        return {}

    @app.route("/slow/{order_id}")
    def slow(order_id):
        logger.append_keys(order_id=order_id)
        entered.set()
        release.wait(5)
        logger.info("slow done")
        return {}

    @app.route("/console/orders")
    def console_orders():
        logger.info("console")
        return {}

    @app.on_sqs_message(queue="events", name="events_consumer")
    def events_consumer(event):
        logger.warning("consumer")

    install_middleware(app)
    return app


def _sqs(client: Client) -> dict:
    return client.events.generate_sqs_event(["{}"], queue_name="events")


def _by_message(lines: list[dict], message: str) -> list[dict]:
    found = [line for line in lines if line["message"] == message]
    assert found, f"no {message!r} line in {lines}"
    return found


def test_a_second_request_on_the_same_thread_carries_none_of_the_first_requests_keys(app, lines):
    with Client(app) as client:
        assert client.http.post("/orders/o1/receipt").status_code == 200
        assert client.http.get("/console/orders").status_code == 200
    first, second = _by_message(lines(), "receipt")[0], _by_message(lines(), "console")[0]
    assert first["order_id"] == "o1" and first["path"] == "/orders/{order_id}/receipt"
    assert second["path"] == "/console/orders" and "order_id" not in second
    http_lines = _by_message(lines(), "http")
    assert http_lines[-1]["path"] == "/console/orders" and "order_id" not in http_lines[-1]


def test_a_consumer_invocation_after_an_http_one_carries_none_of_its_keys(app, lines):
    with Client(app) as client:
        client.http.post("/orders/o2/receipt")
        client.lambda_.invoke("events_consumer", _sqs(client))
    consumer = _by_message(lines(), "consumer")[0]
    assert not {"path", "method", "order_id"} & consumer.keys(), consumer
    assert consumer.get("aws_request_id")


def test_keys_left_outside_any_invocation_do_not_reach_the_next_one(app, lines):
    # Code between invocations (a cold start's import, a local schedule's thread before it
    # invokes) may append keys; each invocation starts from the logger's own keys only.
    logger.append_keys(order_id="left-over", path="/stale")
    with Client(app) as client:
        client.http.get("/console/orders")
        logger.append_keys(order_id="left-over")
        client.lambda_.invoke("events_consumer", _sqs(client))
    console = _by_message(lines(), "console")[0]
    assert console["path"] == "/console/orders" and "order_id" not in console
    assert "order_id" not in _by_message(lines(), "consumer")[0]


def test_threads_serving_at_once_keep_their_own_keys(app, lines):
    """`make dev` serves each connection on a thread and polls the queues on others: a
    payment notification or a consumer logging while a receipt is being served must not
    log the receipt's path, and the receipt's own lines keep theirs."""
    with Client(app) as client:
        slow = threading.Thread(target=client.http.get, args=("/slow/o3",))
        slow.start()
        assert app.entered.wait(5)
        client.lambda_.invoke("events_consumer", _sqs(client))
        client.http.get("/console/orders")
        app.release.set()
        slow.join(5)
    consumer = _by_message(lines(), "consumer")[0]
    assert not {"path", "method", "order_id"} & consumer.keys(), consumer
    console = _by_message(lines(), "console")[0]
    assert console["path"] == "/console/orders" and "order_id" not in console, console
    done = _by_message(lines(), "slow done")[0]
    assert done["path"] == "/slow/{order_id}" and done["order_id"] == "o3", done


def test_on_the_local_server_two_requests_on_one_connection_keep_their_own_keys(app, lines):
    """`make dev`'s server serves a kept-alive connection's requests on one thread."""
    import requests
    from chalice.config import Config

    from local.dev import crowd_server
    from local.services import free_port

    port = free_port()
    server = crowd_server(app, Config.create(chalice_app=app, lambda_timeout=30), "127.0.0.1", port)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    try:
        with requests.Session() as s:  # one connection, kept alive
            assert s.post(f"http://127.0.0.1:{port}/orders/o4/receipt", timeout=10).status_code == 200
            assert s.get(f"http://127.0.0.1:{port}/console/orders", timeout=10).status_code == 200
    finally:
        server.shutdown()
        server.server.server_close()
    first, second = _by_message(lines(), "receipt")[0], _by_message(lines(), "console")[0]
    assert first["order_id"] == "o4"
    assert second["path"] == "/console/orders" and "order_id" not in second, second
