"""ReconcileService on the in-memory repositories, with the order and refund services
as stubs: what is repaired, what is reported, and that a second run repairs nothing."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from layers.domain.order import Order
from layers.domain.refund import Refund
from layers.services.orders import PaymentMismatch
from layers.services.reconcile import ReconcileService
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.money import MemoryAnomalyRepository, MemoryLedgerRepository
from tests.fakes.orders import MemoryOrderRepository, MemoryRefundRepository
from tests.unit.test_reconcile_rules import BILL

DAY = date(2026, 11, 22)


class Pay:
    def trade_bill(self, day):
        assert day == DAY
        return BILL

    def query_order(self, out_trade_no):
        return {"out_trade_no": out_trade_no, "trade_state": "SUCCESS", "transaction_id": "4200001",
                "amount": {"total": 1990}}


class Orders:
    """mark_paid as OrderService does it: records the payment (order and ledger)."""

    def __init__(self, env):
        self.env, self.paid, self.mismatch = env, [], False

    def mark_paid(self, order_id, trade):
        if self.mismatch:
            raise PaymentMismatch("amount")
        self.paid.append(order_id)
        tx = self.env.store.tx()
        self.env.ledger.stage_payment(tx, order_id, 1990, trade["transaction_id"], "2026-11-22T10:00:00+08:00",
                                      self.env.clock.now())
        before = self.env.orders.get(order_id)
        from dataclasses import replace

        self.env.orders.stage_change(tx, before, replace(before, status="PAID", transaction_id="4200001",
                                                         paid_amount=1990, version=before.version + 1),
                                     on_stale=RuntimeError)
        tx.commit()


class Refunds:
    def __init__(self):
        self.results = []

    def on_refund_result(self, refund_id, status):
        self.results.append((refund_id, status))


@pytest.fixture
def env():
    store, clock = MemoryStore(), FakeClock()
    e = SimpleNamespace(store=store, clock=clock, ledger=MemoryLedgerRepository(store),
                        orders=MemoryOrderRepository(store), refunds=MemoryRefundRepository(store))
    e.order_service, e.refund_service = Orders(e), Refunds()
    e.service = ReconcileService(pay=Pay(), orders=e.orders, refunds=e.refunds, ledger=e.ledger,
                                 anomalies=MemoryAnomalyRepository(store, clock), order_service=e.order_service,
                                 refund_service=e.refund_service, clock=clock)
    tx = store.tx()
    e.orders.stage_create(tx, Order(order_id="oa1", user_id="u1", openid="o1", status="PENDING_PAYMENT", items=(),
                                    amounts={"payable": 1990}, created_at="t", expires_at="t"), on_exists=RuntimeError)
    e.refunds.stage_create(tx, Refund(refund_id="ob2Rabc", order_id="ob2", user_id="u2", amount=501, reason="r",
                                      status="PROCESSING", created_at="t", updated_at="t"), on_exists=RuntimeError)
    tx.commit()
    return e


def test_a_missed_payment_and_refund_are_repaired_once(env):
    first = env.service.reconcile(DAY)
    assert first["repaired"] == ["oa1", "ob2Rabc"] and env.order_service.paid == ["oa1"]
    assert env.refund_service.results == [("ob2Rabc", "SUCCESS")]
    assert env.service.report(DAY)["summary"] == first
    # The refund service would have ended the refund; here it is still open, so only the order counts.
    second = env.service.reconcile(DAY)
    assert "oa1" not in second["repaired"]
    assert not [d for d in env.service.report(DAY)["differences"] if d["ref"] == "oa1"]


def test_a_payment_that_does_not_match_is_reported(env):
    env.order_service.mismatch = True
    summary = env.service.reconcile(DAY)
    assert "oa1" not in summary["repaired"]
    assert {"kind": "AMOUNT_MISMATCH", "ref": "oa1", "detail": "amount"} in env.service.report(DAY)["differences"]


def test_default_day_is_yesterday_in_beijing(env):
    env.clock.current = env.clock.current.replace(year=2026, month=11, day=22, hour=17)  # 23rd, 01:00 Beijing
    assert env.service.reconcile()["bill_date"] == DAY.isoformat()
    assert env.service.report(date(2000, 1, 1)) is None
    assert env.service.recent_anomalies() == {"items": [], "next_cursor": None}
