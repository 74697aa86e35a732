"""`make smoke` cannot rot: local/smoke.py runs against the local stack started as `make dev`
starts it (local/dev.py in a subprocess, free ports, the demo shop seeded) and passes; and
it fails against a stage where one thing is broken (a proxy in front of the same stack
that answers 200 to an unsigned payment notification, or serves a product list whose
shape is not the document's)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.services import free_port, wait_for_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """`make dev`'s stack on free ports; its API's URL."""
    tmp = tmp_path_factory.mktemp("dev")
    port, ddb_port, sqs_port, box_port = (free_port() for _ in range(4))
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.dev", "--port", str(port), "--fresh", "--env-file", str(tmp / ".env.local"),
         "--dynamodb-port", str(ddb_port), "--sqs-port", str(sqs_port), "--sandbox-port", str(box_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:  # after the demo shop is seeded
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for_port(port, timeout=120)
        assert ready.wait(120), "".join(output)[-3000:]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def smoke(base_url: str) -> subprocess.CompletedProcess:
    """As `make smoke BASE_URL=...` runs it."""
    return subprocess.run([sys.executable, "-m", "local.smoke", base_url], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def test_the_smoke_passes_against_the_local_stack(stage):
    proc = smoke(stage)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "smoke: 8 passed, 0 failed"
    assert not [line for line in lines if line.lstrip().startswith("FAIL")]
    # The demo shop has products: the detail route was checked against its schema too.
    assert any("as documented" in line and "product" in line for line in lines), proc.stdout


class BrokenStage:
    """A proxy in front of the stack that breaks one answer."""

    def __init__(self, upstream: str, breaks) -> None:
        self.upstream = upstream
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                broken = breaks(self.command, self.path)
                if broken is not None:
                    status, payload = broken
                    self._answer(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                                 headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as r:
                        self._answer(r.status, dict(r.headers.items()), r.read())
                except urllib.error.HTTPError as e:
                    self._answer(e.code, dict(e.headers.items()), e.read())

            def _answer(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_smoke_fails_when_a_notify_route_accepts_an_unsigned_body(stage):
    def accept_unsigned(method, path):
        return (200, {"code": "SUCCESS", "message": "ok"}) if (method, path) == ("POST", "/wechatpay/notify") else None

    started = time.monotonic()
    with BrokenStage(stage, accept_unsigned) as url:
        proc = smoke(url)
    assert proc.returncode == 1, proc.stdout
    [failed] = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("FAIL")]
    assert "notify routes refuse an unsigned body" in failed and "POST /wechatpay/notify unsigned: 200" in failed
    assert proc.stdout.splitlines()[-1] == "smoke: 7 passed, 1 failed"
    assert time.monotonic() - started < 120


def test_the_smoke_fails_when_a_documented_route_answers_another_shape(stage):
    def prices_as_text(method, path):
        if (method, path) == ("GET", "/products"):
            return 200, {"items": [{"id": "p1", "name": "x", "price": "9.90"}], "next_cursor": None}
        return None

    with BrokenStage(stage, prices_as_text) as url:
        proc = smoke(url)
    assert proc.returncode == 1, proc.stdout
    [failed] = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("FAIL")]
    assert "product list and detail" in failed and "GET /products 200" in failed, failed
