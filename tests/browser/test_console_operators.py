"""Operators in the console: the owner adds one on the page; a wrong password
is refused on the sign-in page; signing out ends the session."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.test_console import owner_signs_in, sign_in

pytestmark = pytest.mark.integration


def test_the_owner_adds_an_operator_who_signs_in_with_their_own_password(browser_page, chromium, console_url,
                                                                          shop):
    page = browser_page
    name = "op" + uuid.uuid4().hex[:8]
    owner_signs_in(page, console_url, "/console/operators")
    form = page.locator("#operator-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=password]").fill("a long pass 21")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/operators")
    assert "操作员" in page.locator("#operators tr", has_text=name).inner_text()

    other = chromium.new_context(locale="zh-CN").new_page()
    try:
        other.goto(f"{console_url}/console/login")
        other.fill("input[name=name]", name)
        other.fill("input[name=password]", "a wrong pass")
        with other.expect_response(f"{console_url}/console/login") as answer:
            other.click("button[type=submit]")
        assert answer.value.status == 401
        assert other.inner_text("#login-error") == "用户名或密码错误"
        assert not [c for c in other.context.cookies() if c["name"] == "console_session"]
        sign_in(other, console_url, name, "a long pass 21")
        assert f"{name}(操作员)" in other.inner_text("header.top .me")
        other.click("header.top form button")  # sign out
        other.wait_for_url(f"{console_url}/console/login")
        other.goto(f"{console_url}/console/orders")
        assert "/console/login" in other.url
    finally:
        other.context.close()
