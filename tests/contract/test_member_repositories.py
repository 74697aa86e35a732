"""The member and top-up repositories: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest

from layers.domain.members import BALANCE, POINTS, Movement, Plan, TopUp, TopUpStatus


class Short(Exception):
    pass


class Duplicate(Exception):
    pass


class Stale(Exception):
    pass


@dataclass
class Env:
    members: object
    top_ups: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.members import MemoryMemberRepository, MemoryTopUpRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryMemberRepository(store), MemoryTopUpRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.members import DynamoMemberRepository, DynamoTopUpRepository
    from layers.storage.tx import Tx

    return Env(DynamoMemberRepository(), DynamoTopUpRepository(), Tx)


def move(env, m: Movement) -> None:
    tx = env.new_tx()
    env.members.stage_move(tx, m, on_short=Short, on_duplicate=Duplicate)
    tx.commit()


def user() -> str:
    return "u" + uuid.uuid4().hex[:12]


class TestMemberRepository:
    def test_a_movement_adds_to_its_book_and_writes_its_entry_once(self, env):
        u = user()
        move(env, Movement(u, BALANCE, "top_up#t1#credit", "top_up", "2026-11-29T00:00:00Z", principal=100, bonus=10,
                           top_up_id="t1"))
        with pytest.raises(Duplicate):
            move(env, Movement(u, BALANCE, "top_up#t1#credit", "top_up", "2026-11-29T00:00:00Z", principal=100))
        book = env.members.get_book(u, BALANCE)
        assert (book.principal, book.bonus) == (100, 10)
        entries, _ = env.members.entries(u, BALANCE, 10, None)
        assert [(e.cause, e.amount, e.top_up_id) for e in entries] == [("top_up#t1#credit", 110, "t1")]

    def test_taking_more_than_a_part_holds_fails_and_changes_nothing(self, env):
        u = user()
        move(env, Movement(u, BALANCE, "c1", "top_up", "2026-11-29T00:00:00Z", principal=100, bonus=10))
        with pytest.raises(Short):
            move(env, Movement(u, BALANCE, "c2", "order_payment", "2026-11-29T00:00:00Z", principal=-50, bonus=-11))
        with pytest.raises(Short):
            move(env, Movement(user(), BALANCE, "c3", "order_payment", "2026-11-29T00:00:00Z", principal=-1))
        book = env.members.get_book(u, BALANCE)
        assert (book.principal, book.bonus) == (100, 10)
        assert [e.cause for e in env.members.entries_for(u, BALANCE, "")] == ["c1"]

    def test_available_points_may_go_negative_only_when_unguarded(self, env):
        u = user()
        move(env, Movement(u, POINTS, "a", "grant", "2026-11-29T00:00:00Z", available=5, frozen=3, growth=7))
        with pytest.raises(Short):
            move(env, Movement(u, POINTS, "b", "order_spend", "2026-11-29T00:00:00Z", available=-6))
        move(env, Movement(u, POINTS, "c", "order_refund", "2026-11-29T00:00:00Z", available=-6, frozen=-3,
                           growth=-10, guard_available=False))
        book = env.members.get_book(u, POINTS)
        assert (book.available, book.frozen, book.growth) == (-1, 0, -3)
        assert [e.cause for e in env.members.entries_for(u, POINTS, "")] == ["a", "c"]

    def test_levels_are_saved_and_read(self, env):
        env.members.save_levels([{"name": "银卡", "min_growth": 100, "discount_bps": 100}])
        assert env.members.get_levels() == [{"name": "银卡", "min_growth": 100, "discount_bps": 100}]


class TestTopUpRepository:
    def test_a_top_up_changes_from_the_version_it_was_read_at(self, env):
        t = TopUp(top_up_id="t" + uuid.uuid4().hex[:20], user_id="u1", openid="o1", plan_id="p1", amount=100,
                  bonus=10, status=TopUpStatus.PENDING_PAYMENT, created_at="2026-11-29T00:00:00Z")
        tx = env.new_tx()
        env.top_ups.stage_create(tx, t, on_exists=Duplicate)
        tx.commit()
        with pytest.raises(Duplicate):
            tx = env.new_tx()
            env.top_ups.stage_create(tx, t, on_exists=Duplicate)
            tx.commit()
        env.top_ups.set_prepay_id(t.top_up_id, "wx1")
        paid = replace(t, status=TopUpStatus.PAID, transaction_id="42", version=1)
        tx = env.new_tx()
        env.top_ups.stage_change(tx, t, paid, on_stale=Stale)
        tx.commit()
        with pytest.raises(Stale):
            tx = env.new_tx()
            env.top_ups.stage_change(tx, t, paid, on_stale=Stale)
            tx.commit()
        stored = env.top_ups.get(t.top_up_id)
        assert (stored.status, stored.transaction_id, stored.prepay_id, stored.version) == ("PAID", "42", "wx1", 1)
        refunding = replace(paid, status=TopUpStatus.REFUNDING, refund_amount=60, version=2)
        tx = env.new_tx()
        env.top_ups.stage_change(tx, paid, refunding, on_stale=Stale)
        tx.commit()
        assert t.top_up_id in [x.top_up_id for x in env.top_ups.refunding(100)]

    def test_an_unpaid_top_up_takes_a_place_and_its_plan_slot_until_it_leaves_pending(self, env):
        from layers.domain import errors

        u = user()
        due_at = "2026-11-29T00:15:00Z"

        def unpaid_one(plan_id: str) -> TopUp:
            return TopUp(top_up_id="t" + uuid.uuid4().hex[:20], user_id=u, openid="o1", plan_id=plan_id, amount=100,
                         bonus=0, status=TopUpStatus.PENDING_PAYMENT, created_at="2026-11-29T00:00:00Z",
                         expires_at=due_at)

        def create(t: TopUp) -> None:
            tx = env.new_tx()
            env.top_ups.stage_create(tx, t, on_exists=Duplicate, on_open=Stale)
            tx.commit()

        made = [unpaid_one(f"p{i}") for i in range(3)]
        for t in made:
            create(t)
        assert env.top_ups.unpaid_count(u) == 3
        assert env.top_ups.open_for(u, "p0").top_up_id == made[0].top_up_id
        with pytest.raises(Stale):  # the same plan: its open top-up answers, not the cap
            create(unpaid_one("p0"))
        with pytest.raises(errors.LimitExceeded):
            create(unpaid_one("p3"))
        assert env.top_ups.get(made[0].top_up_id) is not None and env.top_ups.unpaid_count(u) == 3
        assert made[0].top_up_id in [t.top_up_id for t in env.top_ups.due_unpaid("2026-11-29T00:15:00Z", 1000)]
        assert made[0].top_up_id not in [t.top_up_id for t in env.top_ups.due_unpaid("2026-11-29T00:14:59Z", 1000)]
        assert env.top_ups.set_prepay_id(made[0].top_up_id, "wx1", "2026-11-29T00:00:01Z") is True
        closed = replace(made[0], status=TopUpStatus.CLOSED, closed_at="2026-11-29T00:16:00Z", version=1)
        tx = env.new_tx()
        env.top_ups.stage_change(tx, made[0], closed, on_stale=Stale)
        tx.commit()
        assert env.top_ups.unpaid_count(u) == 2 and env.top_ups.open_for(u, "p0") is None
        assert made[0].top_up_id not in [t.top_up_id for t in env.top_ups.due_unpaid("2026-11-29T01:00:00Z", 1000)]
        assert env.top_ups.set_prepay_id(made[0].top_up_id, "wx2") is False  # closed: no new prepay id
        paid = replace(closed, status=TopUpStatus.PAID, transaction_id="42", version=2)
        tx = env.new_tx()
        env.top_ups.stage_change(tx, closed, paid, on_stale=Stale)
        tx.commit()
        assert env.top_ups.unpaid_count(u) == 2  # given back once, by the close
        stored = env.top_ups.get(made[0].top_up_id)
        assert (stored.status, stored.prepay_id, stored.prepay_at, stored.expires_at) == (
            "PAID", "wx1", "2026-11-29T00:00:01Z", due_at)
        create(unpaid_one("p3"))  # a place is free again
        assert env.top_ups.unpaid_count(u) == 3

    def test_plans(self, env):
        plan = Plan("plan" + uuid.uuid4().hex[:8], 10000, 1000, "2026-11-29T00:00:00Z")
        env.top_ups.save_plan(plan)
        assert env.top_ups.get_plan(plan.plan_id) == plan
        assert plan in env.top_ups.plans()
