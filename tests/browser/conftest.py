"""The merchant console in a real browser (issue 21): Debian's Chromium driven by
Playwright, against the app served over HTTP by Chalice's local server (as `make dev`
serves it) on DynamoDB Local, moto's SQS and the WeChat sandbox.

Playwright's own browser download cannot reach this network: `make test` installs
Debian's `chromium` (the Makefile's `chromium` step) and the tests launch it by path.
They are skipped only where /usr/bin/chromium is absent (a machine `make test` did not
prepare), and say so.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def console_url(app):
    """The whole app on a real local HTTP port."""
    from chalice.config import Config
    from chalice.local import create_local_server

    from local.services import free_port, wait_for_port

    port = free_port()
    server = create_local_server(app, Config.create(chalice_stage="test", app_name="wechat-shop"),
                                 "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, name="console-http", daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def wait_until(check, timeout_s: float = 15.0) -> None:
    """Poll `check()` (Playwright's `wait_for_function` evaluates a string, which the
    console's Content-Security-Policy refuses, as it should)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
