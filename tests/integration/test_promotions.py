"""Promotions through the HTTP API on DynamoDB Local: made (201), read, listed newest first
with their figures, stopped once; shoppers see the live ones with their labels, without
signing in; a wrong body is 400 in the contract's error format and changes nothing; only
operators make or stop one; every change is in the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import body, login, post

pytestmark = pytest.mark.integration


def utc(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def promotion_body(**kw) -> dict:
    return {"name": "满减-" + uuid.uuid4().hex[:6], "kind": "amount_off",
            "tiers": [{"threshold": 30000, "value": 5000}],
            "scope": {"product_ids": ["p_" + uuid.uuid4().hex[:20]]},
            "starts_at": utc(-timedelta(hours=1)), "ends_at": utc(timedelta(days=3)), **kw}


@pytest.fixture
def made(client, admin_headers):
    """Promotions this test makes, stopped after it: the shop's live ones are at most 50."""
    ids = []
    yield ids
    for promotion_id in ids:
        post(client, f"/admin/promotions/{promotion_id}/stop", None, admin_headers)


def error_of(r) -> dict:
    data = body(r)
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}, data
    return data["error"]


def live_ids(client) -> list[str]:
    found, cursor = [], None
    while True:
        r = client.http.get("/promotions?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.body
        page = body(r)
        found += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def test_made_read_listed_seen_by_shoppers_and_stopped(client, admin_headers, made):
    sent = promotion_body(tiers=[{"threshold": 50000, "value": 10000}, {"threshold": 30000, "value": 5000}],
                          with_coupons=False)
    r = post(client, "/admin/promotions", sent, admin_headers)
    assert r.status_code == 201, r.body
    promotion = body(r)
    made.append(promotion["id"])
    assert (promotion["name"], promotion["status"], promotion["live"], promotion["with_coupons"]) == (
        sent["name"], "ACTIVE", True, False)
    assert promotion["tiers"] == [{"threshold": 30000, "value": 5000}, {"threshold": 50000, "value": 10000}]
    assert promotion["label"] == "满300减50，满500减100"
    assert promotion["figures"] == {"orders": 0, "discount": 0, "gmv": 0}
    assert body(client.http.get(f"/admin/promotions/{promotion['id']}", headers=admin_headers)) == promotion
    listed = body(client.http.get("/admin/promotions?limit=5", headers=admin_headers))
    assert listed["items"][0] == promotion  # newest first

    shown = body(client.http.get("/promotions?limit=100"))
    mine = [p for p in shown["items"] if p["id"] == promotion["id"]]
    assert mine and mine[0]["label"] == "满300减50，满500减100" and "figures" not in mine[0]
    assert mine[0]["scope"] == {"product_ids": sent["scope"]["product_ids"], "category_ids": []}

    r = post(client, f"/admin/promotions/{promotion['id']}/stop", None, admin_headers)
    assert r.status_code == 200, r.body
    stopped = body(r)
    assert (stopped["status"], stopped["live"]) == ("STOPPED", False) and stopped["stopped_at"]
    again = post(client, f"/admin/promotions/{promotion['id']}/stop", None, admin_headers)
    assert body(again) == stopped
    assert promotion["id"] not in live_ids(client)

    from functions import wiring  # audited as every admin change, as the owner

    lines = [e for e in wiring.operators().audit_log() if e["target"] == promotion["id"]]
    assert lines and lines[0]["operator"] == "owner" and "stop" in lines[0]["action"]
    missing = post(client, "/admin/promotions/pr_nothere/stop", None, admin_headers)
    assert missing.status_code == 404 and error_of(missing)["code"] == "NOT_FOUND"
    assert client.http.get("/admin/promotions/pr_nothere", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(("change", "said"), [
    ({"kind": "half_off"}, "kind"),
    ({"tiers": []}, "tiers"),
    ({"tiers": [{"threshold": 30000, "value": 30000}]}, "tiers.0.value"),
    ({"tiers": [{"threshold": "300", "value": 50}]}, "threshold"),
    ({"kind": "gift", "tiers": [{"threshold": 19900, "value": 1}]}, "gift_sku_id"),
    ({"ends_at": "2020-01-01T00:00:00Z", "starts_at": "2019-01-01T00:00:00Z"}, "ends_at"),
    ({"starts_at": "2026-12-12 00:00"}, "starts_at"),
    ({"with_coupons": "no"}, "with_coupons"),
    ({"scope": {"product_ids": ["x" * 33]}}, "product_ids"),
    ({"surprise": 1}, "surprise"),
])
def test_a_wrong_body_is_400_naming_the_field_and_changes_nothing(client, admin_headers, change, said):
    before = body(client.http.get("/admin/promotions?limit=3", headers=admin_headers))["items"]
    r = post(client, "/admin/promotions", promotion_body(**change), admin_headers)
    assert r.status_code == 400, r.body
    error = error_of(r)
    assert error["code"] == "INVALID_REQUEST" and said in error["message"], error
    assert body(client.http.get("/admin/promotions?limit=3", headers=admin_headers))["items"] == before


def test_only_operators_make_list_or_stop_them(client):
    shopper = login(client)
    for r in (client.http.get("/admin/promotions"), client.http.get("/admin/promotions", headers=shopper),
              post(client, "/admin/promotions", promotion_body(), shopper),
              post(client, "/admin/promotions/pr_1/stop", None, shopper)):
        assert r.status_code == 401 and error_of(r)["code"] == "UNAUTHORIZED"
