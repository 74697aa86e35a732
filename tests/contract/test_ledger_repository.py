"""The ledger and anomaly repositories: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest


@dataclass
class Env:
    ledger: object
    anomalies: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    from tests.fakes.memory import FakeClock

    clock = FakeClock()
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.money import MemoryAnomalyRepository, MemoryLedgerRepository

        store = MemoryStore()
        return Env(MemoryLedgerRepository(store), MemoryAnomalyRepository(store, clock), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.anomalies import DynamoAnomalyRepository
    from layers.storage.ledger import DynamoLedgerRepository
    from layers.storage.tx import Tx

    return Env(DynamoLedgerRepository(), DynamoAnomalyRepository(clock), Tx)


class TestLedgerRepository:
    def test_entries_land_on_the_beijing_day(self, env):
        order_id, refund_id = "o" + uuid.uuid4().hex[:20], "r" + uuid.uuid4().hex[:20]
        # 16:30 UTC is already the next day in Beijing.
        now = datetime(1999, 3, 1, 16, 30, tzinfo=UTC)
        tx = env.new_tx()
        env.ledger.stage_payment(tx, order_id, 1990, "t1", "1999-03-01T10:00:00+08:00", now)
        env.ledger.stage_refund(tx, refund_id, 500, now)
        tx.commit()
        assert order_id in env.ledger.refs(date(1999, 3, 1), "PAY")
        assert refund_id in env.ledger.refs(date(1999, 3, 2), "REFUND")
        assert refund_id not in env.ledger.refs(date(1999, 3, 2), "PAY")

    def test_a_refund_is_dated_by_when_it_was_requested(self, env):
        # Asked at 23:59 Beijing on 3 March, finished at 00:01 on the 4th: WeChat's bill
        # of the 3rd lists it, so the ledger dates it the 3rd; a request time in UTC too.
        refund_id, other = "r" + uuid.uuid4().hex[:20], "r" + uuid.uuid4().hex[:20]
        finished = datetime(1999, 3, 3, 16, 1, tzinfo=UTC)
        tx = env.new_tx()
        env.ledger.stage_refund(tx, refund_id, 500, finished, requested_at="1999-03-03T23:59:00+08:00")
        env.ledger.stage_refund(tx, other, 500, finished, requested_at="1999-03-03T15:59:00Z")
        tx.commit()
        assert {refund_id, other} <= env.ledger.refs(date(1999, 3, 3), "REFUND")
        assert not {refund_id, other} & env.ledger.refs(date(1999, 3, 4), "REFUND")

    def test_reports_are_kept_by_day(self, env):
        day = date(1998, 1, 1 + uuid.uuid4().int % 28)
        assert env.ledger.get_report(day) is None or env.ledger.get_report(day).bill_date == day.isoformat()
        env.ledger.save_report(day, {"repaired": []}, [{"kind": "X", "ref": "r", "detail": "d"}], "t0")
        env.ledger.save_report(day, {"repaired": ["a"]}, [], "t1")
        report = env.ledger.get_report(day)
        assert (report.bill_date, report.summary, report.differences, report.run_at) == (
            day.isoformat(), {"repaired": ["a"]}, [], "t1")

    def test_anomalies_by_order_and_newest_first(self, env):
        order_id = "o" + uuid.uuid4().hex[:20]
        env.anomalies.record(order_id, "PAYMENT_MISMATCH", {"problems": ["amount"]})
        found = env.anomalies.for_order(order_id)
        assert [(a.order_id, a.kind, a.detail) for a in found] == [
            (order_id, "PAYMENT_MISMATCH", {"problems": ["amount"]})]
        assert all(a.created_at for a in found)
        assert order_id in [a.order_id for a in env.anomalies.recent(1000)]
