"""CouponService on the in-memory repositories: claims, the coupon's part in an order's
transactions, the post-payment gift and expiry reminders. No Java, no network."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from functions.schemas import CouponTemplateInput
from layers.clock import iso
from layers.domain import errors
from layers.domain.pricing import Line
from layers.services.coupons import CouponService
from tests.fakes.coupons import MemoryCouponTemplates, MemoryUserCoupons
from tests.fakes.memory import ConditionFailed, FakeClock, MemoryStore


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def service(store, clock):
    return CouponService(templates=MemoryCouponTemplates(store), coupons=MemoryUserCoupons(store),
                         new_tx=store.tx, clock=clock, rng=random.Random(7))


def template(service, clock, **overrides) -> dict:
    now = clock.now()
    body = {"name": "满100减20", "kind": "fixed", "value": 2000, "threshold": 10000,
            "claim_starts_at": iso(now - timedelta(minutes=1)), "claim_ends_at": iso(now + timedelta(days=1)),
            "valid_days": 7, "total": 100, "per_user_limit": 1, **overrides}
    return service.create_template(CouponTemplateInput.model_validate(body))


def line(price: int, quantity: int = 1, product: str = "p1") -> Line:
    return Line(sku_id=f"s-{product}", product_id=product, title="t", category="护肤", quantity=quantity,
                unit_price=price)


def status(service, user_id: str, coupon_id: str) -> str:
    mine, _ = service.my_coupons(user_id, None, 100, None)
    return next(c["status"] for c in mine if c["id"] == coupon_id)


def test_claims_stop_at_the_total_over_every_shard(service, clock):
    t = template(service, clock, total=5, shards=3)
    results = []
    for i in range(8):
        try:
            results.append(service.claim(f"u{i}", t["id"], None)["id"])
        except errors.SoldOut:
            results.append("SoldOut")
    assert len({r for r in results if r.startswith("c")}) == 5 and results.count("SoldOut") == 3
    listed, _ = service.list_templates(10, None)
    assert [(x["id"], x["issued"]) for x in listed] == [(t["id"], 5)]


def test_the_per_shopper_limit_and_idempotent_claims(service, clock):
    t = template(service, clock, per_user_limit=2)
    first = service.claim("u1", t["id"], "key-1")
    assert service.claim("u1", t["id"], "key-1") == first and first["status"] == "UNUSED"
    service.claim("u1", t["id"], None)
    with pytest.raises(errors.LimitExceeded):
        service.claim("u1", t["id"], None)
    assert service.templates.issued_total(t["id"]) == 2


def test_claim_windows_and_gifts_are_not_claimable(service, clock):
    now = clock.now()
    later = template(service, clock, claim_starts_at=iso(now + timedelta(hours=1)),
                     claim_ends_at=iso(now + timedelta(hours=2)))
    over = template(service, clock, claim_starts_at=iso(now - timedelta(hours=2)),
                    claim_ends_at=iso(now - timedelta(hours=1)))
    gift = template(service, clock, post_payment={"min_payable": 0})
    live = template(service, clock)
    with pytest.raises(errors.NotStarted):
        service.claim("u1", later["id"], None)
    with pytest.raises(errors.Ended):
        service.claim("u1", over["id"], None)
    with pytest.raises(errors.NotFound):
        service.claim("u1", gift["id"], None)
    with pytest.raises(errors.NotFound):
        service.claim("u1", "t_missing", None)
    claimable, _ = service.claimable_now(100, None)
    assert [x["id"] for x in claimable] == [live["id"]]


def test_my_coupons_filters_by_the_status_shown(service, clock):
    t = template(service, clock, per_user_limit=3)
    a = service.claim("u1", t["id"], None)
    with pytest.raises(errors.InvalidRequest):
        service.my_coupons("u1", "LOST", 10, None)
    assert [c["id"] for c in service.my_coupons("u1", "UNUSED", 10, None)[0]] == [a["id"]]
    clock.advance(8 * 24 * 3600)
    assert [c["id"] for c in service.my_coupons("u1", "EXPIRED", 10, None)[0]] == [a["id"]]
    assert service.my_coupons("u1", "UNUSED", 10, None)[0] == []


def test_hold_checks_the_coupon_and_answers_the_discount(service, clock, store):
    t = template(service, clock, kind="percent", value=30, max_discount=2500, threshold=10000)
    coupon = service.claim("u1", t["id"], None)
    now = iso(clock.now())
    with pytest.raises(errors.CouponNotApplicable):
        service.stage_hold(store.tx(), "u1", coupon["id"], "o1", [line(6000)], now)  # below the threshold
    with pytest.raises(errors.CouponNotApplicable):
        service.stage_hold(store.tx(), "u2", coupon["id"], "o1", [line(6000, 2)], now)  # not theirs
    with pytest.raises(errors.CouponNotApplicable):
        service.stage_hold(store.tx(), "u1", "c_missing", "o1", [line(6000, 2)], now)
    tx = store.tx()
    assert service.stage_hold(tx, "u1", coupon["id"], "o1", [line(6000, 2)], now) == 2500
    assert status(service, "u1", coupon["id"]) == "UNUSED"  # staged, not yet written
    tx.commit()
    assert status(service, "u1", coupon["id"]) == "HELD"
    with pytest.raises(errors.CouponNotApplicable, match="held"):
        service.stage_hold(store.tx(), "u1", coupon["id"], "o2", [line(6000, 2)], now)


def test_two_orders_racing_for_one_coupon_one_holds_it(service, clock, store):
    t = template(service, clock)
    coupon = service.claim("u1", t["id"], None)
    now = iso(clock.now())
    first, second = store.tx(), store.tx()
    service.stage_hold(first, "u1", coupon["id"], "o1", [line(12000)], now)
    service.stage_hold(second, "u1", coupon["id"], "o2", [line(12000)], now)
    first.commit()
    with pytest.raises(errors.CouponNotApplicable, match="already in use"):
        second.commit()
    assert service.coupons.get(coupon["id"]).held_by == "o1"


def test_a_warm_up_coupon_is_usable_only_from_its_start(service, clock, store):
    now = clock.now()
    t = template(service, clock, valid_days=None, valid_from=iso(now + timedelta(hours=2)),
                 valid_until=iso(now + timedelta(days=2)))
    coupon = service.claim("u1", t["id"], None)
    with pytest.raises(errors.CouponNotApplicable, match="yet"):
        service.stage_hold(store.tx(), "u1", coupon["id"], "o1", [line(20000)], iso(now))
    later = iso(now + timedelta(hours=2, minutes=1))
    assert service.stage_hold(store.tx(), "u1", coupon["id"], "o1", [line(20000)], later) == 2000


def test_consume_give_back_and_give_back_after_a_refund(service, clock, store):
    t = template(service, clock)
    coupon = service.claim("u1", t["id"], None)["id"]
    now = iso(clock.now())

    def run(stage, *args):
        tx = store.tx()
        stage(tx, *args)
        tx.commit()

    run(service.stage_hold, "u1", coupon, "o1", [line(12000)], now)
    run(service.stage_give_back, coupon, "o2", now)  # not the holder: nothing happens
    assert status(service, "u1", coupon) == "HELD"
    run(service.stage_give_back, coupon, "o1", now)
    assert status(service, "u1", coupon) == "UNUSED"
    run(service.stage_give_back, coupon, "o1", now)  # a second close changes nothing
    assert status(service, "u1", coupon) == "UNUSED"

    run(service.stage_hold, "u1", coupon, "o3", [line(12000)], now)
    with pytest.raises(ConditionFailed):  # consuming for an order not holding it fails the transaction
        run(service.stage_consume, coupon, "o1", now)
    run(service.stage_consume, coupon, "o3", now)
    stored = service.coupons.get(coupon)
    assert (stored.status, stored.used_by, stored.used_at, stored.held_by) == ("USED", "o3", now, None)
    run(service.stage_give_back_used, coupon, "o1", now)  # not the order that used it
    assert status(service, "u1", coupon) == "USED"
    run(service.stage_give_back_used, coupon, "o3", now)
    assert status(service, "u1", coupon) == "UNUSED"
    assert service.coupons.get(coupon).used_by is None


def test_post_payment_gift_once_per_order_and_only_above_its_minimum(service, clock):
    gift = template(service, clock, name="支付有礼", value=1000, threshold=0, post_payment={"min_payable": 5000},
                    per_user_limit=5)
    paid = {"order_id": "o1", "user_id": "u1", "payable": 8000}
    service.give_post_payment_coupons("order.paid:o1", paid)
    service.give_post_payment_coupons("order.paid:o1", paid)
    service.give_post_payment_coupons("order.paid:o2", {"order_id": "o2", "user_id": "u1", "payable": 100})
    mine, _ = service.my_coupons("u1", None, 100, None)
    assert [(c["template_id"], c["source"]) for c in mine] == [(gift["id"], "post_payment")]


def test_a_gift_sold_out_or_over_the_limit_is_skipped(service, clock):
    template(service, clock, post_payment={"min_payable": 0}, total=1, per_user_limit=1)
    for order in ("o1", "o2", "o3"):
        service.give_post_payment_coupons(f"order.paid:{order}", {"order_id": order, "user_id": "u1", "payable": 1})
    service.give_post_payment_coupons("order.paid:o4", {"order_id": "o4", "user_id": "u2", "payable": 1})
    assert len(service.my_coupons("u1", None, 10, None)[0]) == 1
    assert service.my_coupons("u2", None, 10, None)[0] == []


def test_expiring_coupons_are_the_unused_ones_in_the_window(service, clock, store):
    t = template(service, clock, per_user_limit=2, valid_days=1)
    a = service.claim("u1", t["id"], None)["id"]
    b = service.claim("u1", t["id"], None)["id"]
    tx = store.tx()
    service.stage_hold(tx, "u1", b, "o1", [line(12000)], iso(clock.now()))
    tx.commit()
    now = clock.now()
    soon = list(service.expiring_coupons(iso(now), iso(now + timedelta(hours=25))))
    assert soon == [("u1", a, "满100减20", iso(now + timedelta(days=1)))]
    assert list(service.expiring_coupons(iso(now), iso(now + timedelta(hours=23)))) == []
