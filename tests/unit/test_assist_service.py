"""AssistService on the in-memory repositories and the real coupon service over the same
store: the count, the refusals, new_users_only, and the reward given exactly once (owed
while the template is out of stock, retried by the job)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from functions.schemas import AssistCampaignInput, CouponTemplateInput
from layers.clock import iso
from layers.domain import errors
from layers.domain.helps import AlreadyHelped, NotAllowed
from layers.services.assistance import AssistService
from layers.services.coupons import CouponService
from tests.fakes.bargains import (
    MemoryAssistCampaignRepository,
    MemoryAssistInstanceRepository,
    MemoryHelpRepository,
    RecordingTimer,
)
from tests.fakes.coupons import MemoryCouponTemplates, MemoryUserCoupons
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.users import MemoryUserRepository


class World:
    def __init__(self):
        self.store, self.clock = MemoryStore(), FakeClock()
        self.templates = MemoryCouponTemplates(self.store)
        self.coupons = CouponService(templates=self.templates, coupons=MemoryUserCoupons(self.store),
                                     new_tx=self.store.tx, clock=self.clock, rng=random.Random(2))
        self.users = MemoryUserRepository(self.store)
        self.instances = MemoryAssistInstanceRepository(self.store)
        self.service = AssistService(
            campaigns=MemoryAssistCampaignRepository(self.store), instances=self.instances,
            helps=MemoryHelpRepository(self.store), users=self.users, coupons=self.coupons,
            templates=self.templates, timer=RecordingTimer(self.clock), clock=self.clock, new_tx=self.store.tx)

    def template(self, total=10, **kw) -> dict:
        now = self.clock.now()
        return self.coupons.create_template(CouponTemplateInput.model_validate({
            "name": "蛋糕券", "kind": "fixed", "value": 5000, "threshold": 0,
            "claim_starts_at": iso(now - timedelta(minutes=1)), "claim_ends_at": iso(now + timedelta(days=7)),
            "valid_days": 30, "total": total, "per_user_limit": 5, **kw}))

    def campaign(self, template_id=None, **kw) -> dict:
        now = self.clock.now()
        return self.service.create_campaign(AssistCampaignInput.model_validate({
            "name": "集 3 个赞领蛋糕", "helpers_needed": 3,
            "reward_coupon_template_id": template_id or self.template()["id"], "ttl_s": 3600,
            "starts_at": iso(now - timedelta(minutes=1)), "ends_at": iso(now + timedelta(days=1)),
            "per_user_limit": 3, **kw}))

    def user(self, name: str) -> str:
        return self.users.upsert_user(f"openid-{name}", None, iso(self.clock.now())).user_id

    def coupons_of(self, user_id: str) -> list[dict]:
        return self.coupons.my_coupons(user_id, None, 100, None)[0]


@pytest.fixture
def w():
    return World()


def test_the_last_help_gives_the_reward_once(w):
    c = w.campaign()
    instance = w.service.start("owner", c["id"])
    assert instance["status"] == "ACTIVE" and instance["reward_coupon_id"] is None
    w.service.help("f1", instance["id"])
    w.service.help("f2", instance["id"])
    last = w.service.help("f3", instance["id"])
    assert last["status"] == "SUCCEEDED" and last["reward_coupon_id"]
    [coupon] = w.coupons_of("owner")
    assert coupon["id"] == last["reward_coupon_id"] and coupon["source"] == "assist"
    with pytest.raises(errors.InvalidState):
        w.service.help("f4", instance["id"])
    assert w.service.give_reward(instance["id"]).reward_status == "ISSUED"  # again: nothing more
    assert w.service.retry_rewards() == {"rewards_issued": 0, "rewards_owed": 0}
    assert len(w.coupons_of("owner")) == 1


def test_refusals(w):
    c = w.campaign(helps_per_user_per_day=1)
    one, two = w.service.start("owner", c["id"]), w.service.start("owner2", c["id"])
    with pytest.raises(NotAllowed):
        w.service.help("owner", one["id"])
    w.service.help("f1", one["id"])
    with pytest.raises(AlreadyHelped):
        w.service.help("f1", one["id"])
    with pytest.raises(errors.LimitExceeded):
        w.service.help("f1", two["id"])
    w.clock.advance(3600)
    with pytest.raises(errors.InvalidState):
        w.service.help("f2", one["id"])
    assert w.service.get_instance(one["id"])["helps"] == 1
    assert w.service.get_instance(one["id"])["status"] == "EXPIRED"
    assert w.service.expire_due() == {"assist_instances_expired": 2}


def test_new_users_only_counts_first_logins_after_the_start(w):
    old_friend = w.user("old")
    w.clock.advance(5)
    c = w.campaign(new_users_only=True)
    instance = w.service.start("owner", c["id"])
    with pytest.raises(NotAllowed):
        w.service.help(old_friend, instance["id"])
    with pytest.raises(NotAllowed):
        w.service.help("never-logged-in", instance["id"])
    w.clock.advance(5)
    newcomer = w.user("new")
    w.clock.advance(5)
    w.user("old")  # logging in again does not make an old shopper new
    with pytest.raises(NotAllowed):
        w.service.help(old_friend, instance["id"])
    assert w.service.help(newcomer, instance["id"])["helps"] == 1


def test_out_of_stock_leaves_the_reward_owed_and_the_job_gives_it_later(w):
    t = w.template(total=1)
    w.coupons.claim("someone", t["id"], None)  # the only coupon is gone
    c = w.campaign(template_id=t["id"], helpers_needed=1)
    instance = w.service.start("owner", c["id"])
    answer = w.service.help("f1", instance["id"])
    assert answer["status"] == "SUCCEEDED" and answer["reward_coupon_id"] is None
    view = w.service.get_instance(instance["id"])
    assert view["reward_status"] == "OWED" and view["reward_error"] == "SOLD_OUT"
    owed, _ = w.service.rewards("OWED", 20, None)
    assert [i["id"] for i in owed] == [instance["id"]]
    assert w.service.retry_rewards() == {"rewards_issued": 0, "rewards_owed": 1}
    assert w.coupons_of("owner") == []
    # A coupon comes back to the template (here: its one shard's cap raised by one).
    w.store.items[("coupon_shard", t["id"], 0)] = (2, 1)
    assert w.service.retry_rewards() == {"rewards_issued": 1, "rewards_owed": 0}
    assert len(w.coupons_of("owner")) == 1
    assert w.service.rewards("OWED", 20, None)[0] == []
    assert w.service.retry_rewards() == {"rewards_issued": 0, "rewards_owed": 0}


def test_a_reward_that_can_never_be_given_is_refused_for_the_operators(w):
    t = w.template(per_user_limit=1)
    c = w.campaign(template_id=t["id"], helpers_needed=1)
    w.coupons.claim("owner", t["id"], None)  # the owner already has their one coupon of it
    instance = w.service.start("owner", c["id"])
    w.service.help("f1", instance["id"])
    view = w.service.get_instance(instance["id"])
    assert view["reward_status"] == "REFUSED" and view["reward_error"] == "LIMIT_EXCEEDED"
    assert [i["id"] for i in w.service.rewards("REFUSED", 20, None)[0]] == [instance["id"]]
    assert w.service.retry_rewards() == {"rewards_issued": 0, "rewards_owed": 0}
    with pytest.raises(errors.InvalidRequest):
        w.service.rewards("ISSUED", 20, None)


def test_the_campaign_needs_a_template_and_a_window(w):
    with pytest.raises(errors.NotFound):
        w.campaign(template_id="t-missing")
    c = w.campaign(per_user_limit=1, starts_at=iso(w.clock.now() - timedelta(hours=1)))
    w.service.start("owner", c["id"])
    with pytest.raises(errors.LimitExceeded):
        w.service.start("owner", c["id"])
    w.clock.advance(86400)
    with pytest.raises(errors.Ended):
        w.service.start("owner2", c["id"])
