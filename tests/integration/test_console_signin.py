"""Console sign-in on DynamoDB Local: attempts are counted before any password is checked,
so guesses sent at once are all counted and at most the limit is checked against the
hash; a lockout is per (name, address) and an owner lifts it; names of any script sign in
through the form with a cookie of ASCII only."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from layers.domain import errors
from layers.domain import operators as rules


@pytest.fixture
def service(shop):
    from functions import wiring

    return wiring.operators()


def _operator(service, name: str | None = None) -> str:
    from layers.services.operators import Session

    name = name or "op" + uuid.uuid4().hex[:8]
    service.create(Session("owner", "owner"), name, "correct horse 21", "operator")
    return name


def test_forty_wrong_passwords_at_once_are_forty_counted_and_at_most_the_limit_checked(service, monkeypatch):
    name, address = _operator(service), "10.40." + uuid.uuid4().hex[:4]
    checked = []
    real_verify = rules.verify_password
    monkeypatch.setattr(rules, "verify_password", lambda pw, stored: checked.append(1) or real_verify(pw, stored))

    def attempt(_):
        try:
            service.sign_in(name, "a wrong guess", address)
        except errors.DomainError as exc:
            return exc.kind
        return "signed-in"

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes.count("unauthorized") == rules.SIGN_IN_LIMIT
    assert outcomes.count("rate_limited") == 40 - rules.SIGN_IN_LIMIT
    assert len(checked) == rules.SIGN_IN_LIMIT  # the hash was computed for the counted few only
    window = int(service.clock.now().timestamp()) // rules.SIGN_IN_WINDOW_S
    assert service.operators.count_sign_in(name, address, window, 2_000_000_000).pair == 41  # all counted
    with pytest.raises(errors.RateLimited):
        service.sign_in(name, "correct horse 21", address)  # locked at this address ...
    assert service.sign_in(name, "correct horse 21", "10.41.0.1").name == name  # ... not elsewhere


def test_an_owner_lifts_a_lockout_through_the_admin_api(service, client, admin_headers):
    name, address = _operator(service), "10.42." + uuid.uuid4().hex[:4]
    for _ in range(rules.SIGN_IN_LIMIT + 1):
        with pytest.raises((errors.Unauthorized, errors.RateLimited)):
            service.sign_in(name, "guess", address)
    with pytest.raises(errors.RateLimited):
        service.sign_in(name, "correct horse 21", address)
    answer = client.http.post(f"/admin/operators/{name}/unlock", headers=admin_headers)
    assert answer.status_code == 200 and answer.json_body["cleared"] >= 2
    assert service.sign_in(name, "correct horse 21", address).name == name
    lines = [e for e in service.audit_log() if e["target"] == name]
    assert [(e["operator"], e["action"]) for e in lines] == [("owner", "operator.unlock")]
    assert client.http.post(f"/admin/operators/{name}/unlock").status_code == 401


def test_a_name_of_any_script_signs_in_through_the_form_with_an_ascii_cookie(service, client):
    name = _operator(service, "店员" + uuid.uuid4().hex[:4])
    page = client.http.get("/console/login", headers={"Host": "127.0.0.1"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.body.decode()).group(1)
    form = f"csrf={csrf}&name={quote(name)}&password={quote('correct horse 21')}&next=%2Fconsole%2Fsettings%0D%0AX%3A1"
    answer = client.http.post("/console/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Host": "127.0.0.1",
        "Cookie": f"console_login_csrf={csrf}"})
    assert answer.status_code == 303, answer.body
    assert answer.headers["Location"] == "/console/orders"  # a `next` with CR/LF is not followed
    cookie = answer.headers["Set-Cookie"]
    assert cookie.isascii()
    value = cookie.split(";")[0]
    orders = client.http.get("/console/orders", headers={"Cookie": value, "Host": "127.0.0.1"})
    assert orders.status_code == 200 and name in orders.body.decode()
