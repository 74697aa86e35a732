"""One contract for the coupon grant repository: the in-memory twin
(tests/fakes/coupon_grants.py) and DynamoDB's (layers/storage/coupon_grants.py) answer
alike, the step condition included."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from layers.domain import coupon_grant as rules
from layers.domain import errors


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def grants(request):
    if request.param == "memory":
        from tests.fakes.coupon_grants import MemoryCouponGrants
        from tests.fakes.memory import MemoryStore

        return MemoryCouponGrants(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.coupon_grants import DynamoCouponGrants

    return DynamoCouponGrants()


def _grant(created_at: str = "2026-12-01T02:00:00Z", **kw):
    ids = kw.pop("user_ids", ["u1", "u2", "u3"])
    tag = kw.pop("tag", None)
    g = rules.start("g" + uuid.uuid4().hex[:20], "t1", user_ids=None if tag else ids, tag=tag,
                    tag_size=5 if tag else None, note="老客", now=created_at, by="owner")
    return replace(g, **kw)


def test_a_grant_reads_back_as_stored_with_its_target_batches(grants):
    g = _grant()
    grants.create(g, [["u1", "u2"], ["u3"]])
    assert grants.get(g.grant_id) == g
    assert grants.listed_batch(g.grant_id, 0) == ["u1", "u2"]
    assert grants.listed_batch(g.grant_id, 1) == ["u3"]
    assert grants.listed_batch(g.grant_id, 2) is None
    assert grants.get("gmissing") is None


def test_a_grant_id_is_created_once(grants):
    g = _grant()
    grants.create(g, [["u1"]])
    with pytest.raises(errors.InvalidState):
        grants.create(replace(g, note="again"), [["u9"]])
    assert grants.get(g.grant_id).note == "老客"


def test_progress_is_written_once_per_step(grants):
    g = _grant()
    grants.create(g, [["u1", "u2"], ["u3"]])
    one = rules.advance(g, {"u1": rules.ISSUED, "u2": rules.LIMIT_REACHED}, {"batch": 1}, False,
                        "2026-12-01T02:00:03Z")
    assert grants.save_progress(g, one)
    assert not grants.save_progress(g, one)  # a second runner with the same batch: refused
    assert grants.get(g.grant_id) == one
    done = rules.advance(one, {"u3": rules.ISSUED}, None, True, "2026-12-01T02:00:04Z")
    assert grants.save_progress(one, done)
    assert grants.get(g.grant_id) == done
    assert not grants.save_progress(one, done)


def test_the_list_is_latest_first_and_pages(grants):
    made = [_grant(created_at=f"2026-12-0{d}T02:00:00Z") for d in (1, 3, 2)]
    for g in made:
        grants.create(g, [["u1"]])
    ids = {g.grant_id for g in made}
    seen, cursor = [], None
    while True:
        page, cursor = grants.listed(2, cursor)
        seen += [g for g in page if g.grant_id in ids]
        if cursor is None:
            break
    assert [g.created_at[:10] for g in seen] == ["2026-12-03", "2026-12-02", "2026-12-01"]


def test_running_grants_are_found_by_their_last_progress_until_done(grants):
    g = _grant(created_at="2001-01-01T00:00:00Z", tag="vip")
    grants.create(g, [])
    assert g.grant_id in {r.grant_id for r in grants.running("2001-01-01T00:01:00Z", 100)}
    assert g.grant_id not in {r.grant_id for r in grants.running("2000-12-31T00:00:00Z", 100)}
    moved = rules.advance(g, {"a": rules.ISSUED}, {"offset": 1}, False, "2001-01-01T00:02:00Z")
    assert grants.save_progress(g, moved)
    assert g.grant_id not in {r.grant_id for r in grants.running("2001-01-01T00:01:00Z", 100)}
    assert g.grant_id in {r.grant_id for r in grants.running("2001-01-01T00:03:00Z", 100)}
    done = rules.advance(moved, {}, None, True, "2001-01-01T00:02:30Z")
    assert grants.save_progress(moved, done)
    assert g.grant_id not in {r.grant_id for r in grants.running("2001-01-01T00:03:00Z", 100)}
    assert grants.get(g.grant_id).cursor is None
