"""The merchant console in a real browser: Debian's Chromium driven by
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
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"  # git-ignored (build/)
# A manager's laptop and phone: every browser test runs at both widths.
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
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


@pytest.fixture(params=list(VIEWPORTS))
def browser_page(chromium, request):
    """A page at one of VIEWPORTS (`page.width_name`). A money action's confirmation
    (`window.confirm`) is accepted, as the operator would, and kept in `page.dialogs`."""
    phone = request.param == "phone"
    context = chromium.new_context(locale="zh-CN", viewport=VIEWPORTS[request.param], is_mobile=phone,
                                   has_touch=phone, device_scale_factor=2 if phone else 1)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.width_name = request.param
    page.dialogs = []

    def answer(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.dialog_answer = answer
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


def shopper_with_phone(client, admin_headers, name: str = "李四") -> tuple[dict, str]:
    """A shopper who placed an (unpaid) order with a phone of their own: the console finds
    shoppers by the phone or the number of their orders, never by a typed user id."""
    import random

    from tests.helpers import ADDRESS, create_product, login, order_payload, post

    shopper = login(client)
    phone = "139" + "".join(random.choice("0123456789") for _ in range(8))
    sku_id = create_product(client, admin_headers, price=100, stock=5)["skus"][0]["id"]
    r = post(client, "/orders", order_payload(sku_id, address={**ADDRESS, "name": name, "phone": phone}), shopper)
    assert r.status_code == 201, r.body
    return shopper, phone


def pick_shopper(page, form: str, field: str, query: str, user_id: str) -> None:
    """Type a phone or an order number into a form's shopper picker and choose the shopper."""
    page.fill(f"{form} input[name={field}_q]", query)
    # the answer to this query (data-q), not an earlier one still being replaced
    from functions.console.pickers import query_tag

    option = f"{form} select[name={field}][data-q='{query_tag(query)}'] option[value='{user_id}']"
    page.wait_for_selector(option, state="attached")
    page.select_option(f"{form} select[name={field}]", user_id)


def pick_sku(page, form: str, title: str, sku_id: str) -> None:
    """Type part of a product's title into a form's product picker and choose the SKU."""
    page.fill(f"{form} input[name=sku_q]", title)
    # the answer to this search (data-q), not the first list that the page loaded
    page.wait_for_selector(f"{form} select[name=sku_id][data-q='{title}'] option[value='{sku_id}']", state="attached")
    page.select_option(f"{form} select[name=sku_id]", sku_id)
