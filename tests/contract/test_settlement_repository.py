"""One suite, two stores: the in-memory payout repository that service tests use must
behave as the DynamoDB one does (one payout per id, changes conditioned on status and
version, the open queue, a batch's payouts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import payout as domain


class Stale(Exception):
    pass


class Exists(Exception):
    pass


class Backend:
    def __init__(self, payouts, new_tx):
        self.payouts, self.new_tx = payouts, new_tx


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.settlement import MemoryPayoutRepository

        store = MemoryStore()
        return Backend(MemoryPayoutRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.settlement import DynamoPayoutRepository
    from layers.storage.tx import Tx

    return Backend(DynamoPayoutRepository(), Tx)


def a_batch(backend, mode="auto") -> domain.Batch:
    # A day of its own: batches are per day and the table is shared by the session (other
    # suites settle on days of their own too), so one of 2.5 million days, not of 900.
    day = datetime(3000, 1, 1, 12, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 2_500_000)
    batch = domain.open_batch(day, mode, "2026-11-29T02:00:00Z")
    assert backend.payouts.create_batch(batch)
    return batch


def change(backend, before, after):
    tx = backend.new_tx()
    backend.payouts.stage_change(tx, before, after, on_stale=Stale)
    tx.commit()


class TestPayoutRepository:
    def test_a_batch_opens_once_and_records_its_runs(self, backend):
        batch = a_batch(backend)
        assert not backend.payouts.create_batch(batch)
        assert backend.payouts.get_batch(batch.batch_id) == batch
        backend.payouts.record_run(batch.batch_id, {"distributors": 2})
        stored = backend.payouts.get_batch(batch.batch_id)
        assert (stored.runs, stored.last_run) == (1, {"distributors": 2})
        assert backend.payouts.get_batch("B19000101") is None

    def test_one_payout_per_id_listed_in_its_batch(self, backend):
        batch = a_batch(backend)
        d = "u_" + uuid.uuid4().hex[:12]
        p = domain.start_claim(batch, d, ("o1", "adj:R1"), 900, "2026-11-29T02:00:00Z")
        tx = backend.new_tx()
        backend.payouts.stage_create(tx, p, on_exists=Exists)
        tx.commit()
        assert backend.payouts.get(p.payout_id) == p
        with pytest.raises(Exists):
            tx = backend.new_tx()
            backend.payouts.stage_create(tx, p, on_exists=Exists)
            tx.commit()
        assert backend.payouts.batch_payout_ids(batch.batch_id) == [p.payout_id]
        assert backend.payouts.get_many([p.payout_id, "nope"]) == [p]
        assert backend.payouts.list_for_user(d, 10, None) == ([p], None)
        assert p.payout_id in [x.payout_id for x in backend.payouts.open(1000)]
        # Final, so the follow-up sweep of tests sharing the table leaves it alone.
        change(backend, p, domain.paid(p, domain.PAID_MANUALLY, None, "2026-11-29T02:00:01Z"))
        assert p.payout_id not in [x.payout_id for x in backend.payouts.open(1000)]

    def test_changes_are_conditioned_on_status_and_version(self, backend):
        batch = a_batch(backend)
        p = domain.start_claim(batch, "u_" + uuid.uuid4().hex[:12], ("o1",), 500, "2026-11-29T02:00:00Z")
        tx = backend.new_tx()
        backend.payouts.stage_create(tx, p, on_exists=Exists)
        tx.commit()
        more = domain.add_claimed(p, ("o2", "adj:R9"), -100, "2026-11-29T02:00:01Z")
        change(backend, p, more)
        with pytest.raises(Stale):  # the same chunk again, decided from the old version
            change(backend, p, domain.add_claimed(p, ("o3",), 7, "2026-11-29T02:00:01Z"))
        assert backend.payouts.get(p.payout_id) == more
        assert (more.amount, more.commission_count) == (400, 3)
        ready = domain.claimed(more, "2026-11-29T02:00:02Z", max_fen=300)
        change(backend, more, ready)
        assert [(q.index, q.amount, q.status) for q in backend.payouts.get(p.payout_id).parts] == [
            (0, 200, "READY"), (1, 200, "READY")]
        sending = domain.claim_part(ready, 1, "2026-11-29T02:00:03Z")
        change(backend, ready, sending)
        waiting = domain.part_waiting(sending, 1, {"state": "WAIT_USER_CONFIRM", "package_info": "pkg",
                                                   "transfer_bill_no": "133"}, "2026-11-29T02:00:04Z")
        change(backend, sending, waiting)
        with pytest.raises(Stale):
            change(backend, sending, domain.part_returned(sending, 1, "late", "2026-11-29T02:00:05Z"))
        assert backend.payouts.get(p.payout_id) == waiting
        assert waiting.part(1).package_info == "pkg" and waiting.part(0).status == "READY"
        both = domain.part_paid(domain.part_paid(waiting, 1, {}, "2026-11-29T02:00:06Z"), 0, {},
                                "2026-11-29T02:00:06Z")
        change(backend, waiting, both)
        assert both.all_parts_paid and backend.payouts.get(p.payout_id) == both
        waiting = both
        done = domain.paid(waiting, domain.SUCCESS, {"transfer_bill_no": "133"}, "2026-11-29T02:00:06Z")
        change(backend, waiting, done)
        assert backend.payouts.get(p.payout_id) == done
        assert p.payout_id not in [x.payout_id for x in backend.payouts.open(1000)]

    def test_a_payout_keeps_the_debt_deducted_from_it(self, backend):
        batch = a_batch(backend)
        p = domain.start_claim(batch, "u_" + uuid.uuid4().hex[:12], ("o1",), 500, "2026-11-29T02:00:00Z")
        tx = backend.new_tx()
        backend.payouts.stage_create(tx, p, on_exists=Exists)
        tx.commit()
        zero = domain.claimed(p, "2026-11-29T02:00:01Z", max_fen=20_000, deducted=500)
        change(backend, p, zero)
        assert backend.payouts.get(p.payout_id) == zero and (zero.amount, zero.deducted) == (0, 500)
        assert p.payout_id in [x.payout_id for x in backend.payouts.open(1000)]  # its commissions to settle
        done = domain.paid(zero, domain.DEDUCTED, None, "2026-11-29T02:00:02Z")
        change(backend, zero, done)
        assert backend.payouts.get(p.payout_id) == done and done.gross == 500
        assert p.payout_id not in [x.payout_id for x in backend.payouts.open(1000)]
