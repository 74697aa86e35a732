"""Every page of the console answers a signed-in owner without a 5xx, for ids
that exist and ids that do not, with and without the htmx header ("more" rows), and
with query values a hand could type wrong. A crawl over the app's own route table, so a
new page is covered the day it is added."""

from __future__ import annotations

import re

import pytest

from tests.helpers import create_product


@pytest.fixture
def owner_cookie(client):
    import os

    from functions import wiring

    service = wiring.operators()
    return f"console_session={service.issue_session(service.sign_in('owner', os.environ['ADMIN_API_KEY']))}"


def _console_get_paths() -> list[str]:
    import app

    return sorted(p for p, methods in app.app.routes.items() if p.startswith("/console") and "GET" in methods)


def test_every_console_page_answers_without_a_5xx(client, admin_headers, owner_cookie):
    product = create_product(client, admin_headers)
    real = {"product_id": product["id"], "book": "balance", "name": "console.css"}
    headers = {"Cookie": owner_cookie, "Host": "127.0.0.1"}
    odd_queries = ["", "?cursor=bm90LWEtY3Vyc29y", "?status=NOPE", "?from=2026-13-40&to=x", "?day=yesterday",
                   "?limit=0", "?user_id=%E2%80%AE", "?phone=12", "?status=PAID&from=2026-11-01&to=2026-11-29"]
    signed_in = client.http.get("/console/settings", headers=headers)  # owner only: proves the session
    assert signed_in.status_code == 200 and "order_payment_timeout_s" in signed_in.body.decode()
    seen = 0
    for template in _console_get_paths():
        for ids in (real, {}):
            path = re.sub(r"\{(\w+)\}", lambda m, ids=ids: ids.get(m.group(1), "nope_" + m.group(1)), template)
            for query in odd_queries:
                for extra in ({}, {"HX-Request": "true"}):
                    r = client.http.get(path + query, headers={**headers, **extra})
                    seen += 1
                    assert r.status_code < 500, f"GET {path}{query} {extra}: {r.status_code} {r.body[:300]!r}"
    assert seen >= 400


def test_every_console_form_posted_empty_or_wrong_is_a_4xx_never_a_5xx(client, admin_headers, owner_cookie):
    import app
    from functions import wiring

    product = create_product(client, admin_headers)
    token = wiring.operators().csrf_token(owner_cookie.split("=", 1)[1])
    headers = {"Cookie": owner_cookie, "Host": "127.0.0.1", "Content-Type": "application/x-www-form-urlencoded"}
    forms = [f"csrf={token}", f"csrf={token}&amount=-1&delta=abc&price=1.234&stock=-5&book=nope&type=NOPE",
             f"csrf={token}&title=%00&skus=1%201%20bad&starts_at=2026-02-30T10:00&ends_at=x&name=" + "x" * 300]
    posts = sorted(p for p, methods in app.app.routes.items()
                   if p.startswith("/console") and "POST" in methods and p not in ("/console/login", "/console/logout"))
    assert len(posts) >= 20
    for template in posts:
        for ids in ({"product_id": product["id"]}, {}):
            path = re.sub(r"\{(\w+)\}", lambda m, ids=ids: ids.get(m.group(1), "nope_" + m.group(1)), template)
            for form in forms:
                r = client.http.post(path, headers=headers, body=form.encode())
                assert r.status_code < 500, f"POST {path} {form[:60]}: {r.status_code} {r.body[:300]!r}"
                assert r.status_code != 401, f"POST {path}: the session ended mid-crawl"


def test_the_bargain_and_assistance_pages_stop_a_campaign_and_show_it(client, admin_headers, owner_cookie):
    """The console's stop buttons post to the same services as the admin API: the page
    shows 已停止 without the button and a new instance is refused (INVALID_STATE)."""
    from functions import wiring
    from tests.integration.test_campaigns import new_assist_campaign, new_bargain

    token = wiring.operators().csrf_token(owner_cookie.split("=", 1)[1])
    headers = {"Cookie": owner_cookie, "Host": "127.0.0.1"}
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    for page, campaign, start in (
            ("/console/bargains", new_bargain(client, admin_headers), wiring.bargains().start),
            ("/console/assist-campaigns", new_assist_campaign(client, admin_headers), wiring.assistance().start)):
        before = client.http.get(page, headers=headers).body.decode()
        assert f'action="{page}/{campaign["id"]}/stop"' in before
        r = client.http.post(f"{page}/{campaign['id']}/stop", headers=form, body=f"csrf={token}".encode())
        assert r.status_code == 303, r.body
        after = client.http.get(page, headers=headers).body.decode()
        row = after[after.index(f'"{campaign["id"]}"'):]
        row = row[:row.index("</tr>")]
        assert "已停止" in row and "/stop" not in row
        from layers.domain import errors

        with pytest.raises(errors.InvalidState):
            start("u_console_test", campaign["id"])
