"""The cut sequence of a bargain instance (layers/domain/bargain.py): properties over many
seeds and the edges (R = M, M = 1, large R), and the pure transitions."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.clock import iso
from layers.domain import bargain as rules
from layers.domain import errors
from layers.domain.helps import NotAllowed, beijing_day


@settings(max_examples=500, deadline=None)
@given(helpers=st.integers(1, 100), extra=st.integers(0, 10_000_000), seed=st.integers(0, 2**32 - 1))
def test_m_cuts_each_at_least_a_fen_summing_to_r(helpers, extra, seed):
    total = helpers + extra
    cuts = rules.cut_sequence(total, helpers, random.Random(seed))
    assert len(cuts) == helpers
    assert all(isinstance(c, int) and c >= 1 for c in cuts)
    assert sum(cuts) == total
    # After k helps the price is above the floor for every k < M: never reached early.
    assert all(sum(cuts[:k]) < total for k in range(helpers))


@pytest.mark.parametrize("total, helpers", [(5, 5), (1, 1), (99_999_999, 1), (100, 100), (10**8, 100), (101, 100)])
def test_the_edges(total, helpers):
    for seed in range(200):
        cuts = rules.cut_sequence(total, helpers, random.Random(seed))
        assert len(cuts) == helpers and min(cuts) >= 1 and sum(cuts) == total
    if total == helpers:
        assert rules.cut_sequence(total, helpers, random.Random(0)) == [1] * helpers
    if helpers == 1:
        assert rules.cut_sequence(total, helpers, random.Random(0)) == [total]


def test_earlier_cuts_are_larger_on_average_and_the_last_is_the_remainder():
    seqs = [rules.cut_sequence(10_000, 8, random.Random(seed)) for seed in range(2000)]
    means = [statistics.mean(s[i] for s in seqs) for i in range(8)]
    assert all(a > b for a, b in zip(means[:-1], means[1:-1], strict=False)), means
    assert means[0] > 2 * means[6]
    # Random, not fixed: the same position differs across seeds.
    assert len({s[0] for s in seqs}) > 100


def test_no_cuts_without_room_for_a_fen_each():
    with pytest.raises(ValueError):
        rules.cut_sequence(4, 5, random.Random(1))
    with pytest.raises(ValueError):
        rules.cut_sequence(4, 0, random.Random(1))
    with pytest.raises(errors.NotAcceptable):
        rules.check_prices(1000, 996, 5)
    rules.check_prices(1000, 995, 5)


NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def _bargain(**kw) -> rules.Bargain:
    values = dict(bargain_id="b1", sku_id="s1", product_id="p1", title="蛋糕", category=None, start_price=10_000,
                  floor_price=100, helpers_needed=3, ttl_s=3600, starts_at=iso(NOW - timedelta(hours=1)),
                  ends_at=iso(NOW + timedelta(days=1)), stock=10, per_user_limit=1, helps_per_user_per_day=None,
                  created_at=iso(NOW))
    values.update(kw)
    return rules.Bargain(**values)


def _instance(**kw) -> rules.BargainInstance:
    return rules.start(_bargain(**kw), "bi1", "owner", iso(NOW), iso(NOW + timedelta(hours=1)), random.Random(4))


def test_helps_take_the_cuts_in_order_and_the_last_reaches_the_floor():
    instance = _instance()
    seen = []
    for k, helper in enumerate(["a", "b", "c"], start=1):
        cut, instance = rules.help_(instance, helper, NOW, iso(NOW))
        seen.append(cut)
        assert instance.helps == k and instance.version == k
    assert seen == list(instance.cuts)
    assert instance.status == rules.SUCCEEDED and instance.price_now == instance.floor_price == 100
    with pytest.raises(errors.InvalidState):
        rules.help_(instance, "d", NOW, iso(NOW))


def test_refusals():
    instance = _instance()
    with pytest.raises(NotAllowed):
        rules.help_(instance, "owner", NOW, iso(NOW))
    later = NOW + timedelta(hours=1)
    assert instance.shown_status(later) == "EXPIRED"  # exactly at expires_at
    with pytest.raises(errors.InvalidState):
        rules.help_(instance, "a", later, iso(later))
    with pytest.raises(errors.InvalidState):
        rules.check_buyable(instance, "owner", NOW)  # not SUCCEEDED yet
    with pytest.raises(NotAllowed):
        rules.check_buyable(instance, "friend", NOW)


def test_order_lifecycle_and_expiry():
    instance = _instance(helpers_needed=1)
    _, done = rules.help_(instance, "a", NOW, iso(NOW))
    rules.check_buyable(done, "owner", NOW)
    held = rules.ordered(done, "o1")
    assert held.status == rules.ORDERED and held.order_id == "o1"
    assert rules.expire(held, NOW + timedelta(days=1)) is None  # ORDERED waits for its order
    assert rules.order_paid(held, "o2") is None
    assert rules.order_paid(held, "o1").status == rules.PURCHASED
    assert rules.order_closed(held, "o1", NOW).status == rules.SUCCEEDED
    assert rules.order_closed(held, "o1", NOW + timedelta(hours=2)).status == rules.EXPIRED
    assert rules.order_closed(rules.order_paid(held, "o1"), "o1", NOW) is None
    assert rules.expire(done, NOW) is None
    assert rules.expire(done, NOW + timedelta(hours=1)).status == rules.EXPIRED


def test_the_daily_quota_counts_in_beijing_days():
    assert beijing_day(datetime(2026, 11, 29, 15, 59, tzinfo=UTC)) == "2026-11-29"
    assert beijing_day(datetime(2026, 11, 29, 16, 0, tzinfo=UTC)) == "2026-11-30"
