"""推广链接 in Chromium, at a laptop's width and a phone's: a link of each kind made through
the form for one channel, each opening its page with the channel (the sandbox resolves the
URL Link and Scheme); the link copied to the clipboard; the code's image downloaded; a
Chinese channel refused beside the form with nothing made; the page as wide as the screen."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console import owner_signs_in

pytestmark = pytest.mark.integration


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1


def make(page, kind: str, channel: str, query: str = "", days: str | None = None):
    form = page.locator("#link-form")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("input[name=path]").fill("pages/product/index")
    form.locator("input[name=query]").fill(query)
    form.locator("input[name=channel]").fill(channel)
    if days is not None:
        form.locator("input[name=days]").fill(days)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def test_a_link_of_each_kind_is_made_copied_and_downloaded(browser_page, console_url, shop):
    page = browser_page
    box = shop["sandbox"]
    channel = "b" + uuid.uuid4().hex[:8]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    owner_signs_in(page, console_url, "/console/links")
    assert page.locator("nav.side a[href='/console/links']").count() == 1

    make(page, "url_link", channel, "id=p1", "7")
    assert page.locator("#flash").inner_text() == "推广链接已生成"
    make(page, "url_scheme", channel)
    make(page, "qrcode", channel, "id=p1")
    page.goto(f"{console_url}/console/links?channel={channel}")
    rows = page.locator("#links tbody tr")
    assert rows.count() == 3
    kinds = {rows.nth(i).get_attribute("data-kind"): rows.nth(i) for i in range(3)}
    assert set(kinds) == {"url_link", "url_scheme", "qrcode"}
    assert "URL Link" in kinds["url_link"].locator(".kind").inner_text()
    assert kinds["qrcode"].locator(".expires").inner_text() == "长期有效"
    assert "-" in kinds["url_link"].locator(".expires").inner_text()  # a Beijing date, not ISO

    url = kinds["url_link"].locator("code.url").inner_text()
    opened = box.mp.resolve(url)
    assert opened["path"] == "pages/product/index" and opened["query"] == f"id=p1&channel={channel}"
    scheme = kinds["url_scheme"].locator("code.url").inner_text()
    assert box.mp.resolve(scheme)["query"] == f"channel={channel}"

    kinds["url_link"].locator("button.copy").click()
    page.wait_for_selector("#links .copy-status")
    assert "复制" in page.locator("#links .copy-status").first.inner_text()
    if page.evaluate("() => window.isSecureContext && !!navigator.clipboard"):
        assert page.evaluate("() => navigator.clipboard.readText()") == url
    else:  # plain HTTP off loopback: the text is selected in a box
        assert page.locator("#links .copy-box").first.input_value() == url

    with page.expect_download() as downloading:
        kinds["qrcode"].locator("a.download").click()
    download = downloading.value
    assert download.suggested_filename.startswith(channel) and download.suggested_filename.endswith(".png")
    assert open(download.path(), "rb").read().startswith(b"\x89PNG")

    assert fits(page), "wider than the screen"
    folder = SCREENSHOTS / page.width_name
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "links-made.png"), full_page=True)


def test_a_chinese_channel_is_refused_beside_the_form_and_nothing_is_made(browser_page, console_url, shop):
    page = browser_page
    owner_signs_in(page, console_url, "/console/links")
    before = page.locator("#links tbody tr[data-link]").count()
    form = page.locator("#link-form")
    form.locator("input[name=channel]").evaluate("el => el.removeAttribute('pattern')")  # as an old browser would
    make(page, "url_link", "朋友圈")
    assert "渠道标签" in page.locator("#link-error").inner_text()
    assert page.locator("#link-form input[name=channel]").input_value() == "朋友圈"  # what was typed stays
    assert page.locator("#link-form input[name=channel]").get_attribute("aria-invalid") == "true"
    assert page.locator("#links tbody tr[data-link]").count() == before
    assert fits(page)
