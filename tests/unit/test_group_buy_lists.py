"""The console's group-buy lists (issue 21): GroupBuyService.list_group_buys and
open_groups on the in-memory repositories."""

from __future__ import annotations

import pytest

from layers.domain import errors
from tests.unit.test_group_buy_service import ORDER, World


def test_activities_newest_first_with_remaining_stock_and_paged():
    w = World()
    first = w.activity(stock=10)
    w.clock.advance(1)
    second = w.activity(stock=20)
    w.service.open("leader", first["id"], ORDER, None)
    page, cursor = w.service.list_group_buys(1, None)
    assert [(a["id"], a["remaining"]) for a in page] == [(second["id"], 20)] and cursor
    page, cursor = w.service.list_group_buys(1, cursor)
    assert [(a["id"], a["remaining"]) for a in page] == [(first["id"], 9)] and cursor is None


def test_open_groups_show_seats_and_expiry_and_leave_when_they_end():
    w = World()
    activity, order = w.opened(group_size=3)
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.clock.advance(1)
    pending = w.service.open("other", activity["id"], ORDER, None)
    groups, cursor = w.service.open_groups(activity["id"], 10, None)
    assert cursor is None
    assert [(g["id"], g["status"], g["seats_taken"], g["group_size"], g["paid_count"]) for g in groups] == [
        (pending["group_id"], "PENDING", 1, 3, 0), (group_id, "OPEN", 2, 3, 1)]
    assert groups[1]["expires_at"] == w.group(group_id).expires_at and groups[0]["expires_at"] is None

    w.shop.orders.close_unpaid(pending["id"], reason="CANCELLED", ask_wechat=False)  # FAILED: gone
    w.pay(joined["id"])
    w.pay(w.service.join("f2", group_id, ORDER, None)["id"])  # SUCCEEDED: gone
    assert w.service.open_groups(activity["id"], 10, None) == ([], None)
    with pytest.raises(errors.NotFound):
        w.service.open_groups("gb_missing", 10, None)
