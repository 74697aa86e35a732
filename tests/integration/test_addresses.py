"""The address book through the HTTP API, on DynamoDB Local: CRUD and the default's rules,
another shopper's address is 404, the 21st is 409, bad bodies are 4xx and change nothing,
writes count in the shopper's `addresses` window."""

from __future__ import annotations

import json
import os

import pytest

from layers.domain import rate_limit
from tests.helpers import ADDRESS, body, login, post, put

pytestmark = pytest.mark.integration

WORK = {"name": "李四", "phone": "13911112222", "province": "北京", "city": "北京", "district": "海淀区",
        "detail": "中关村大街 27 号"}
FIELDS = ("id", "name", "phone", "province", "city", "district", "detail", "is_default", "created_at",
          "updated_at")


def listed(client, shopper) -> list[dict]:
    r = client.http.get("/me/addresses", headers=shopper)
    assert r.status_code == 200, r.body
    page = body(r)
    assert set(page) == {"items", "next_cursor"} and page["next_cursor"] is None
    return page["items"]


def delete(client, path, headers):
    return client.http.delete(path, headers=headers)


@pytest.fixture
def roomy_limit(monkeypatch):
    """More writes a minute than one test makes: the limit has its own test below."""
    monkeypatch.setattr(rate_limit, "SHOPPER_WRITE_LIMIT", 1000)


def test_save_list_edit_and_remove_with_one_default(client, roomy_limit):
    shopper = login(client)
    assert listed(client, shopper) == []

    r = post(client, "/me/addresses", {**ADDRESS, "is_default": False}, shopper)
    assert r.status_code == 201, r.body
    home = body(r)
    assert tuple(home) == FIELDS
    assert {k: home[k] for k in ADDRESS} == ADDRESS and home["is_default"] is True  # the first is the default

    work = body(post(client, "/me/addresses", WORK, shopper))
    assert work["is_default"] is False
    assert [a["id"] for a in listed(client, shopper)] == [home["id"], work["id"]]

    r = put(client, f"/me/addresses/{work['id']}", {**WORK, "detail": "中关村大街 28 号", "is_default": True},
            shopper)
    assert r.status_code == 200, r.body
    assert body(r)["detail"] == "中关村大街 28 号" and body(r)["is_default"] is True
    items = listed(client, shopper)
    assert [(a["id"], a["is_default"]) for a in items] == [(work["id"], True), (home["id"], False)]
    assert items[1] == {**home, "is_default": False}  # the old default: only its flag moved

    r = delete(client, f"/me/addresses/{work['id']}", shopper)
    assert r.status_code == 204
    assert listed(client, shopper) == [{**home, "is_default": True}]  # the default moved back
    assert delete(client, f"/me/addresses/{work['id']}", shopper).status_code == 404


def test_another_shoppers_address_is_not_found_and_stays_as_it_is(client, roomy_limit):
    owner, other = login(client), login(client)
    mine = body(post(client, "/me/addresses", ADDRESS, owner))
    assert listed(client, other) == []
    for r in (put(client, f"/me/addresses/{mine['id']}", WORK, other),
              delete(client, f"/me/addresses/{mine['id']}", other)):
        assert r.status_code == 404 and body(r)["error"]["code"] == "NOT_FOUND", r.body
    assert listed(client, owner) == [mine]
    assert listed(client, other) == []
    assert client.http.get("/me/addresses").status_code == 401


def test_the_21st_address_is_409_and_changes_nothing(client, roomy_limit):
    shopper = login(client)
    for n in range(20):
        assert post(client, "/me/addresses", {**ADDRESS, "detail": f"{n} 号"}, shopper).status_code == 201
    r = post(client, "/me/addresses", {**WORK, "is_default": True}, shopper)
    assert r.status_code == 409 and body(r)["error"]["code"] == "LIMIT_EXCEEDED", r.body
    items = listed(client, shopper)
    assert len(items) == 20 and [a["is_default"] for a in items].count(True) == 1
    assert items[0]["detail"] == "0 号"  # the first is still the default
    small = client.http.get("/me/addresses?limit=15", headers=shopper)
    page = body(small)
    assert len(page["items"]) == 15 and page["next_cursor"]
    rest = body(client.http.get(f"/me/addresses?limit=15&cursor={page['next_cursor']}", headers=shopper))
    assert [a["id"] for a in page["items"] + rest["items"]] == [a["id"] for a in items]
    assert rest["next_cursor"] is None


BAD_BODIES = [
    {k: v for k, v in ADDRESS.items() if k != "name"},        # name missing
    {**ADDRESS, "phone": "123"},                                # too short
    {**ADDRESS, "detail": ""},
    {**ADDRESS, "detail": "号" * 201},
    {**ADDRESS, "province": "省" * 51},
    {**ADDRESS, "is_default": "true"},                          # a string is not a boolean
    {**ADDRESS, "is_default": 1},
    {**ADDRESS, "name": 12345},
    {**ADDRESS, "zip": "200040"},                               # a field we do not know
    [ADDRESS],
    "not an object",
]


@pytest.mark.parametrize("bad", BAD_BODIES)
def test_a_bad_body_is_400_in_the_envelope_and_changes_nothing(client, roomy_limit, bad):
    shopper = login(client)
    saved = body(post(client, "/me/addresses", ADDRESS, shopper))
    for r in (post(client, "/me/addresses", bad, shopper), put(client, f"/me/addresses/{saved['id']}", bad, shopper)):
        assert r.status_code == 400, r.body
        assert body(r)["error"]["code"] == "INVALID_REQUEST" and body(r)["error"]["message"]
    assert listed(client, shopper) == [saved]


def test_a_body_that_is_not_json_and_a_malformed_id_are_400(client, roomy_limit):
    shopper = login(client)
    r = client.http.post("/me/addresses", body="{name:", headers={**shopper, "Content-Type": "application/json"})
    assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST"
    r = client.http.put("/me/addresses/a%20b", body=json.dumps(ADDRESS),
                        headers={**shopper, "Content-Type": "application/json"})
    assert r.status_code in (400, 404)
    assert client.http.get("/me/addresses?cursor=forged", headers=shopper).status_code == 400
    assert listed(client, shopper) == []


def test_address_writes_count_in_the_shoppers_window(client, monkeypatch):
    monkeypatch.setattr(rate_limit, "SHOPPER_WRITE_LIMIT", 2)
    shopper = login(client)
    codes = [post(client, "/me/addresses", ADDRESS, shopper).status_code for _ in range(3)]
    # A window boundary may fall inside the burst: then all three land.
    assert codes in ([201, 201, 429], [201, 201, 201]), codes
    if codes[-1] == 429:
        refused = post(client, "/me/addresses", ADDRESS, shopper)
        assert body(refused)["error"]["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) >= 1
        assert len(listed(client, shopper)) == 2


def test_nothing_logged_holds_a_phone_or_an_address(client, roomy_limit):
    """The shop's log lines as they are written (JSON, every key), at every level."""
    import io
    import logging

    from layers.observability import logger

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        shopper = login(client)
        saved = body(post(client, "/me/addresses", ADDRESS, shopper))
        put(client, f"/me/addresses/{saved['id']}", WORK, shopper)
        listed(client, shopper)
        post(client, "/me/addresses", {**WORK, "phone": "1"}, shopper)  # refused
        delete(client, f"/me/addresses/{saved['id']}", shopper)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    logged = buf.getvalue()
    assert saved["id"] in logged and "address added" in logged  # the lines were captured
    for plain in (*ADDRESS.values(), *WORK.values()):
        assert plain not in logged and json.dumps(plain).strip('"') not in logged


def test_without_a_key_the_book_fails_loudly_and_nothing_is_stored(client, roomy_limit, monkeypatch):
    """Never plaintext instead: without PII_KEY, a write or a read of a saved book is a 500
    (the 5xx alarm), and nothing is written."""
    from functions import wiring
    from layers.config import reset_settings_cache

    shopper = login(client)
    saved = body(post(client, "/me/addresses", ADDRESS, shopper))
    key = os.environ["PII_KEY"]
    monkeypatch.delenv("PII_KEY")
    reset_settings_cache()
    try:
        assert post(client, "/me/addresses", WORK, shopper).status_code == 500
        assert client.http.get("/me/addresses", headers=shopper).status_code == 500
    finally:
        monkeypatch.setenv("PII_KEY", key)
        reset_settings_cache()
    assert wiring.address_books().get(shopper["X-User-Id"]).version == 1
    assert listed(client, shopper) == [saved]
