"""The console's group-buy lists, in memory and on DynamoDB Local alike: every
activity by gsi1, and an activity's groups only while PENDING or OPEN (a sparse index the
transitions keep)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from layers.domain import group_buy as domain
from layers.domain.group_buy import Member
from tests.contract.test_group_buy_repositories import (
    NOW,
    Env,
    Refused,
    Stale,
    activity,
    commit,
    env,
    opened,
)

__all__ = ["env"]  # the fixture, from the repositories' contract


def _ids(groups) -> list[str]:
    return [g.group_id for g in groups]


class TestGroupBuyLists:
    def test_activities_are_listed_newest_first_with_their_stock(self, env: Env):
        first = activity(stock=5)
        second = replace(activity(stock=7), created_at="2026-11-29T02:00:01Z")
        for gb in (first, second):
            commit(env, lambda tx, gb=gb: env.group_buys.stage_create(tx, gb, on_exists=Refused))
        listed, seen, cursor = [], 0, None
        while True:  # page through (DynamoDB Local holds other tests' activities too)
            page, cursor = env.group_buys.list_group_buys(1, cursor)
            listed += page
            seen += 1
            if not cursor or seen > 500:
                break
        mine = [(g.group_buy_id, remaining) for g, remaining in listed
                if g.group_buy_id in (first.group_buy_id, second.group_buy_id)]
        assert mine == [(second.group_buy_id, 7), (first.group_buy_id, 5)]

    def test_a_group_is_listed_from_its_opening_and_stays_with_its_outcome(self, env: Env):
        gb, group = opened(env, size=2)
        other, leader = domain.open_group(gb, domain.new_group_id(), "other", "o-other",
                                          "2026-11-29T02:00:05Z")
        commit(env, lambda tx: env.groups.stage_open(tx, other, leader, on_exists=Refused))
        groups, _ = env.groups.list_groups(gb.group_buy_id, 10, None)
        assert _ids(groups) == [other.group_id, group.group_id]
        assert [(g.status, g.seats_taken, g.group_size) for g in groups] == [("PENDING", 1, 2), ("OPEN", 1, 2)]
        page, cursor = env.groups.list_groups(gb.group_buy_id, 1, None)
        assert _ids(page) == [other.group_id] and cursor
        assert _ids(env.groups.list_groups(gb.group_buy_id, 1, cursor)[0]) == [group.group_id]

        # the last seat paid: SUCCEEDED, still listed
        commit(env, lambda tx: env.groups.stage_join(tx, group.group_id,
                                                     Member(group.group_id, "f1", "o-f1", False, NOW), NOW,
                                                     on_unavailable=Refused, on_joined=Refused))
        stored = env.groups.get(group.group_id)
        after = domain.count_payment(stored, domain._dt(NOW))
        assert after.status == domain.SUCCEEDED
        commit(env, lambda tx: env.groups.stage_change(tx, stored, after, on_stale=Stale))
        # the pending leader's unpaid order closed: FAILED by a seat given back, still listed
        stored = env.groups.get(other.group_id)
        failed = domain.seat_given_back(stored, member_paid=False)
        assert failed.status == domain.FAILED
        commit(env, lambda tx: env.groups.stage_seat_back(tx, stored, failed, on_moved=Stale))
        groups, _ = env.groups.list_groups(gb.group_buy_id, 10, None)
        assert [(g.group_id, g.status) for g in groups] == [(other.group_id, "FAILED"), (group.group_id, "SUCCEEDED")]


    def test_only_open_groups_are_joinable_soonest_to_expire_first(self, env: Env):
        gb, late = opened(env, size=3)  # OPEN, its leader paid
        early = replace(late, group_id=domain.new_group_id(), leader_id="early",
                        expires_at="2026-11-29T02:30:00Z", created_at="2026-11-29T02:00:09Z")
        commit(env, lambda tx: env.groups.stage_open(tx, early, Member(early.group_id, "early", "o-early", True, NOW),
                                                     on_exists=Refused))
        pending, leader = domain.open_group(gb, domain.new_group_id(), "p", "o-p", "2026-11-29T02:00:05Z")
        commit(env, lambda tx: env.groups.stage_open(tx, pending, leader, on_exists=Refused))
        page, cursor = env.groups.joinable_groups(gb.group_buy_id, 1, None)
        assert _ids(page) == [early.group_id] and cursor
        page, _ = env.groups.joinable_groups(gb.group_buy_id, 5, cursor)
        assert _ids(page) == [late.group_id]
        # the pending group opens when its leader pays: joinable from then on
        stored = env.groups.get(pending.group_id)
        opened_now = domain.count_payment(stored, domain._dt(NOW))
        assert opened_now.status == domain.OPEN
        commit(env, lambda tx: env.groups.stage_change(tx, stored, opened_now, on_stale=Stale))
        assert pending.group_id in _ids(env.groups.joinable_groups(gb.group_buy_id, 5, None)[0])
        # a group that ends (its time ran out) is joinable no more
        stored = env.groups.get(early.group_id)
        failed = domain.expire(stored, domain._dt("2026-11-29T02:31:00Z"))
        assert failed.status == domain.FAILED
        commit(env, lambda tx: env.groups.stage_change(tx, stored, failed, on_stale=Stale))
        assert early.group_id not in _ids(env.groups.joinable_groups(gb.group_buy_id, 5, None)[0])


class TestGroupBuyStop:
    def test_stopped_once(self, env: Env):
        gb = activity()
        commit(env, lambda tx: env.group_buys.stage_create(tx, gb, on_exists=Refused))
        assert env.group_buys.get(gb.group_buy_id).stopped_at is None
        commit(env, lambda tx: env.group_buys.stage_stop(tx, gb.group_buy_id, NOW, on_stopped=Stale))
        assert env.group_buys.get(gb.group_buy_id).stopped_at == NOW
        with pytest.raises(Stale):
            commit(env, lambda tx: env.group_buys.stage_stop(tx, gb.group_buy_id, "2026-11-29T05:00:00Z",
                                                             on_stopped=Stale))
        with pytest.raises(Stale):  # no such activity: nothing is created
            commit(env, lambda tx: env.group_buys.stage_stop(tx, "gb_missing" + gb.group_buy_id, NOW,
                                                             on_stopped=Stale))
        assert env.group_buys.get("gb_missing" + gb.group_buy_id) is None
        assert env.group_buys.get(gb.group_buy_id).stopped_at == NOW
