"""Bad input gets a 4xx in the contract's envelope, never a 5xx: what schemathesis
(tests/integration/test_schemathesis.py) does not send, on every documented route, as a
shopper, as an operator and with no credentials: bodies that are not JSON or not UTF-8,
JSON nested past any sane depth, JSON of the wrong type, and credentials with characters
no header value of ours carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import login

pytestmark = pytest.mark.integration

DOC = json.loads((Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text())
OPERATIONS = [(path, method) for path, ops in DOC["paths"].items() for method in ops]
BODIES = [b"not json", b"\xff\xfe\x00{", b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
          b"[1, 2]", b'"text"', b"null", b"1e999999", b'{"quantity": 1e400}']
CREDENTIALS = ["Bearer tøken", "Bearer 令牌.令牌", "Bearer " + "a" * 5000, "Basic abc", "Bearer ", "Bearer a.b.c.d.e"]


@pytest.fixture
def callers(client, admin_headers):
    shopper = login(client)
    return {"none": {}, "shopper": {"Authorization": shopper["Authorization"]},
            "admin": {"Authorization": admin_headers["Authorization"]}}


def _url(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # a well-shaped id that names nothing


def _check(r, where) -> None:
    assert r.status_code < 500, (where, r.status_code, r.body[:300])
    if r.status_code >= 400:
        answer = json.loads(r.body)
        assert "code" in answer if where[1].startswith("/wechatpay/") else "error" in answer, (where, r.body[:300])


@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_never_a_5xx(client, callers, path, method):
    url = _url(path)
    for who, auth in callers.items():
        if method in ("post", "put"):
            for raw in BODIES:
                r = getattr(client.http, method)(url, body=raw, headers={"Content-Type": "application/json", **auth})
                _check(r, (method, path, who, raw[:40]))
        else:
            _check(getattr(client.http, method)(url, headers=auth), (method, path, who))
    for credential in CREDENTIALS:
        r = getattr(client.http, method)(url, headers={"Authorization": credential, "Content-Type": "application/json"},
                                         **({"body": b"{}"} if method in ("post", "put") else {}))
        _check(r, (method, path, credential[:20]))
