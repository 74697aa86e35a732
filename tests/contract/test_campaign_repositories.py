"""One contract for the help, bargain and assistance repositories: the in-memory twins
(tests/fakes/bargains.py) and DynamoDB's (layers/storage/helps.py, bargains.py,
assistance.py) answer alike, conditions included."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace

import pytest

from layers.clock import parse_iso
from layers.domain import assistance as assist
from layers.domain import bargain as domain
from layers.domain.helps import Help

NOW = "2026-11-29T02:00:00Z"
LATER = "2026-11-29T03:00:00Z"


@dataclass
class Env:
    helps: object
    bargains: object
    instances: object
    campaigns: object
    assists: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.bargains import (
            MemoryAssistCampaignRepository,
            MemoryAssistInstanceRepository,
            MemoryBargainInstanceRepository,
            MemoryBargainRepository,
            MemoryHelpRepository,
        )
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryHelpRepository(store), MemoryBargainRepository(store),
                   MemoryBargainInstanceRepository(store), MemoryAssistCampaignRepository(store),
                   MemoryAssistInstanceRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.assistance import (
        DynamoAssistCampaignRepository,
        DynamoAssistInstanceRepository,
    )
    from layers.storage.bargains import DynamoBargainInstanceRepository, DynamoBargainRepository
    from layers.storage.helps import DynamoHelpRepository
    from layers.storage.tx import Tx

    return Env(DynamoHelpRepository(), DynamoBargainRepository(), DynamoBargainInstanceRepository(),
               DynamoAssistCampaignRepository(), DynamoAssistInstanceRepository(), Tx)


class Fail(Exception):
    pass


class Stale(Exception):
    pass


def _commit(env: Env, *stages) -> None:
    tx = env.new_tx()
    for stage in stages:
        stage(tx)
    tx.commit()


def _bargain(**kw) -> domain.Bargain:
    values = dict(bargain_id=domain.new_bargain_id(), sku_id="s1", product_id="p1", title="蛋糕", category="烘焙",
                  start_price=10_000, floor_price=100, helpers_needed=3, ttl_s=3600, starts_at=NOW, ends_at=LATER,
                  stock=2, per_user_limit=1, helps_per_user_per_day=None, created_at=NOW,
                  commission={"mode": "fixed", "rate_bps": 500})
    values.update(kw)
    return domain.Bargain(**values)


def _instance(bargain: domain.Bargain, expires_at: str = LATER, user="owner") -> domain.BargainInstance:
    return domain.start(bargain, domain.new_instance_id(), user, NOW, expires_at, random.Random(1))


class TestCampaignRepositories:
    def test_a_help_once_per_helper_and_a_daily_quota(self, env):
        iid = "bi" + uuid.uuid4().hex
        _commit(env, lambda tx: env.helps.stage_help(tx, Help(iid, "h1", 1, 30, NOW), on_exists=Fail))
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.helps.stage_help(tx, Help(iid, "h1", 2, 20, NOW), on_exists=Fail))
        _commit(env, lambda tx: env.helps.stage_help(tx, Help(iid, "h2", 2, 20, NOW), on_exists=Fail))
        assert env.helps.for_instance(iid) == [Help(iid, "h1", 1, 30, NOW), Help(iid, "h2", 2, 20, NOW)]
        cid = "b" + uuid.uuid4().hex

        def quota(day):
            return lambda tx: env.helps.stage_quota(tx, cid, "h1", day, 2, 2_000_000_000, on_limit=Fail)

        _commit(env, quota("2026-11-29"))
        _commit(env, quota("2026-11-29"))
        with pytest.raises(Fail):
            _commit(env, quota("2026-11-29"))
        _commit(env, quota("2026-11-30"))

    def test_a_failed_help_writes_nothing(self, env):
        iid = "bi" + uuid.uuid4().hex
        _commit(env, lambda tx: env.helps.stage_help(tx, Help(iid, "h1", 1, 30, NOW), on_exists=Fail))
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.helps.stage_help(tx, Help(iid, "h2", 2, 1, NOW), on_exists=Stale),
                    lambda tx: env.helps.stage_help(tx, Help(iid, "h1", 2, 1, NOW), on_exists=Fail))
        assert [h.helper_id for h in env.helps.for_instance(iid)] == ["h1"]

    def test_a_bargain_reads_back_its_stock_and_start_counts(self, env):
        b = _bargain()
        _commit(env, lambda tx: env.bargains.stage_create(tx, b, on_exists=Fail))
        assert env.bargains.get(b.bargain_id) == b and env.bargains.remaining(b.bargain_id) == 2
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.bargains.stage_create(tx, b, on_exists=Fail))
        _commit(env, lambda tx: env.bargains.stage_count_start(tx, b.bargain_id, "u1", 1, on_limit=Fail))
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.bargains.stage_count_start(tx, b.bargain_id, "u1", 1, on_limit=Fail))
        _commit(env, lambda tx: env.bargains.stage_count_start(tx, b.bargain_id, "u2", 1, on_limit=Fail))
        for _ in range(2):
            _commit(env, lambda tx: env.bargains.stage_take_stock(tx, b.bargain_id, on_empty=Fail))
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.bargains.stage_take_stock(tx, b.bargain_id, on_empty=Fail))
        _commit(env, lambda tx: env.bargains.stage_return_stock(tx, b.bargain_id))
        assert env.bargains.remaining(b.bargain_id) == 1
        assert env.bargains.get("b-missing") is None

    def test_a_stop_is_written_once_and_a_start_check_refuses_after_it(self, env):
        b = _bargain()
        c = assist.AssistCampaign(campaign_id=assist.new_campaign_id(), name="集赞", helpers_needed=1,
                                  reward_coupon_template_id="t1", ttl_s=600, starts_at=NOW, ends_at=LATER,
                                  per_user_limit=1, new_users_only=False, helps_per_user_per_day=None, created_at=NOW)
        _commit(env, lambda tx: env.bargains.stage_create(tx, b, on_exists=Fail),
                lambda tx: env.campaigns.stage_create(tx, c, on_exists=Fail))
        for repo, key, read in ((env.bargains, b.bargain_id, env.bargains.get),
                                (env.campaigns, c.campaign_id, env.campaigns.get)):
            _commit(env, lambda tx, repo=repo, key=key: repo.stage_check_running(tx, key, on_stopped=Fail))
            _commit(env, lambda tx, repo=repo, key=key: repo.stage_stop(tx, key, LATER, on_stopped=Fail))
            assert read(key).stopped_at == LATER
            with pytest.raises(Fail):
                _commit(env, lambda tx, repo=repo, key=key: repo.stage_stop(tx, key, NOW, on_stopped=Fail))
            with pytest.raises(Fail):
                _commit(env, lambda tx, repo=repo, key=key: repo.stage_check_running(tx, key, on_stopped=Fail))
            with pytest.raises(Fail):
                _commit(env, lambda tx, repo=repo: repo.stage_stop(tx, "missing", NOW, on_stopped=Fail))
            assert read(key).stopped_at == LATER

    def test_an_instance_moves_only_from_the_version_read_and_before_its_expiry(self, env):
        b = _bargain()
        inst = _instance(b)
        _commit(env, lambda tx: env.instances.stage_create(tx, inst, on_exists=Fail))
        assert env.instances.get(inst.instance_id) == inst
        _, first = domain.help_(inst, "h1", parse_iso(NOW), NOW)
        with pytest.raises(Stale):  # expired at the time it is written
            _commit(env, lambda tx: env.instances.stage_change(tx, inst, first, on_stale=Stale, unexpired_at=LATER))
        _commit(env, lambda tx: env.instances.stage_change(tx, inst, first, on_stale=Stale, unexpired_at=NOW))
        assert env.instances.get(inst.instance_id) == first
        with pytest.raises(Stale):  # the same help again, from the old read
            _commit(env, lambda tx: env.instances.stage_change(tx, inst, first, on_stale=Stale, unexpired_at=NOW))
        assert env.instances.get(inst.instance_id).helps == 1

    def test_an_order_takes_only_a_succeeded_unexpired_instance_of_its_owner(self, env):
        b = _bargain(helpers_needed=1)
        inst = _instance(b)
        _commit(env, lambda tx: env.instances.stage_create(tx, inst, on_exists=Fail))

        def order(user="owner", now=NOW, order_id="o1"):
            return lambda tx: env.instances.stage_order(tx, inst.instance_id, user, order_id, now,
                                                        on_unavailable=Fail)

        with pytest.raises(Fail):
            _commit(env, order())  # still ACTIVE
        done = replace(inst, status=domain.SUCCEEDED, helps=1, cut_total=inst.cuts[0], version=1)
        _commit(env, lambda tx: env.instances.stage_change(tx, inst, done, on_stale=Stale))
        with pytest.raises(Fail):
            _commit(env, order(user="friend"))
        with pytest.raises(Fail):
            _commit(env, order(now=LATER))
        _commit(env, order())
        held = env.instances.get(inst.instance_id)
        assert held == domain.ordered(done, "o1")
        with pytest.raises(Fail):
            _commit(env, order(order_id="o2"))  # one order per instance

    def test_the_expiry_queue_holds_active_and_succeeded_instances(self, env):
        b = _bargain()
        early = "2020-01-01T00:00:00Z"
        due = _instance(b, expires_at=early)
        ordered_one = _instance(b, expires_at=early)
        not_yet = _instance(b, expires_at="2999-01-01T00:00:00Z")
        for i in (due, ordered_one, not_yet):
            _commit(env, lambda tx, i=i: env.instances.stage_create(tx, i, on_exists=Fail))
        done = replace(ordered_one, status=domain.SUCCEEDED, version=1)
        _commit(env, lambda tx: env.instances.stage_change(tx, ordered_one, done, on_stale=Stale))
        _commit(env, lambda tx: env.instances.stage_order(tx, done.instance_id, "owner", "o1", "2019-01-01T00:00:00Z",
                                                          on_unavailable=Fail))
        found = {i.instance_id for i in env.instances.due("2020-06-01T00:00:00Z", 1000)}
        assert due.instance_id in found and ordered_one.instance_id not in found and not_yet.instance_id not in found
        # A closed order puts it back in the queue.
        held = env.instances.get(done.instance_id)
        back = replace(held, status=domain.SUCCEEDED, order_id=None, version=held.version + 1)
        _commit(env, lambda tx: env.instances.stage_change(tx, held, back, on_stale=Stale))
        assert env.instances.get(done.instance_id) == back
        assert done.instance_id in {i.instance_id for i in env.instances.due("2020-06-01T00:00:00Z", 1000)}

    def test_assistance_campaigns_instances_and_owed_rewards(self, env):
        c = assist.AssistCampaign(campaign_id=assist.new_campaign_id(), name="集赞", helpers_needed=1,
                                  reward_coupon_template_id="t1", ttl_s=600, starts_at=NOW, ends_at=LATER,
                                  per_user_limit=1, new_users_only=True, helps_per_user_per_day=None, created_at=NOW)
        _commit(env, lambda tx: env.campaigns.stage_create(tx, c, on_exists=Fail))
        assert env.campaigns.get(c.campaign_id) == c
        _commit(env, lambda tx: env.campaigns.stage_count_start(tx, c.campaign_id, "u1", 1, on_limit=Fail))
        with pytest.raises(Fail):
            _commit(env, lambda tx: env.campaigns.stage_count_start(tx, c.campaign_id, "u1", 1, on_limit=Fail))
        inst = assist.start(c, assist.new_instance_id(), "owner", NOW, "2020-01-01T00:00:00Z")
        _commit(env, lambda tx: env.assists.stage_create(tx, inst, on_exists=Fail))
        assert env.assists.get(inst.instance_id) == inst
        assert inst.instance_id in {i.instance_id for i in env.assists.due("2020-06-01T00:00:00Z", 1000)}
        done = replace(inst, helps=1, status=assist.SUCCEEDED, succeeded_at="0000-" + uuid.uuid4().hex,
                       reward_status=assist.OWED, version=1)
        _commit(env, lambda tx: env.assists.stage_change(tx, inst, done, on_stale=Stale))
        assert inst.instance_id not in {i.instance_id for i in env.assists.due("2020-06-01T00:00:00Z", 1000)}
        owed, _ = env.assists.rewards("OWED", 1000, None)
        assert done in owed
        refused = assist.reward_not_issued(done, "ENDED")
        _commit(env, lambda tx: env.assists.stage_change(tx, done, refused, on_stale=Stale))
        assert refused not in env.assists.rewards("OWED", 1000, None)[0]
        assert refused in env.assists.rewards("REFUSED", 1000, None)[0]
        issued = assist.reward_issued(refused, "c1")
        _commit(env, lambda tx: env.assists.stage_change(tx, refused, issued, on_stale=Stale))
        assert env.assists.get(inst.instance_id) == issued
        assert issued not in env.assists.rewards("REFUSED", 1000, None)[0]

    def test_reward_pages_follow_the_cursor(self, env):
        c = assist.AssistCampaign(campaign_id=assist.new_campaign_id(), name="集赞", helpers_needed=1,
                                  reward_coupon_template_id="t1", ttl_s=600, starts_at=NOW, ends_at=LATER,
                                  per_user_limit=9, new_users_only=False, helps_per_user_per_day=None,
                                  created_at=NOW)
        mine = set()
        for n in range(5):
            inst = assist.start(c, assist.new_instance_id(), "owner", NOW, LATER)
            done = replace(inst, helps=1, status=assist.SUCCEEDED, succeeded_at=f"0001-{n}",
                           reward_status=assist.OWED, version=1)
            _commit(env, lambda tx, i=inst: env.assists.stage_create(tx, i, on_exists=Fail))
            _commit(env, lambda tx, i=inst, d=done: env.assists.stage_change(tx, i, d, on_stale=Stale))
            mine.add(inst.instance_id)
        seen, cursor = [], None
        while True:
            page, cursor = env.assists.rewards("OWED", 2, cursor)
            assert len(page) <= 2
            seen += [i.instance_id for i in page]
            if cursor is None:
                break
        assert mine <= set(seen) and len(seen) == len(set(seen))
