"""The console under hypothesis, as schemathesis does the JSON API: every console route
of the app's route table, with path ids, query values and form fields drawn from what a
hand (or a script) can send: superscript and non-ASCII digits, `Infinity`, `1e999999`,
CR/LF, very long text, malformed ids. Never a 5xx; the owner's session survives."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

CONSOLE = Path(__file__).resolve().parents[2] / "functions" / "console"
ODD = ["", " ", "²", "¹²³", "١٢", "１２", "1_000", "Infinity", "-Infinity", "NaN", "sNaN", "1e999999", "-1e-999999",
       "0x10", "-0", "99999999999999999999999", "12.345", "-5", "0", "1", "abc", "\r\nX-Injected: 1", "%0d%0a",
       "/console//evil.example", "/console/orders\r\nSet-Cookie: x=1", "\\\\evil", "张三", "\u202e", "\x00", "<b>",
       "2026-02-30T10:00", "2026-11-29", "x" * 400, "balance", "points", "PAID", "REQUESTED", "owner", "tier", "1%",
       "5%", "105%", "金 5% 1 1"]
# The sweep's values: one of each kind that has broken a parser (each sweep value costs
# ~120 requests, ~3 s); the hypothesis test below draws from all of ODD.
SWEEP = ["", "²", "١٢", "Infinity", "1e999999", "sNaN", "\r\nX-Injected: 1", "张三", "x" * 400, "-5"]
IDS = ["nope", "a\r\nb", "张三", "x" * 300, "..", "²", "owner", "p_" + "0" * 20, " ", "%2F"]


def _fields() -> list[str]:
    names = set()
    for template in (CONSOLE / "templates").glob("*.html"):
        names |= set(re.findall(r'name="([a-z_]+)"', template.read_text(encoding="utf-8")))
    return sorted(names - {"csrf"})


def _queries() -> list[str]:
    names = {"limit", "cursor", "next"}
    for module in CONSOLE.glob("*.py"):
        names |= set(re.findall(r'_query\("(\w+)"\)', module.read_text(encoding="utf-8")))
    return sorted(names)


def _routes(method: str) -> list[str]:
    import app

    return sorted(p for p, methods in app.app.routes.items()
                  if p.startswith("/console") and method in methods and p != "/console/logout")


@pytest.fixture
def owner_cookie(client):
    import os

    from functions import wiring

    service = wiring.operators()
    return service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"], "127.0.0.1"))


@pytest.fixture
def shop_rules_kept():
    from functions import wiring

    before = wiring.shop_settings().get()
    yield
    wiring.shop_settings().update(before)


def _path(template: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(ids.get(m.group(1), "nope"), safe=""), template)


values = st.one_of(st.sampled_from(ODD), st.sampled_from(ODD), st.text(max_size=40), st.integers().map(str),
                   st.decimals(allow_nan=True, allow_infinity=True).map(str))


def _check(answer, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.body[:300]!r}"
    for name, value in answer.headers.items():
        assert value.isascii() and "\r" not in value and "\n" not in value, (what, name, value)


def test_every_console_route_with_each_odd_value_in_every_field_never_answers_a_5xx(
        client, owner_cookie, shop_rules_kept):
    """The sweep: each odd value in every query parameter and form field at once, on every
    route (a view's own fields are among them), with an odd id and a plain one."""
    from functions import wiring

    csrf = wiring.operators().csrf_token(owner_cookie)
    base = {"Cookie": f"console_session={owner_cookie}", "Host": "127.0.0.1"}
    form_headers = {**base, "Content-Type": "application/x-www-form-urlencoded"}
    fields, queries = _fields(), _queries()
    for value in SWEEP:
        for template in _routes("GET"):
            path = _path(template, {})
            _check(client.http.get(path + "?" + urlencode({q: value for q in queries}), headers=base),
                   f"GET {path} {value!r}")
        for template in _routes("POST"):
            for ids in ({}, {name: value or "x" for name in re.findall(r"\{(\w+)\}", template)}):
                path = _path(template, ids)
                body = urlencode({"csrf": csrf, **{f: value for f in fields}}).encode()
                _check(client.http.post(path, body=body, headers=form_headers), f"POST {path} {value!r}")
    assert client.http.get("/console/settings", headers=base).status_code == 200  # still signed in


def test_console_pages_and_forms_never_answer_a_5xx(client, owner_cookie, shop_rules_kept):
    from functions import wiring

    gets, posts = _routes("GET"), _routes("POST")
    fields, queries = _fields(), _queries()
    assert len(gets) >= 20 and len(posts) >= 20 and len(fields) >= 20
    csrf = wiring.operators().csrf_token(owner_cookie)
    base = {"Cookie": f"console_session={owner_cookie}", "Host": "127.0.0.1"}

    @settings(max_examples=250, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(method=st.sampled_from(["GET", "POST"]), data=st.data())
    def one_request(method, data):
        template = data.draw(st.sampled_from(gets if method == "GET" else posts), label="route")
        ids = {name: data.draw(st.sampled_from(IDS) | st.text(min_size=1, max_size=20), label=name)
               for name in re.findall(r"\{(\w+)\}", template)}
        path = _path(template, ids)
        extra = data.draw(st.sampled_from([{}, {"HX-Request": "true"}]), label="htmx")
        if method == "GET":
            query = data.draw(st.fixed_dictionaries({}, optional={q: values for q in queries}), label="query")
            answer = client.http.get(path + ("?" + urlencode(query) if query else ""), headers={**base, **extra})
        else:
            # every field the console's forms have, each present or not: a route's own fields are
            # often all there, with odd values, and the others are ignored or refused
            form = data.draw(st.fixed_dictionaries({}, optional={f: values for f in fields}), label="form")
            body = urlencode({"csrf": csrf, **form}).encode()
            answer = client.http.post(path, body=body, headers={
                **base, **extra, "Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(answer.status_code)
        assert answer.status_code < 500, f"{method} {path}: {answer.status_code} {answer.body[:300]!r}"
        for name, value in answer.headers.items():
            assert value.isascii() and "\r" not in value and "\n" not in value, (name, value)

    statuses = []
    one_request()
    assert statuses.count(403) < len(statuses) / 2  # the forms pass their CSRF check: the views ran
    still = client.http.get("/console/settings", headers=base)
    assert still.status_code == 200  # the crawl did not sign the owner out
