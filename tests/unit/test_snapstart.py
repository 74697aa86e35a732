"""SnapStart's hooks (functions/snapstart.py), without AWS: they are registered with
Lambda's runtime library when it is there; after a restore the HTTP connections made
before the snapshot are gone, `random` draws differently in each restored container,
and the settings' secret is read again (services rebuilt when it changed)."""

from __future__ import annotations

import random
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest

from functions import snapstart, wiring
from layers import aws
from layers.config import reset_settings_cache, settings
from layers.wechat.http import Http


class _Server:
    """A local HTTP server answering `{}` to anything, keep-alive, that records the client
    port of each request: two requests on one connection share a port."""

    def __init__(self):
        ports = self.ports = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                ports.append(self.client_address[1])
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def fresh_wiring():
    reset_settings_cache()
    wiring.reset()
    yield
    reset_settings_cache()
    wiring.reset()


def _runtime_library():
    """A stand-in for snapshot_restore_py 1.0.0 as Lambda's runtime carries it: two
    registries of (callable, args, kwargs), read by the runtime through the getters."""
    lib = types.ModuleType("snapshot_restore_py")
    before, after = [], []

    def register_before_snapshot(func, *args, **kwargs):
        before.append((func, args, kwargs))
        return func

    def register_after_restore(func, *args, **kwargs):
        after.append((func, args, kwargs))
        return func

    lib.register_before_snapshot, lib.register_after_restore = register_before_snapshot, register_after_restore
    lib.get_before_snapshot, lib.get_after_restore = (lambda: before), (lambda: after)
    return lib


def test_without_the_runtime_library_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as outside Lambda
    assert snapstart.register() is False


def test_in_lambdas_runtime_prime_runs_before_the_snapshot_and_restore_after_it(monkeypatch):
    lib = _runtime_library()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", lib)
    assert snapstart.register() is True
    assert [f for f, _, _ in lib.get_before_snapshot()] == [snapstart.prime]
    assert [f for f, _, _ in lib.get_after_restore()] == [snapstart.restore]


def test_after_a_restore_an_aws_client_opens_a_new_connection(server):
    sqs = aws.client("sqs", region_name="us-east-1", endpoint_url=server.url)
    sqs.list_queues()
    sqs.list_queues()
    assert server.ports[0] == server.ports[1]  # kept alive: the pool holds the connection
    assert aws.drop_connections() >= 1
    sqs.list_queues()  # the same client, usable, on a connection of its own
    assert server.ports[2] != server.ports[1]


def test_after_a_restore_the_wechat_pay_transport_opens_a_new_connection(server):
    http = Http()
    for _ in range(2):
        assert http.request("GET", server.url + "/v3/certificates").status_code == 200
    assert server.ports[0] == server.ports[1]
    wiring.drop_connections()
    http.request("GET", server.url + "/v3/certificates")
    assert server.ports[2] != server.ports[1]


def test_priming_an_aws_operation_sends_nothing(server):
    sqs = aws.client("sqs", region_name="us-east-1", endpoint_url=server.url)
    aws.prime(sqs, {"SendMessage": {"QueueUrl": server.url + "/q", "MessageBody": "{}"}})
    assert server.ports == []
    sqs.send_message(QueueUrl=server.url + "/q", MessageBody="{}")  # outside priming: sent
    assert len(server.ports) == 1


def test_each_restored_container_draws_its_own_random_numbers():
    random.seed(1234)  # the state every container restored from one snapshot starts with
    snapshot = random.getstate()
    replayed = [random.random() for _ in range(3)]
    random.setstate(snapshot)
    assert [random.random() for _ in range(3)] == replayed  # without the hook: the same draws
    draws = []
    for _container in range(2):
        random.setstate(snapshot)
        with mock.patch.object(wiring, "reread_settings", return_value=False):
            snapstart.restore()
        draws.append([random.random() for _ in range(3)])
    assert draws[0] != replayed and draws[1] != replayed and draws[0] != draws[1]


def test_a_secret_unchanged_since_the_snapshot_keeps_the_primed_services(monkeypatch, fresh_wiring):
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setenv("SHOP_SECRET_ID", "wechat-shop/test")
    secret = {"TOKEN_SECRET": "before", "ADMIN_API_KEY": "k"}
    with mock.patch.object(parameters, "get_secret", side_effect=lambda *a, **k: dict(secret)) as get:
        built = wiring.token_versions(), wiring.settings()
        assert not wiring.reread_settings()
        assert get.call_args.kwargs.get("force_fetch") is True  # Secrets Manager itself, not the cache
        assert (wiring.token_versions(), wiring.settings()) == built
        assert wiring.token_versions() is built[0]


def test_a_secret_rotated_since_the_snapshot_rebuilds_every_service(monkeypatch, fresh_wiring):
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setenv("SHOP_SECRET_ID", "wechat-shop/test")
    secret = {"TOKEN_SECRET": "before", "ADMIN_API_KEY": "k"}
    with mock.patch.object(parameters, "get_secret", side_effect=lambda *a, **k: dict(secret)):
        versions = wiring.token_versions()
        assert settings().token_secret == "before"
        secret["TOKEN_SECRET"] = "rotated"
        assert wiring.reread_settings()
        assert settings().token_secret == "rotated" and wiring.settings().token_secret == "rotated"
        assert wiring.token_versions() is not versions


def test_the_secrets_client_connections_are_closed_before_the_secret_is_read_again(monkeypatch, fresh_wiring):
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setenv("SHOP_SECRET_ID", "wechat-shop/test")
    calls = []
    provider = types.SimpleNamespace(client=types.SimpleNamespace(close=lambda: calls.append("close")))
    monkeypatch.setitem(base.DEFAULT_PROVIDERS, "secrets", provider)
    with mock.patch.object(parameters, "get_secret", side_effect=lambda *a, **k: calls.append("get") or {}):
        settings()
        wiring.reread_settings()
    assert calls == ["get", "close", "get"]


def test_a_secret_that_cannot_be_read_at_restore_is_read_by_the_first_request(fresh_wiring):
    built = wiring.token_versions()
    before = settings()
    with mock.patch("layers.config.reread_settings", side_effect=TimeoutError("secrets manager")):
        snapstart.restore()
    assert wiring.token_versions() is not built
    assert settings() is not before  # read again, on first use


def test_a_client_made_elsewhere_is_not_primed_since_its_calls_would_be_sent(server):
    import botocore.session

    elsewhere = botocore.session.get_session().create_client("sqs", region_name="us-east-1", endpoint_url=server.url)
    with pytest.raises(ValueError):
        aws.prime(elsewhere, {"SendMessage": {"QueueUrl": server.url + "/q", "MessageBody": "{}"}})
    assert server.ports == []


def test_priming_the_listing_sends_nothing_and_loads_no_listing(server, monkeypatch, fresh_wiring):
    """The S3 client and its GetObject are ready before the snapshot, but the listing is
    read by each restored container: one loaded at snapshot time would be stale in all."""
    monkeypatch.setenv("S3_ENDPOINT", server.url)
    monkeypatch.setenv("CODE_BUCKET", "code-bucket")
    reset_settings_cache()
    wiring.prime_listing_path()
    store = wiring.listing().snapshots
    assert store.bucket == "code-bucket" and store._client is not None  # made, and primed
    assert server.ports == []
    assert wiring.listing()._loaded is None
