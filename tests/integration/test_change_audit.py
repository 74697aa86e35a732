"""Every change through the admin API is in the audit log (as the ADMIN_API_KEY owner),
and a commission rate above max_commission_bps is refused, on DynamoDB Local."""

from __future__ import annotations

import uuid

from tests.helpers import body, post, put


def _lines(target: str) -> list[dict]:
    from functions import wiring

    return [e for e in wiring.operators().audit_log() if e["target"] == target]


def test_admin_changes_are_audited_and_rates_are_capped(client, admin_headers):
    name = "t-" + uuid.uuid4().hex[:8]
    over = post(client, "/admin/commission-templates", {"name": name, "tiers": [{"name": "金", "rate_bps": 3001}]},
                admin_headers)
    assert over.status_code == 400 and "max_commission_bps" in body(over)["error"]["message"]
    made = post(client, "/admin/commission-templates", {"name": name, "tiers": [{"name": "金", "rate_bps": 3000}]},
                admin_headers)
    assert made.status_code == 201
    from functions import wiring

    lines = [e for e in wiring.operators().audit_log() if e["action"] == "POST /admin/commission-templates"]
    assert lines and lines[0]["operator"] == "owner" and "等级" in (lines[0]["detail"] or "")  # tiers, named for people
    before = wiring.shop_settings().get()["max_commission_bps"]
    changed = put(client, "/admin/settings", {"max_commission_bps": before + 1}, admin_headers)
    assert changed.status_code == 200
    # worded as the settings page words it: its label, in percent
    worded = f"佣金比例上限: {before / 100:g}% → {(before + 1) / 100:g}%"
    assert any(worded in (e["detail"] or "") for e in _lines("SETTINGS")), worded
    put(client, "/admin/settings", {"max_commission_bps": before}, admin_headers)
