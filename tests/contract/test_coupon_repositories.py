"""One contract for the coupon repositories (templates with their issue counters, and
shoppers' coupons): the in-memory twins (tests/fakes/coupons.py) and DynamoDB's
(layers/storage/coupons.py) answer alike, conditions included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from layers.domain import coupon_template as template_rules
from layers.domain import user_coupon as domain
from layers.domain.coupon_template import CouponTemplate
from layers.domain.pricing import Line
from layers.domain.user_coupon import UserCoupon


@dataclass
class Env:
    templates: object  # a CouponTemplateRepository
    coupons: object  # a UserCouponRepository
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.coupons import MemoryCouponTemplates, MemoryUserCoupons
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryCouponTemplates(store), MemoryUserCoupons(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.coupons import DynamoCouponTemplates, DynamoUserCoupons
    from layers.storage.tx import Tx

    return Env(DynamoCouponTemplates(), DynamoUserCoupons(), Tx)


class Full(Exception):
    pass


class Limit(Exception):
    pass


class Exists(Exception):
    pass


class Stale(Exception):
    pass


def _template(**kw) -> CouponTemplate:
    values = {"template_id": template_rules.new_template_id(), "name": "满100减20", "kind": "fixed", "value": 2000,
              "threshold": 10000, "max_discount": None, "claim_starts_at": "2026-11-01T00:00:00Z",
              "claim_ends_at": "2098-12-01T00:00:00Z", "valid_from": None, "valid_until": None, "valid_days": 7,
              "total": 3, "per_user_limit": 2, "scope": {"product_ids": ["p1"], "categories": []},
              "post_payment": None, "shards": 2, "created_at": "2026-11-01T00:00:00Z"}
    values.update(kw)
    return CouponTemplate(**values)


def _coupon(template: CouponTemplate | None = None, user_id: str | None = None, **kw) -> UserCoupon:
    template = template or _template()
    coupon = domain.issue(template, user_id or "u_" + uuid.uuid4().hex[:10], domain.claim_coupon_id("u", "t", None),
                          claimed_at="2026-11-20T08:00:00Z", valid_from="2026-11-20T08:00:00Z",
                          valid_until="2026-11-27T08:00:00Z", source="claim")
    return replace(coupon, **kw)


def _create(env: Env, template: CouponTemplate) -> None:
    tx = env.new_tx()
    env.templates.stage_create(tx, template, template_rules.shard_caps(template), on_exists=Exists)
    tx.commit()


def _issue(env: Env, coupon: UserCoupon) -> None:
    tx = env.new_tx()
    env.coupons.stage_issue(tx, coupon, on_exists=Exists)
    tx.commit()


def _commit(env: Env, stage) -> None:
    tx = env.new_tx()
    stage(tx)
    tx.commit()


class TestCouponRepositories:
    def test_a_template_reads_back_as_written(self, env):
        t, gift = _template(), _template(post_payment={"min_payable": 5000}, scope=None, max_discount=300,
                                         kind="percent", value=10, valid_days=None,
                                         valid_from="2026-11-01T00:00:00Z", valid_until="2026-12-01T00:00:00Z")
        _create(env, t)
        _create(env, gift)
        assert env.templates.get(t.template_id) == t
        assert env.templates.get(gift.template_id) == gift
        assert env.templates.get("t_missing") is None
        assert env.templates.issued_total(t.template_id) == 0
        with pytest.raises(Exists):
            _create(env, t)

    def test_post_payment_templates_are_given_not_listed(self, env):
        t, gift = _template(), _template(post_payment={"min_payable": 0})
        later = _template(claim_starts_at="2099-01-01T00:00:00Z", claim_ends_at="2099-02-01T00:00:00Z")
        over = _template(claim_starts_at="2020-01-01T00:00:00Z", claim_ends_at="2020-02-01T00:00:00Z")
        for x in (t, gift, later, over):
            _create(env, x)
        gifts = [x.template_id for x in env.templates.post_payment()]
        assert gift.template_id in gifts and t.template_id not in gifts
        now = "2026-11-20T00:00:00Z"
        claimable = _all(lambda limit, cursor: env.templates.claimable(now, limit, cursor))
        assert t.template_id in claimable
        assert gift.template_id not in claimable and later.template_id not in claimable
        assert over.template_id not in claimable
        listed = _all(env.templates.listed)
        assert {t.template_id, later.template_id, over.template_id} <= set(listed)
        assert gift.template_id not in listed
        assert listed.index(later.template_id) < listed.index(t.template_id) < listed.index(over.template_id)

    def test_shards_issue_up_to_their_caps(self, env):
        t = _template(total=3, shards=2)  # caps [2, 1]
        _create(env, t)
        for k in (0, 0, 1):
            _commit(env, lambda tx, k=k: env.templates.stage_take_from_shard(tx, t.template_id, k, on_empty=Full))
        for k in (0, 1, 7):
            with pytest.raises(Full):
                _commit(env, lambda tx, k=k: env.templates.stage_take_from_shard(tx, t.template_id, k, on_empty=Full))
        assert env.templates.issued_total(t.template_id) == 3

    def test_a_shoppers_count_stops_at_the_limit(self, env):
        t = _template()
        _create(env, t)
        for _ in range(2):
            _commit(env, lambda tx: env.templates.stage_count_claim(tx, t.template_id, "u1", 2, on_limit=Limit))
        with pytest.raises(Limit):
            _commit(env, lambda tx: env.templates.stage_count_claim(tx, t.template_id, "u1", 2, on_limit=Limit))
        _commit(env, lambda tx: env.templates.stage_count_claim(tx, t.template_id, "u2", 2, on_limit=Limit))

    def test_a_failed_part_writes_nothing(self, env):
        t = _template(total=1, shards=1)
        _create(env, t)
        first, second = _coupon(t, "u1"), _coupon(t, "u2")

        def claim(coupon):
            def stage(tx):
                env.coupons.stage_issue(tx, coupon, on_exists=Exists)
                env.templates.stage_count_claim(tx, t.template_id, coupon.user_id, 1, on_limit=Limit)
                env.templates.stage_take_from_shard(tx, t.template_id, 0, on_empty=Full)
            _commit(env, stage)

        claim(first)
        with pytest.raises(Exists):
            claim(first)
        with pytest.raises(Full):
            claim(second)
        assert env.coupons.get(second.coupon_id) is None
        assert env.templates.issued_total(t.template_id) == 1
        # u2's count did not move: a claim of another template with limit 1 still passes.
        _commit(env, lambda tx: env.templates.stage_count_claim(tx, t.template_id, "u2", 1, on_limit=Limit))

    def test_a_coupon_reads_back_and_lists_for_its_owner(self, env):
        user = "u_" + uuid.uuid4().hex[:10]
        older = _coupon(user_id=user, claimed_at="2026-11-20T08:00:00Z")
        newer = _coupon(user_id=user, claimed_at="2026-11-21T08:00:00Z", source="post_payment")
        _issue(env, older)
        _issue(env, newer)
        assert env.coupons.get(older.coupon_id) == older
        assert env.coupons.get("c_missing") is None
        page, cursor = env.coupons.for_user(user, 1, None)
        assert page == [newer] and cursor is not None
        rest, _ = env.coupons.for_user(user, 10, cursor)
        assert rest == [older]

    def test_hold_consume_and_give_back_are_conditioned_on_what_was_read(self, env):
        coupon = _coupon()
        _issue(env, coupon)
        off, held = domain.hold(coupon, coupon.user_id, "o1", [_line(12000)], _now())
        assert off == 2000
        _commit(env, lambda tx: env.coupons.stage_change(tx, coupon, held, on_stale=Stale))
        assert env.coupons.get(coupon.coupon_id) == held
        # A second hold from the same stale read fails and changes nothing.
        with pytest.raises(Stale):
            _commit(env, lambda tx: env.coupons.stage_change(
                tx, coupon, replace(coupon, status=domain.HELD, held_by="o2"), on_stale=Stale))
        # Consuming for another order fails; for the holder it lands.
        with pytest.raises(Stale):
            _commit(env, lambda tx: env.coupons.stage_consume(tx, coupon.coupon_id, "o2", "2026-11-21T00:00:00Z",
                                                              on_stale=Stale))
        _commit(env, lambda tx: env.coupons.stage_consume(tx, coupon.coupon_id, "o1", "2026-11-21T00:00:00Z"))
        used = env.coupons.get(coupon.coupon_id)
        assert used == domain.consume(held, "o1", "2026-11-21T00:00:00Z")
        # Given back after a full refund of o1, only from USED by o1.
        with pytest.raises(Stale):
            _commit(env, lambda tx: env.coupons.stage_change(tx, held, domain.give_back(held, "o1"), on_stale=Stale))
        back = domain.give_back_used(used, "o1")
        _commit(env, lambda tx: env.coupons.stage_change(tx, used, back, on_stale=Stale))
        assert env.coupons.get(coupon.coupon_id) == back == coupon

    def test_a_change_from_a_stale_owner_or_holder_fails(self, env):
        coupon = _coupon()
        _issue(env, coupon)
        theirs = replace(coupon, user_id="someone_else")
        with pytest.raises(Stale):
            _commit(env, lambda tx: env.coupons.stage_change(
                tx, theirs, replace(theirs, status=domain.HELD, held_by="o1"), on_stale=Stale))
        held = replace(coupon, status=domain.HELD, held_by="o1")
        _commit(env, lambda tx: env.coupons.stage_change(tx, coupon, held, on_stale=Stale))
        by_other = replace(coupon, status=domain.HELD, held_by="o9")
        with pytest.raises(Stale):
            _commit(env, lambda tx: env.coupons.stage_change(tx, by_other, domain.give_back(by_other, "o9"),
                                                             on_stale=Stale))
        _commit(env, lambda tx: env.coupons.stage_change(tx, held, domain.give_back(held, "o1"), on_stale=Stale))
        assert env.coupons.get(coupon.coupon_id) == coupon

    def test_only_unused_coupons_are_expiring(self, env):
        until = f"2031-0{1 + uuid.uuid4().int % 9}-15T00:00:00Z"  # a window of this test's own
        soon = _coupon(valid_until=until)
        held = _coupon(valid_until=until)
        late = _coupon(valid_until="2031-12-31T00:00:00Z")
        for c in (soon, held, late):
            _issue(env, c)
        _commit(env, lambda tx: env.coupons.stage_change(
            tx, held, replace(held, status=domain.HELD, held_by="o1"), on_stale=Stale))
        ids = [c.coupon_id for c in env.coupons.expiring(until[:10], until)]
        assert soon.coupon_id in ids and held.coupon_id not in ids and late.coupon_id not in ids
        # Back to UNUSED: back in the queue.
        current = env.coupons.get(held.coupon_id)
        _commit(env, lambda tx: env.coupons.stage_change(tx, current, domain.give_back(current, "o1"),
                                                         on_stale=Stale))
        assert held.coupon_id in [c.coupon_id for c in env.coupons.expiring(until[:10], until)]


def _all(lister) -> list[str]:
    ids, cursor = [], None
    while True:
        items, cursor = lister(100, cursor)
        ids += [t.template_id for t in items]
        if cursor is None:
            return ids


def _now():
    return datetime(2026, 11, 21, tzinfo=UTC)


def _line(price: int) -> Line:
    return Line(sku_id="s1", product_id="p1", title="t", category=None, quantity=1, unit_price=price)
