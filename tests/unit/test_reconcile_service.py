"""ReconcileService on the in-memory repositories, with the order and refund services
as stubs: what is repaired, what is reported, that a second run repairs nothing, and
that whatever WeChat answers for the bill the job ends with a report, not an exception."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from layers.domain.order import Order
from layers.domain.payment_gateway import (
    OrderNotFoundAtWeChat,
    WeChatPayError,
    WeChatPayUnavailable,
)
from layers.domain.refund import Refund
from layers.services.orders import PaymentMismatch
from layers.services.reconcile import ReconcileService
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.money import MemoryAnomalyRepository, MemoryLedgerRepository
from tests.fakes.orders import MemoryOrderRepository, MemoryRefundRepository
from tests.unit.test_reconcile_rules import BILL, bill, payment, refund

DAY = date(2026, 11, 22)
NEXT = date(2026, 11, 23)


class Pay:
    """WeChat Pay as the reconciliation sees it: a bill (bytes or a WeChat error) per day,
    orders and refunds to query."""

    def __init__(self):
        self.bills = {DAY: BILL}
        self.refunds = {}

    def trade_bill(self, day):
        answer = self.bills.get(day, WeChatPayError(400, "NO_STATEMENT_EXIST", "请求的账单文件不存在"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def query_order(self, out_trade_no):
        return {"out_trade_no": out_trade_no, "trade_state": "SUCCESS", "transaction_id": "4200001",
                "amount": {"total": 1990}}

    def query_refund(self, out_refund_no):
        if out_refund_no not in self.refunds:
            raise OrderNotFoundAtWeChat(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self.refunds[out_refund_no]


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
    e = SimpleNamespace(store=store, clock=clock, ledger=MemoryLedgerRepository(store), pay=Pay(),
                        orders=MemoryOrderRepository(store), refunds=MemoryRefundRepository(store))
    e.order_service, e.refund_service = Orders(e), Refunds()
    e.service = ReconcileService(pay=e.pay, orders=e.orders, refunds=e.refunds, ledger=e.ledger,
                                 anomalies=MemoryAnomalyRepository(store, clock), order_service=e.order_service,
                                 refund_service=e.refund_service, clock=clock)
    tx = store.tx()
    e.orders.stage_create(tx, Order(order_id="oa1", user_id="u1", openid="o1", status="PENDING_PAYMENT", items=(),
                                    amounts={"payable": 1990}, created_at="t", expires_at="t"), on_exists=RuntimeError)
    e.refunds.stage_create(tx, Refund(refund_id="ob2Rabc", order_id="ob2", user_id="u2", amount=501, reason="r",
                                      status="PROCESSING", created_at="t", updated_at="t"), on_exists=RuntimeError)
    tx.commit()
    return e


def differences(env, day=DAY):
    return {(d["kind"], d["ref"]) for d in env.service.report(day)["differences"]}


def record_refund(env, refund_id, amount, finished: datetime, requested_at=None, status="SUCCESS"):
    tx = env.store.tx()
    env.refunds.stage_create(tx, Refund(refund_id=refund_id, order_id=refund_id.split("R")[0], user_id="u", amount=amount,
                                        reason="r", status=status, created_at="t", updated_at="t"),
                             on_exists=RuntimeError)
    env.ledger.stage_refund(tx, refund_id, amount, finished, requested_at=requested_at)
    tx.commit()


def test_a_missed_payment_and_refund_are_repaired_once(env):
    first = env.service.reconcile(DAY)
    assert first["bill"] == "OK"
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


def test_a_payment_wechat_cannot_be_asked_about_is_reported_for_next_time(env):
    env.pay.query_order = lambda no: (_ for _ in ()).throw(WeChatPayUnavailable(0, "NETWORK", "timeout"))
    summary = env.service.reconcile(DAY)
    assert "oa1" not in summary["repaired"] and ("MISSING_PAYMENT", "oa1") in differences(env)


def test_default_day_is_yesterday_in_beijing(env):
    env.clock.current = env.clock.current.replace(year=2026, month=11, day=22, hour=17)  # 23rd, 01:00 Beijing
    assert env.service.reconcile()["bill_date"] == DAY.isoformat()
    assert env.service.report(date(2000, 1, 1)) is None
    assert env.service.recent_anomalies() == {"items": [], "next_cursor": None}


def test_a_day_without_a_bill_is_reported_not_raised(env):
    summary = env.service.reconcile(date(2026, 11, 20))  # WeChat: NO_STATEMENT_EXIST
    assert summary["bill"] == "NONE" and summary["bill_error"] == "NO_STATEMENT_EXIST"
    assert summary["differences"] == 0 and env.service.report(date(2026, 11, 20))["summary"] == summary
    # ... but what our ledger holds for such a day is a difference.
    tx = env.store.tx()
    env.ledger.stage_payment(tx, "oz9", 100, "4200099", "2026-11-20T12:00:00+08:00", env.clock.now())
    tx.commit()
    assert env.service.reconcile(date(2026, 11, 20))["differences"] == 1
    assert differences(env, date(2026, 11, 20)) == {("NOT_IN_BILL", "oz9")}


def test_a_bill_not_made_yet_is_reported_to_run_again(env):
    env.pay.bills[DAY] = WeChatPayError(400, "STATEMENT_CREATING", "账单生成中")
    summary = env.service.reconcile(DAY)
    assert summary["bill"] == "NOT_READY" and summary["repaired"] == [] and differences(env) == set()


@pytest.mark.parametrize("error", [WeChatPayError(200, "BILL_HASH_MISMATCH", "the bill does not match its hash"),
                                   WeChatPayError(200, "RESPONSE_NOT_VERIFIED", "bad signature"),
                                   WeChatPayUnavailable(0, "NETWORK", "timeout")])
def test_a_bill_that_cannot_be_had_is_reported_and_nothing_repaired(env, error):
    env.pay.bills[DAY] = error
    summary = env.service.reconcile(DAY)
    assert summary["bill"] == "UNAVAILABLE" and summary["bill_error"] == error.code
    assert summary["repaired"] == [] and differences(env) == {("BILL_UNAVAILABLE", "bill")}


def test_a_bill_without_a_column_we_read_is_reported_and_nothing_compared(env):
    tx = env.store.tx()
    env.ledger.stage_payment(tx, "oz9", 100, "4200099", "2026-11-22T12:00:00+08:00", env.clock.now())
    tx.commit()
    env.pay.bills[DAY] = BILL.replace("商户订单号".encode(), "订单号".encode(), 1)
    summary = env.service.reconcile(DAY)
    assert summary["bill"] == "UNREADABLE" and summary["repaired"] == [] and env.order_service.paid == []
    assert differences(env) == {("BILL_UNREADABLE", "bill")}  # not a NOT_IN_BILL for every ledger entry


def test_an_unreadable_row_is_reported_and_the_rest_reconciled(env):
    env.pay.bills[DAY] = bill(payment("oa1", "4200001", "19.90", name="山茶花,洁面"),
                              payment("ox1", "4200002", "abc"))
    summary = env.service.reconcile(DAY)
    assert summary["repaired"] == ["oa1"] and differences(env) == {("BILL_ROW_UNREADABLE", "ox1")}


def test_a_coupon_order_matches_on_what_was_ordered(env):
    env.pay.bills[DAY] = bill(payment("oa1", "4200001", "19.90", settle="17.90", coupon="2.00"))
    assert env.service.reconcile(DAY)["repaired"] == ["oa1"]
    assert env.service.reconcile(DAY)["differences"] == 0


class TestARefundAcrossMidnight:
    """Asked at 23:59:50 on the 22nd (Beijing), finished at 00:00:40 on the 23rd: WeChat's
    bill of the 22nd lists it, with the status it had then; the 23rd's does not."""

    WECHAT = {"out_refund_no": "oc3Rx", "status": "SUCCESS", "create_time": "2026-11-22T23:59:50+08:00",
              "success_time": "2026-11-23T00:00:40+08:00", "amount": {"refund": 300, "total": 300}}
    FINISHED = datetime(2026, 11, 22, 16, 0, 40, tzinfo=UTC)

    @pytest.fixture
    def env(self, env):
        env.pay.refunds["oc3Rx"] = self.WECHAT
        env.pay.bills[DAY] = bill(refund("oc3", "oc3Rx", "3.00", status="PROCESSING", at="2026-11-22 23:59:50"))
        env.pay.bills[NEXT] = bill(payment("oa1", "4200001", "19.90", at="2026-11-23 08:00:00"))
        return env

    def test_dated_by_its_request_it_is_in_that_days_bill(self, env):
        record_refund(env, "oc3Rx", 300, self.FINISHED, requested_at=self.WECHAT["create_time"])
        assert env.service.reconcile(DAY)["differences"] == 0
        assert env.service.reconcile(NEXT)["differences"] == 0

    def test_dated_by_its_finish_it_is_confirmed_with_wechat_not_reported(self, env):
        record_refund(env, "oc3Rx", 300, self.FINISHED)  # the ledger says the 23rd
        assert env.service.reconcile(DAY)["differences"] == 0
        assert env.service.reconcile(NEXT)["differences"] == 0

    def test_a_refund_wechat_accepted_that_day_and_left_out_is_a_difference(self, env):
        record_refund(env, "oc4Rx", 400, self.FINISHED)
        env.pay.refunds["oc4Rx"] = {**self.WECHAT, "out_refund_no": "oc4Rx",
                                    "create_time": "2026-11-23T00:00:10+08:00"}
        record_refund(env, "oc5Rx", 500, self.FINISHED)  # WeChat never heard of it
        env.service.reconcile(NEXT)
        assert differences(env, NEXT) == {("NOT_IN_BILL", "oc4Rx"), ("NOT_IN_BILL", "oc5Rx")}

    def test_when_wechat_cannot_be_asked_the_refund_is_reported(self, env):
        record_refund(env, "oc3Rx", 300, self.FINISHED)
        env.pay.query_refund = lambda no: (_ for _ in ()).throw(WeChatPayUnavailable(0, "NETWORK", "timeout"))
        env.service.reconcile(NEXT)
        assert differences(env, NEXT) == {("NOT_IN_BILL", "oc3Rx")}
