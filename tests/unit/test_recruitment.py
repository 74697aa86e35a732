"""Recruitment's pure rules and the service over the in-memory fakes: applications, the
operators' decisions, managers with a template adding guides to their own group. The same
under real concurrency on DynamoDB Local: tests/integration/test_recruitment.py."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from layers.domain import distributor_application as rules
from layers.domain import errors
from layers.domain.shop_settings import ShopSettings
from layers.services.catalog import ShopSettingsService
from layers.services.recruitment import RecruitmentService
from tests.fakes.distributor_applications import MemoryApplicationRepository
from tests.unit.test_distribution_service import World

NOW = "2026-12-06T08:00:00Z"


# -- the pure rules ----------------------------------------------------------------------------

def test_what_an_application_does_by_mode():
    waiting = rules.Applicant("u1", "da_1", rules.PENDING)
    rejected = rules.Applicant("u1", "da_1", rules.REJECTED)
    with pytest.raises(errors.RecruitmentClosed):
        rules.may_apply("closed", False, None)
    with pytest.raises(errors.AlreadyDistributor):
        rules.may_apply("approval", True, None)
    assert rules.may_apply("approval", False, None) == "wait"
    assert rules.may_apply("open", False, None) == "approve"
    assert rules.may_apply("approval", False, waiting) == "existing"
    assert rules.may_apply("open", False, waiting) == "existing"
    assert rules.may_apply("approval", False, rejected) == "wait"  # rejected: may ask again


def test_one_decision_only():
    app = rules.new("da_1", "u1", "王小明", None, NOW, approved_with=None)
    assert app.status == rules.PENDING and app.decided_at is None
    approved = rules.approve(app, "ct_1", "m1", NOW, "owner")
    assert (approved.status, approved.template_id, approved.manager_id, approved.decided_by) == (
        rules.APPROVED, "ct_1", "m1", "owner")
    rejected = rules.reject(app, "资料不全", NOW, "owner")
    assert rejected.status == rules.REJECTED and rejected.reason == "资料不全"
    for decided in (approved, rejected):
        with pytest.raises(errors.ApplicationDecided):
            rules.approve(decided, "ct_1", None, NOW, "owner")
        with pytest.raises(errors.ApplicationDecided):
            rules.reject(decided, None, NOW, "owner")
    opened = rules.new("da_2", "u1", "王小明", "店员", NOW, approved_with="ct_9")
    assert opened.status == rules.APPROVED and opened.template_id == "ct_9" and opened.decided_by == "auto"


def test_the_template_an_approval_gives_and_groups():
    assert rules.template_for("a", "b", "c") == "a"
    assert rules.template_for(None, "b", "c") == "b"
    assert rules.template_for(None, None, "c") == "c"
    with pytest.raises(errors.NoTemplate):
        rules.template_for(None, None, None)
    rules.check_group(None, "m1")
    rules.check_group("m1", "m1")
    rules.check_group("m1", None)
    with pytest.raises(errors.InAnotherGroup):
        rules.check_group("m1", "m2")


# -- the service on fakes ------------------------------------------------------------------------

class Shop(World):
    def __init__(self):
        super().__init__()
        self.applications = MemoryApplicationRepository(self.store)
        self.recruit = RecruitmentService(applications=self.applications, distributors=self.distributors,
                                          users=self.users, shop_settings=self.shop_settings, distribution=self.svc,
                                          clock=self.clock, new_tx=self.store.tx)
        self.settings_svc = ShopSettingsService(settings=self.shop_settings, clock=self.clock,
                                                templates=self.distributors)

    def rules(self, **values):
        self.settings_svc.update(values)

    def apply(self, user, name="王小明", note=None):
        return self.recruit.apply(user, SimpleNamespace(name=name, note=note))

    def approve(self, app_id, template_id=None, manager_id=None):
        return self.recruit.approve(app_id, SimpleNamespace(template_id=template_id, manager_id=manager_id), "owner")

    def manager(self, template_id=None):
        user = self.shopper()
        self.svc.add_manager(SimpleNamespace(user_id=user, name=None, template_id=template_id))
        return user


@pytest.fixture
def s():
    return Shop()


def test_settings_name_an_existing_template_and_open_needs_one(s):
    assert s.settings_svc.get()["distributor_recruitment"] == "approval"
    with pytest.raises(errors.UnknownTemplate):
        s.rules(distributor_template_id="ct_nope")
    with pytest.raises(errors.NoTemplate):
        s.rules(distributor_recruitment="open")
    with pytest.raises(Exception) as bad:
        s.rules(distributor_recruitment="sometimes")
    assert "distributor_recruitment" in str(bad.value)
    assert s.settings_svc.get()["distributor_recruitment"] == "approval"  # nothing saved
    template = s.template()
    s.rules(distributor_recruitment="open", distributor_template_id=template)
    assert s.settings_svc.get()["distributor_template_id"] == template


def test_approval_waits_asking_again_answers_the_same_and_a_rejection_allows_another(s):
    user = s.shopper()
    first, new = s.apply(user, note="门店导购")
    assert new and first["status"] == "PENDING"
    again, new = s.apply(user, name="别的名字")
    assert not new and again["id"] == first["id"] and again["name"] == "王小明"
    assert s.recruit.mine(user)["id"] == first["id"]
    rejected = s.recruit.reject(first["id"], SimpleNamespace(reason="资料不全"), "owner")
    assert rejected["status"] == "REJECTED" and rejected["reason"] == "资料不全"
    assert s.distributors.get(user) is None
    second, new = s.apply(user)
    assert new and second["id"] != first["id"] and second["status"] == "PENDING"
    with pytest.raises(errors.ApplicationDecided):
        s.approve(first["id"], s.template())
    pending, _ = s.recruit.list("PENDING", 10, None)
    assert [a["id"] for a in pending] == [second["id"]]
    with pytest.raises(errors.InvalidRequest):
        s.recruit.list("MAYBE", 10, None)


def test_closed_refuses_and_open_approves_at_once_with_the_default(s):
    s.rules(distributor_recruitment="closed")
    user = s.shopper()
    with pytest.raises(errors.RecruitmentClosed):
        s.apply(user)
    assert s.applications.applicant(user) is None
    template = s.template()
    s.rules(distributor_recruitment="open", distributor_template_id=template)
    view, new = s.apply(user)
    assert new and view["status"] == "APPROVED"
    assert s.distributors.get(user).template_id == template
    again, new = s.apply(user)  # a retry whose answer was lost: the same application
    assert not new and again == view
    with pytest.raises(errors.AlreadyDistributor):
        s.apply(s.distributor())  # made by an operator


def test_approval_makes_the_distributor_with_the_right_template(s):
    default, own, managers = s.template(), s.template(), s.template()
    no_default = s.shopper()
    app, _ = s.apply(no_default)
    with pytest.raises(errors.NoTemplate):
        s.approve(app["id"])
    with pytest.raises(errors.UnknownTemplate):
        s.approve(app["id"], "ct_nope")
    with pytest.raises(errors.NotFound):
        s.approve(app["id"], own, manager_id="u_not_a_manager")
    assert s.recruit.get(app["id"])["status"] == "PENDING" and s.distributors.get(no_default) is None
    s.rules(distributor_template_id=default)
    assert s.approve(app["id"])["template_id"] == default
    m = s.manager(managers)
    cases = [(None, m, managers), (own, m, own), (own, None, own)]
    for chosen, manager_id, expected in cases:
        user = s.shopper()
        app, _ = s.apply(user)
        decided = s.approve(app["id"], chosen, manager_id)
        d = s.distributors.get(user)
        assert decided["status"] == "APPROVED" and d.template_id == expected == decided["template_id"]
        assert d.manager_id == manager_id
    with pytest.raises(errors.ApplicationDecided):
        s.approve(app["id"], own)


def test_an_applicant_in_another_group_is_refused_and_stays_pending(s):
    template = s.template()
    m1, m2 = s.manager(template), s.manager(template)
    user = s.shopper()
    app, _ = s.apply(user)
    s.recruit.add_guide(m1, SimpleNamespace(user_id=user))  # a manager added them meanwhile
    with pytest.raises(errors.InAnotherGroup):
        s.approve(app["id"], manager_id=m2)
    assert s.recruit.get(app["id"])["status"] == "PENDING"
    decided = s.approve(app["id"], manager_id=m1)
    assert decided["status"] == "APPROVED" and s.distributors.get(user).manager_id == m1


def test_managers_keep_a_template_and_add_guides_to_their_own_group(s):
    template = s.template()
    with pytest.raises(errors.UnknownTemplate):
        s.svc.add_manager(SimpleNamespace(user_id=s.shopper(), name=None, template_id="ct_nope"))
    m1 = s.manager(template)
    assert s.svc.get_manager(m1)["template_id"] == template
    s.svc.add_manager(SimpleNamespace(user_id=m1, name="华东区", template_id=None))  # template kept
    assert s.svc.get_manager(m1) | {"name": None} == s.svc.list_managers(10, None)[0][0] | {"name": None}
    assert s.svc.get_manager(m1)["template_id"] == template
    m2, bare = s.manager(template), s.manager()
    user = s.shopper()
    view, new = s.recruit.add_guide(m1, SimpleNamespace(user_id=user))
    assert new and view["manager_id"] == m1 and view["template_id"] == template
    view, new = s.recruit.add_guide(m1, SimpleNamespace(user_id=user))  # the same again: nothing new
    assert not new and view["manager_id"] == m1
    with pytest.raises(errors.InAnotherGroup):
        s.recruit.add_guide(m2, SimpleNamespace(user_id=user))
    with pytest.raises(errors.Forbidden):
        s.recruit.add_guide(s.shopper(), SimpleNamespace(user_id=s.shopper()))
    with pytest.raises(errors.NotFound):
        s.recruit.add_guide(m1, SimpleNamespace(user_id="u_nobody"))
    with pytest.raises(errors.NoTemplate):
        s.recruit.add_guide(bare, SimpleNamespace(user_id=s.shopper()))
    # A distributor in no group joins, and keeps the template an operator gave them.
    loner = s.distributor(s.template())
    own = s.distributors.get(loner).template_id
    view, new = s.recruit.add_guide(m2, SimpleNamespace(user_id=loner))
    assert new and view["manager_id"] == m2 and view["template_id"] == own
    assert {r["id"] for r in s.svc.list_group_for_manager(m1, 10, None)[0]} == {user}


def test_concurrent_requests_on_fakes_make_one_of_each(s):
    template = s.template()
    user = s.shopper()
    answers = []

    def run(fn):
        threads = [threading.Thread(target=lambda: answers.append(fn())) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run(lambda: s.apply(user)[0]["id"])
    assert len(set(answers)) == 1 and len(s.store.scan(("distapp",))) == 1
    outcomes = []

    def approve_once():
        try:
            s.approve(answers[0], template)
            outcomes.append("ok")
        except errors.ApplicationDecided:
            outcomes.append("409")
        return None

    run(approve_once)
    assert outcomes.count("ok") == 1 and outcomes.count("409") == 7
    assert ShopSettings().distributor_recruitment == "approval"


def test_asking_again_after_open_recruitment_answers_the_application_that_made_them():
    opened = rules.new("da_1", "u1", "王", None, NOW, approved_with="ct_1")
    assert rules.made_by(opened, NOW)
    assert not rules.made_by(opened, "2026-12-06T08:00:01Z")  # a distributor made some other way
    by_operator = rules.approve(rules.new("da_2", "u1", "王", None, NOW, approved_with=None), "ct_1", None, NOW,
                                "owner")
    assert not rules.made_by(by_operator, NOW) and not rules.made_by(None, NOW)
