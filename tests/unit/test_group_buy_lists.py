"""The console's group-buy lists: GroupBuyService.list_group_buys and
list_groups on the in-memory repositories."""

from __future__ import annotations

import pytest

from layers.clock import iso
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


def test_every_group_is_listed_with_its_seats_and_expiry_and_stays_once_it_ends():
    w = World()
    activity, order = w.opened(group_size=3)
    group_id = order["group_id"]
    joined = w.service.join("f1", group_id, ORDER, None)
    w.clock.advance(1)
    pending = w.service.open("other", activity["id"], ORDER, None)
    groups, cursor = w.service.list_groups(activity["id"], 10, None)
    assert cursor is None
    assert [(g["id"], g["status"], g["seats_taken"], g["group_size"], g["paid_count"]) for g in groups] == [
        (pending["group_id"], "PENDING", 1, 3, 0), (group_id, "OPEN", 2, 3, 1)]
    assert groups[1]["expires_at"] == w.group(group_id).expires_at and groups[0]["expires_at"] is None

    # A group that ended stays on the list with its outcome: a manager looks for the groups
    # that succeeded (to ship them) as much as for those still filling.
    w.shop.orders.close_unpaid(pending["id"], reason="CANCELLED", ask_wechat=False)  # FAILED
    w.pay(joined["id"])
    w.pay(w.service.join("f2", group_id, ORDER, None)["id"])  # SUCCEEDED
    groups, cursor = w.service.list_groups(activity["id"], 10, None)
    assert [(g["id"], g["status"], g["paid_count"]) for g in groups] == [
        (pending["group_id"], "FAILED", 0), (group_id, "SUCCEEDED", 3)] and cursor is None
    with pytest.raises(errors.NotFound):
        w.service.list_groups("gb_missing", 10, None)


def test_a_stopped_activity_opens_no_group_but_its_open_groups_still_fill():
    w = World()
    activity, order = w.opened(group_size=2)
    assert activity["stopped_at"] is None
    stopped = w.service.stop_group_buy(activity["id"])
    assert stopped["stopped_at"] == iso(w.clock.now()) and stopped["remaining"] == 49
    w.clock.advance(5)
    assert w.service.stop_group_buy(activity["id"])["stopped_at"] == stopped["stopped_at"]  # once
    with pytest.raises(errors.Ended):
        w.service.open("other", activity["id"], ORDER, None)
    joined = w.service.join("f1", order["group_id"], ORDER, None)
    w.pay(joined["id"])
    assert w.group(order["group_id"]).status == "SUCCEEDED"
    assert w.service.get_group_buy(activity["id"])["stopped_at"] == stopped["stopped_at"]
    with pytest.raises(errors.NotFound):
        w.service.stop_group_buy("gb_missing")


def test_a_stop_that_loses_a_race_reads_again():
    w = World()
    activity = w.activity()
    real = w.group_buys.stage_stop

    def racing(tx, group_buy_id, stopped_at, on_stopped):
        other = w.store.tx()
        real(other, group_buy_id, "2020-01-01T00:00:00Z", on_stopped)  # another operator, first
        other.commit()
        real(tx, group_buy_id, stopped_at, on_stopped)

    w.group_buys.stage_stop = racing
    assert w.service.stop_group_buy(activity["id"])["stopped_at"] == "2020-01-01T00:00:00Z"


def test_a_stop_between_the_window_check_and_the_opening_transaction_wins(monkeypatch):
    """The opening order's transaction is conditioned on the activity not stopped: a stop
    that lands after the service's own check still refuses the group, and takes nothing."""
    from layers.domain import group_buy as rules

    w = World()
    activity = w.activity()
    real_check = rules.check_window

    def check_then_stop(group_buy, now):
        real_check(group_buy, now)  # passes: not stopped yet
        w.service.stop_group_buy(activity["id"])  # an operator stops it right now

    monkeypatch.setattr(rules, "check_window", check_then_stop)
    with pytest.raises(errors.Ended):
        w.service.open("late", activity["id"], ORDER, None)
    assert w.group_buys.remaining(activity["id"]) == 50  # nothing taken
