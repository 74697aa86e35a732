"""The coupon grant's pure rules: starting, counting a batch, progress, derived ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import coupon_grant as rules
from layers.domain import errors

NOW = "2026-12-01T02:00:00Z"
LATER = "2026-12-01T02:00:05Z"


def _grant(total: int = 3, user_ids: list[str] | None = None, tag: str | None = None, **kw):
    if user_ids is None and tag is None:
        user_ids = [f"u{i}" for i in range(total)]
    return rules.start("g1", "t1", user_ids=user_ids, tag=tag, tag_size=total if tag else None, note="双12",
                       now=NOW, **kw)


def test_a_new_grant_is_running_with_nothing_counted():
    g = _grant(3)
    assert (g.status, g.total, g.issued, g.skipped, g.step, g.cursor) == ("RUNNING", 3, 0, {}, 0, None)


@pytest.mark.parametrize("user_ids, tag", [(None, None), (["u1"], "vip"), ([], None)])
def test_a_grant_names_its_targets_one_way(user_ids, tag):
    with pytest.raises(errors.InvalidRequest):
        rules.start("g1", "t1", user_ids=user_ids, tag=tag, tag_size=1, note="", now=NOW)


def test_a_list_longer_than_the_limit_is_refused():
    with pytest.raises(errors.InvalidRequest):
        _grant(user_ids=[f"u{i}" for i in range(rules.MAX_USER_IDS + 1)])


def test_distinct_targets_keeps_the_order_and_drops_repeats_and_blanks():
    assert rules.distinct_targets(["u2", "u1", "u2", " ", "u3", "u1"]) == ["u2", "u1", "u3"]


def test_advance_counts_each_outcome_and_moves_the_cursor():
    g = rules.advance(_grant(4), {"u0": rules.ISSUED, "u1": rules.LIMIT_REACHED}, {"batch": 1}, False, LATER)
    assert (g.issued, g.skipped, g.step, g.cursor, g.status, g.updated_at) == (
        1, {"LIMIT_REACHED": 1}, 1, {"batch": 1}, "RUNNING", LATER)
    g = rules.advance(g, {"u2": rules.ISSUED, "u3": rules.OUT_OF_STOCK}, {"batch": 2}, True, LATER)
    assert (g.issued, g.skipped_total, g.step, g.cursor, g.status, g.finished_at) == (2, 2, 2, None, "DONE", LATER)
    assert g.skipped == {"LIMIT_REACHED": 1, "OUT_OF_STOCK": 1}


def test_a_done_grant_does_not_advance():
    g = rules.advance(_grant(1), {"u0": rules.ISSUED}, None, True, LATER)
    with pytest.raises(errors.InvalidState):
        rules.advance(g, {}, None, True, LATER)


def test_an_unknown_outcome_is_a_bug_not_a_count():
    with pytest.raises(ValueError):
        rules.advance(_grant(1), {"u0": "MAYBE"}, None, True, LATER)


def test_a_tag_grant_ends_with_the_total_it_worked_through():
    g = _grant(2, tag="vip")  # the tag had 2 members when the grant started, 3 by the end
    g = rules.advance(g, {"a": rules.ISSUED, "b": rules.ISSUED}, {"offset": 2}, False, LATER)
    g = rules.advance(g, {"c": rules.ISSUED}, None, True, LATER)
    assert (g.total, g.issued) == (3, 3)
    shrunk = rules.advance(_grant(5, tag="vip"), {"a": rules.ISSUED}, None, True, LATER)
    assert shrunk.total == 1


def test_progress_reaches_100_only_when_done():
    g = _grant(2)
    assert rules.progress_percent(g) == 0
    g = rules.advance(g, {"u0": rules.ISSUED}, {"batch": 1}, False, LATER)
    assert rules.progress_percent(g) == 50
    g = rules.advance(g, {"u1": rules.ISSUED, "x": rules.ISSUED}, {"batch": 2}, False, LATER)
    assert rules.progress_percent(g) == 99  # everything counted but the last batch not yet written
    assert rules.progress_percent(rules.advance(g, {}, None, True, LATER)) == 100


def test_a_targets_coupon_id_is_the_same_for_the_same_grant_and_user_only():
    a = rules.grant_coupon_id("g1", "u1")
    assert a == rules.grant_coupon_id("g1", "u1")
    assert len({a, rules.grant_coupon_id("g2", "u1"), rules.grant_coupon_id("g1", "u2")}) == 3
    assert rules.goodwill_grant_id("u1", "t1", "k") == rules.goodwill_grant_id("u1", "t1", "k")
    assert rules.goodwill_grant_id("u1", "t1", "k") != rules.goodwill_grant_id("u1", "t1", "k2")


@given(st.lists(st.lists(st.sampled_from(rules.OUTCOMES), max_size=5), min_size=1, max_size=6))
def test_every_counted_target_is_either_issued_or_skipped(batches):
    targets = sum(len(b) for b in batches)
    g = _grant(max(targets, 1))
    n = 0
    for i, batch in enumerate(batches):
        outcomes = {f"u{n + j}": o for j, o in enumerate(batch)}
        n += len(batch)
        g = rules.advance(g, outcomes, {"batch": i + 1}, i == len(batches) - 1, LATER)
    assert g.issued + g.skipped_total == targets == g.total
    assert g.issued == sum(b.count(rules.ISSUED) for b in batches)
