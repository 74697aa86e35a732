"""CouponGrantService on the in-memory repositories: a grant runs in batches, a rerun or
a duplicate batch issues nothing new and counts right, the template's total and
per-user limit hold, and any interleaving of runners gives each target at most one
coupon (hypothesis)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.schemas import CouponTemplateInput
from layers.clock import iso
from layers.domain import coupon_grant as rules
from layers.domain import errors
from layers.services.coupon_grants import STALLED_AFTER_S, CouponGrantService
from layers.services.coupons import CouponService
from tests.fakes.coupon_grants import FakeTagMembers, MemoryCouponGrants
from tests.fakes.coupons import MemoryCouponTemplates, MemoryUserCoupons
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.users import MemoryUserRepository


class World:
    def __init__(self, tags: dict | None = None, users: int = 0, batch_size: int | None = None):
        self.store = MemoryStore()
        self.clock = FakeClock()
        self.templates = MemoryCouponTemplates(self.store)
        self.user_coupons = MemoryUserCoupons(self.store)
        self.coupons = CouponService(templates=self.templates, coupons=self.user_coupons, new_tx=self.store.tx,
                                     clock=self.clock, rng=random.Random(3))
        self.users = MemoryUserRepository(self.store)
        self.user_ids = [self.users.upsert_user(f"openid-{i}", None, iso(self.clock.now())).user_id
                         for i in range(users)]
        self.tags = FakeTagMembers(tags or {})
        self.scheduled: list[tuple[str, int]] = []
        self.notified: list[str] = []
        self.ticks = 0.0
        self.service = CouponGrantService(
            grants=MemoryCouponGrants(self.store), templates=self.templates, coupons=self.coupons,
            user_coupons=self.user_coupons, users=self.users, tags=self.tags, clock=self.clock,
            schedule=lambda gid, step: self.scheduled.append((gid, step)),
            notify=lambda c: self.notified.append(c.coupon_id), monotonic=self._tick)

    def _tick(self) -> float:
        self.ticks += 1.0  # every reading of the timer is a second later
        return self.ticks

    def template(self, **overrides) -> str:
        now = self.clock.now()
        body = {"name": "老客回馈券", "kind": "fixed", "value": 1000, "threshold": 5000,
                "claim_starts_at": iso(now - timedelta(minutes=1)), "claim_ends_at": iso(now + timedelta(days=1)),
                "valid_days": 7, "total": 1000, "per_user_limit": 1, **overrides}
        return self.coupons.create_template(CouponTemplateInput.model_validate(body))["id"]

    def coupons_of(self, user_id: str, template_id: str) -> list:
        return [c for c in self.store.scan(("user_coupon",)) if c.user_id == user_id and c.template_id == template_id]

    def issued_total(self, template_id: str) -> int:
        return self.templates.issued_total(template_id)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(rules, "BATCH_SIZE", 3)


def test_a_grant_gives_each_listed_customer_one_coupon_and_ends_done():
    w = World(users=7)
    tid = w.template()
    started = w.service.start(tid, user_ids=w.user_ids + w.user_ids[:2], note="双12老客")
    assert (started["status"], started["total"], started["issued"], started["skipped"]) == ("RUNNING", 7, 0, 0)
    assert w.scheduled == [(started["id"], 0)]
    done = w.service.run(started["id"])
    assert (done["status"], done["total"], done["issued"], done["skipped"], done["progress"]) == ("DONE", 7, 7, 0, 100)
    for u in w.user_ids:
        [coupon] = w.coupons_of(u, tid)
        assert coupon.coupon_id == rules.grant_coupon_id(started["id"], u) and coupon.source == "grant"
    assert sorted(w.notified) == sorted(rules.grant_coupon_id(started["id"], u) for u in w.user_ids)


def test_running_a_done_grant_again_issues_nothing_and_keeps_its_counts():
    w = World(users=4)
    tid = w.template()
    gid = w.service.start(tid, user_ids=w.user_ids)["id"]
    first = w.service.run(gid)
    again = w.service.run(gid)
    assert first == again and w.issued_total(tid) == 4


def test_a_batch_worked_twice_is_counted_once():
    """A runner dies after issuing a batch but before counting it: the next runner finds
    the coupons and counts them, once."""
    w = World(users=5)
    tid = w.template()
    gid = w.service.start(tid, user_ids=w.user_ids)["id"]
    dead = w.service.take_batch(gid)
    for u in dead.user_ids:
        w.service.work(dead, u)  # ... and the Lambda times out here
    done = w.service.run(gid)
    assert (done["issued"], done["skipped"], w.issued_total(tid)) == (5, 0, 5)
    assert not w.service.count(dead)  # the dead runner's late write is refused


def test_the_template_total_and_per_user_limit_hold_and_skips_say_why():
    w = World(users=6)
    tid = w.template(total=4, per_user_limit=1)
    w.coupons.claim(w.user_ids[0], tid, None)  # already has the one they may have
    done = w.service.run(w.service.start(tid, user_ids=w.user_ids + ["nobody"])["id"])
    assert (done["issued"], done["skipped"]) == (3, 4)
    assert done["skipped_by_reason"] == {"LIMIT_REACHED": 1, "OUT_OF_STOCK": 2, "ENDED": 0, "UNKNOWN_USER": 1}
    assert w.issued_total(tid) == 4


def test_a_grant_is_not_bound_by_the_claim_window_but_never_gives_an_expired_coupon():
    w = World(users=6)
    now = w.clock.now()
    closed = w.template(claim_starts_at=iso(now - timedelta(days=2)), claim_ends_at=iso(now - timedelta(days=1)))
    assert w.service.run(w.service.start(closed, user_ids=w.user_ids[:2])["id"])["issued"] == 2  # shop-only
    fixed = w.template(valid_days=None, valid_from=iso(now - timedelta(days=1)), valid_until=iso(now + timedelta(hours=1)))
    gid = w.service.start(fixed, user_ids=w.user_ids)["id"]
    batch = w.service.take_batch(gid)
    for u in batch.user_ids:
        w.service.work(batch, u)
    assert w.service.count(batch)
    w.clock.advance(2 * 3600)  # the coupons' validity ends while the grant runs
    done = w.service.run(gid)
    assert (done["issued"], done["skipped_by_reason"]["ENDED"]) == (3, 3)
    with pytest.raises(errors.Ended):
        w.service.start(fixed, user_ids=w.user_ids)


def test_a_grant_to_a_tag_walks_its_members_page_by_page():
    w = World(users=8)
    w.tags.tags["vip"] = list(w.user_ids)
    tid = w.template()
    started = w.service.start(tid, tag="vip")
    assert started["total"] == 8 and started["tag"] == "vip"
    done = w.service.run(started["id"])
    assert (done["status"], done["issued"], done["total"]) == ("DONE", 8, 8)


def test_an_unknown_tag_or_template_is_not_found_and_stores_nothing():
    w = World(users=1)
    tid = w.template()
    with pytest.raises(errors.NotFound):
        w.service.start(tid, tag="nope")
    with pytest.raises(errors.NotFound):
        w.service.start("tmissing", user_ids=w.user_ids)
    assert w.service.list(10, None) == ([], None)


def test_an_empty_tag_is_done_at_its_first_batch():
    w = World()
    w.tags.tags["empty"] = []
    gid = w.service.start(w.template(), tag="empty")["id"]
    assert w.service.run(gid)["status"] == "DONE"


def test_a_message_works_for_its_budget_then_hands_the_grant_on():
    w = World(users=9)  # three batches; each batch reads the timer once: the budget ends first
    gid = w.service.start(w.template(), user_ids=w.user_ids)["id"]
    w.scheduled.clear()
    import layers.services.coupon_grants as module

    budget = module.MESSAGE_BUDGET_S
    module.MESSAGE_BUDGET_S = 1.5
    try:
        w.service.on_run_due("e1", {"grant_id": gid, "step": 0})
    finally:
        module.MESSAGE_BUDGET_S = budget
    grant = w.service.get(gid)
    assert grant["status"] == "RUNNING" and 0 < grant["issued"] < 9
    [(_, step)] = w.scheduled
    w.service.on_run_due("e0-duplicate", {"grant_id": gid, "step": 0})  # a stale duplicate does nothing
    assert w.service.get(gid) == grant
    w.service.on_run_due("e2", {"grant_id": gid, "step": step})
    assert w.service.get(gid)["status"] == "DONE"


def test_the_sweep_resumes_a_grant_whose_message_was_lost():
    w = World(users=4)
    gid = w.service.start(w.template(), user_ids=w.user_ids)["id"]
    assert w.service.run_stalled() == {"grants_resumed": 0, "grants_finished": 0}  # not stalled yet
    w.clock.advance(STALLED_AFTER_S + 1)
    assert w.service.run_stalled() == {"grants_resumed": 1, "grants_finished": 1}
    assert w.service.get(gid)["issued"] == 4


def test_a_goodwill_coupon_is_a_one_target_grant_and_its_retry_the_same_coupon():
    w = World(users=1)
    tid = w.template(per_user_limit=2)
    [u] = w.user_ids
    first = w.service.give_one(u, tid, "快递破损补偿", "key-1")
    again = w.service.give_one(u, tid, "快递破损补偿", "key-1")
    assert first["id"] == again["id"] and first["source"] == "goodwill"
    assert w.coupons_of(u, tid)[0].coupon_id == first["id"]
    second = w.service.give_one(u, tid, "再补一张", "key-2")
    assert second["id"] != first["id"]
    with pytest.raises(errors.LimitExceeded):
        w.service.give_one(u, tid, "第三张", "key-3")
    with pytest.raises(errors.NotFound):
        w.service.give_one("nobody", tid, "x", "key-4")
    assert not w.scheduled  # a goodwill coupon is given before answering, not queued


# -- any interleaving of runners ---------------------------------------------------------

STEPS = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["take", "work", "count", "die"])), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, total=st.integers(1, 12), limit=st.integers(1, 2), claimed_before=st.integers(0, 3))
def test_any_interleaving_of_runners_issues_each_target_at_most_once_within_the_template(
        steps, total, limit, claimed_before):
    w = World(users=10)
    tid = w.template(total=total, per_user_limit=limit, shards=min(2, total))
    for u in w.user_ids[:claimed_before]:
        try:
            w.coupons.claim(u, tid, None)
        except errors.SoldOut:
            pass
    gid = w.service.start(tid, user_ids=w.user_ids)["id"]
    runners: dict[int, tuple] = {}  # runner -> (batch, targets still to work)
    for runner, action in steps:
        if action == "take" or runner not in runners:
            batch = w.service.take_batch(gid)
            if batch is None:
                continue
            runners[runner] = (batch, list(batch.user_ids))
        batch, todo = runners[runner]
        if action == "work" and todo:
            w.service.work(batch, todo.pop(0))
        elif action == "count" and not todo:
            w.service.count(batch)
            del runners[runner]
        elif action == "die":
            del runners[runner]
    done = w.service.run(gid)  # whatever happened, a last runner finishes the grant

    from_grant = [c for c in w.store.scan(("user_coupon",)) if c.source == "grant"]
    assert len({c.user_id for c in from_grant}) == len(from_grant)  # nobody twice
    assert all(c.coupon_id == rules.grant_coupon_id(gid, c.user_id) for c in from_grant)
    assert w.issued_total(tid) <= total
    assert all(len(w.coupons_of(u, tid)) <= limit for u in w.user_ids)
    assert done["issued"] == len(from_grant)
    assert done["issued"] + done["skipped"] == done["total"] == 10


def test_targets_worked_at_once_and_a_conflicting_one_worked_again_alone():
    w = World(users=9)
    w.service.workers = 4
    tid = w.template(total=7)
    conflicted: list[str] = []
    issue = w.coupons.issue_granted

    def busy_once(template, user_id, coupon_id, source):
        if user_id in w.user_ids[:2] and user_id not in conflicted:
            conflicted.append(user_id)
            raise errors.RateLimited("busy; try again in a moment")
        return issue(template, user_id, coupon_id, source)

    w.coupons.issue_granted = busy_once
    done = w.service.run(w.service.start(tid, user_ids=w.user_ids)["id"])
    assert sorted(conflicted) == sorted(w.user_ids[:2])
    assert (done["status"], done["issued"], done["skipped_by_reason"]["OUT_OF_STOCK"]) == ("DONE", 7, 2)
    assert w.issued_total(tid) == 7


def test_a_target_that_keeps_conflicting_stops_the_runner_with_nothing_counted():
    w = World(users=3)
    w.service.workers = 2
    tid = w.template()

    def always_busy(template, user_id, coupon_id, source):
        raise errors.RateLimited("busy; try again in a moment")

    w.coupons.issue_granted = always_busy
    gid = w.service.start(tid, user_ids=w.user_ids)["id"]
    with pytest.raises(errors.RateLimited):
        w.service.run(gid)
    assert (w.service.get(gid)["issued"], w.service.get(gid)["skipped"]) == (0, 0)


def test_a_retried_start_under_the_same_key_is_the_same_grant_and_another_request_is_refused():
    w = World(users=3)
    tid = w.template(per_user_limit=5)
    first = w.service.start(tid, user_ids=w.user_ids, note="回馈", idempotency_key="k-1")
    again = w.service.start(tid, user_ids=w.user_ids + w.user_ids[:1], note="回馈", idempotency_key="k-1")
    assert again["id"] == first["id"] and len(w.scheduled) == 1
    with pytest.raises(errors.IdempotencyKeyReused):
        w.service.start(tid, user_ids=w.user_ids[:1], note="回馈", idempotency_key="k-1")
    w.service.run(first["id"])
    assert w.service.start(tid, user_ids=w.user_ids, note="回馈", idempotency_key="k-1")["status"] == "DONE"
    assert all(len(w.coupons_of(u, tid)) == 1 for u in w.user_ids)  # not two grants' worth
    assert w.service.start(tid, user_ids=w.user_ids, note="回馈", idempotency_key="k-2")["id"] != first["id"]
