"""One contract for the group-buy repositories: the in-memory twins
(tests/fakes/group_buys.py) and DynamoDB's (layers/storage/group_buys.py) answer alike,
conditions included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from layers.domain import group_buy as domain
from layers.domain.group_buy import GroupBuy, Member

NOW = "2026-11-29T02:00:00Z"
LATER = "2026-11-29T03:00:00Z"


class Refused(Exception):
    pass


class Joined(Exception):
    pass


class Stale(Exception):
    pass


@dataclass
class Env:
    group_buys: object
    groups: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.group_buys import MemoryGroupBuyRepository, MemoryGroupRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryGroupBuyRepository(store), MemoryGroupRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.group_buys import DynamoGroupBuyRepository, DynamoGroupRepository
    from layers.storage.tx import Tx

    return Env(DynamoGroupBuyRepository(), DynamoGroupRepository(), Tx)


def activity(stock=2, size=3) -> GroupBuy:
    return GroupBuy(group_buy_id="gb" + uuid.uuid4().hex[:12], sku_id="s1", product_id="p1", title="大闸蟹",
                    category=None, price=9_900, group_size=size, group_ttl_s=3600, starts_at=NOW,
                    ends_at="2026-12-01T00:00:00Z", stock=stock, per_user_limit=1, created_at=NOW,
                    success_min_paid=None, commission={"mode": "fixed"})


def commit(env, stage):
    tx = env.new_tx()
    stage(tx)
    tx.commit()


def opened(env, size=3):
    gb = activity(size=size)
    commit(env, lambda tx: env.group_buys.stage_create(tx, gb, on_exists=Refused))
    group, leader = domain.open_group(gb, domain.new_group_id(), "leader", "o-leader", NOW)
    commit(env, lambda tx: env.groups.stage_open(tx, group, leader, on_exists=Refused))
    stored = env.groups.get(group.group_id)
    after = domain.count_payment(stored, domain._dt(NOW))
    commit(env, lambda tx: env.groups.stage_change(tx, stored, after, on_stale=Stale))
    commit(env, lambda tx: env.groups.stage_paid(tx, group.group_id, "leader", "o-leader", on_stale=Stale))
    return gb, env.groups.get(group.group_id)


def join(env, group_id, user, now=NOW):
    commit(env, lambda tx: env.groups.stage_join(tx, group_id, Member(group_id, user, f"o-{user}", False, now),
                                                 now, on_unavailable=Refused, on_joined=Joined))


def test_an_activity_gives_stock_and_counts_each_shoppers_orders(env):
    gb = activity(stock=1)
    commit(env, lambda tx: env.group_buys.stage_create(tx, gb, on_exists=Refused))
    assert env.group_buys.get(gb.group_buy_id) == gb and env.group_buys.remaining(gb.group_buy_id) == 1
    with pytest.raises(Refused):
        commit(env, lambda tx: env.group_buys.stage_create(tx, gb, on_exists=Refused))
    take = lambda user: lambda tx: env.group_buys.stage_take(tx, gb.group_buy_id, user, 1,  # noqa: E731
                                                            on_empty=Refused, on_limit=Joined)
    commit(env, take("a"))
    with pytest.raises(Refused):
        commit(env, take("b"))  # no stock left
    commit(env, lambda tx: env.group_buys.stage_give_back(tx, gb.group_buy_id, "a"))
    assert env.group_buys.remaining(gb.group_buy_id) == 1
    commit(env, take("a"))
    commit(env, lambda tx: env.group_buys.stage_give_back(tx, gb.group_buy_id, "a"))
    commit(env, lambda tx: env.group_buys.stage_create(tx, replace(gb, group_buy_id=gb.group_buy_id + "x",
                                                                   stock=5), on_exists=Refused))
    limited = lambda tx: env.group_buys.stage_take(tx, gb.group_buy_id + "x", "a", 1,  # noqa: E731
                                                   on_empty=Refused, on_limit=Joined)
    commit(env, limited)
    with pytest.raises(Joined):
        commit(env, limited)  # one order per shopper


def test_seats_are_taken_while_open_unexpired_and_not_full_once_per_shopper(env):
    _, group = opened(env, size=3)
    assert (group.status, group.seats_taken, group.paid_count, group.version) == ("OPEN", 1, 1, 1)
    join(env, group.group_id, "a")
    with pytest.raises(Joined):
        join(env, group.group_id, "a")
    join(env, group.group_id, "b")
    with pytest.raises(Refused):
        join(env, group.group_id, "c")  # full
    stored = env.groups.get(group.group_id)
    assert stored.seats_taken == 3 and stored.version == 3
    assert [m.user_id for m in env.groups.members(group.group_id)] == ["leader", "a", "b"]
    assert env.groups.member(group.group_id, "a").order_id == "o-a"
    # a seat given back (counters by difference), then joined again
    after = domain.seat_given_back(stored, member_paid=False)
    commit(env, lambda tx: (env.groups.stage_seat_back(tx, stored, after, on_moved=Stale),
                            env.groups.stage_leave(tx, group.group_id, "a", "o-a")))
    assert env.groups.get(group.group_id).seats_taken == 2 and env.groups.member(group.group_id, "a") is None
    join(env, group.group_id, "c")
    with pytest.raises(Refused):
        join(env, group.group_id, "d", now=LATER)  # expired (expires_at is NOW + 1h = LATER)


def test_a_change_is_conditioned_on_the_version_and_a_payment_counts_once(env):
    _, group = opened(env, size=2)
    join(env, group.group_id, "a")
    with pytest.raises(Stale):  # read before the join: stale
        commit(env, lambda tx: env.groups.stage_change(tx, group, replace(group, version=group.version + 1),
                                                       on_stale=Stale))
    stored = env.groups.get(group.group_id)
    after = domain.count_payment(stored, domain._dt(NOW))
    commit(env, lambda tx: (env.groups.stage_change(tx, stored, after, on_stale=Stale),
                            env.groups.stage_paid(tx, group.group_id, "a", "o-a", on_stale=Stale)))
    assert env.groups.get(group.group_id).status == "SUCCEEDED"
    with pytest.raises(Stale):
        commit(env, lambda tx: env.groups.stage_paid(tx, group.group_id, "a", "o-a", on_stale=Stale))
    with pytest.raises(Stale):
        commit(env, lambda tx: env.groups.stage_paid(tx, group.group_id, "leader", "o-other", on_stale=Stale))
    assert all(m.paid for m in env.groups.members(group.group_id))


def test_due_lists_expiring_open_groups_and_failed_ones_with_refunds_to_ask(env):
    _, group = opened(env, size=3)
    assert group.group_id not in [g.group_id for g in env.groups.due(NOW, 500)]
    assert group.group_id in [g.group_id for g in env.groups.due(LATER, 500)]
    failed = domain.expire(group, domain._dt(LATER))
    assert failed.status == "FAILED" and not failed.refunds_done
    commit(env, lambda tx: env.groups.stage_change(tx, group, failed, on_stale=Stale))
    assert group.group_id in [g.group_id for g in env.groups.due(LATER, 500)]
    done = domain.refunds_asked(failed)
    commit(env, lambda tx: env.groups.stage_change(tx, failed, done, on_stale=Stale))
    assert group.group_id not in [g.group_id for g in env.groups.due("2027-01-01T00:00:00Z", 500)]
    assert env.groups.get(group.group_id) == done
