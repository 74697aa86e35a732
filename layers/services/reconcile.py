"""The daily reconciliation job: download WeChat Pay's trade bill for a day, compare it
with our ledger and orders, repair what WeChat says was paid and we missed (through
the same paid path as a notification), and report every other difference.

Running it twice repairs nothing the second time and writes the same report."""

from __future__ import annotations

from datetime import date

from layers.clock import iso
from layers.domain import reconcile as rules
from layers.domain.order import OrderRepository
from layers.domain.reconcile import AnomalyRepository, LedgerRepository
from layers.domain.refund import SUCCESS as REFUND_SUCCESS
from layers.domain.refund import RefundRepository, order_id_of
from layers.observability import logger
from layers.services.orders import PaymentMismatch


class ReconcileService:
    def __init__(self, *, pay, orders: OrderRepository, refunds: RefundRepository, ledger: LedgerRepository,
                 anomalies: AnomalyRepository, order_service, refund_service, clock):
        self.pay = pay  # .trade_bill(day) -> text, .query_order(out_trade_no) -> trade
        self.orders = orders
        self.refunds = refunds
        self.ledger = ledger
        self.anomalies = anomalies
        self.order_service = order_service  # .mark_paid(order_id, trade); raises PaymentMismatch
        self.refund_service = refund_service  # .on_refund_result(refund_id, status)
        self.clock = clock

    def reconcile(self, bill_date: date | None = None) -> dict:
        day = bill_date or rules.bill_day_before(self.clock.now())
        bill_payments, bill_refunds = rules.parse_trade_bill(self.pay.trade_bill(day))

        ours = {}
        for p in bill_payments:
            order = self.orders.get(p.out_trade_no, consistent=True)
            if order is not None:
                ours[p.out_trade_no] = rules.OurPayment(
                    order.order_id, order.transaction_id,
                    int(order.paid_amount) if order.transaction_id else None, order.payable)
        missed, differences = rules.compare_payments(bill_payments, ours, self.ledger.refs(day, "PAY"))

        repaired = []
        for p in missed:
            trade = self.pay.query_order(p.out_trade_no)
            try:
                self.order_service.mark_paid(p.out_trade_no, trade)
                repaired.append(p.out_trade_no)
            except PaymentMismatch as exc:
                differences.append(rules.Difference("AMOUNT_MISMATCH", p.out_trade_no, str(exc)))

        refunded_ids = self.ledger.refs(day, "REFUND")
        for r in bill_refunds:
            refund = self.refunds.get(order_id_of(r.out_refund_no), r.out_refund_no)
            if refund is None:
                differences.append(rules.Difference("UNKNOWN_REFUND", r.out_refund_no, f"WeChat refunded {r.amount}"))
            elif refund.amount != r.amount:
                differences.append(rules.Difference("AMOUNT_MISMATCH", r.out_refund_no,
                                                    f"bill {r.amount} != ours {refund.amount}"))
            elif refund.open and r.status == REFUND_SUCCESS:
                self.refund_service.on_refund_result(r.out_refund_no, REFUND_SUCCESS.value)
                repaired.append(r.out_refund_no)
            refunded_ids.discard(r.out_refund_no)
        for refund_id in sorted(refunded_ids):
            differences.append(rules.Difference("NOT_IN_BILL", refund_id,
                                                "we recorded a refund WeChat's bill does not list"))

        summary = {"bill_date": day.isoformat(), "bill_payments": len(bill_payments),
                   "bill_refunds": len(bill_refunds), "repaired": repaired, "differences": len(differences)}
        self.ledger.save_report(day, summary, [d.as_dict() for d in differences], iso(self.clock.now()))
        if differences:
            logger.error("reconciliation found differences", extra={"alarm": "RECONCILIATION", **summary})
        return summary

    def report(self, day: date) -> dict | None:
        """GET /admin/reconciliations/{bill_date}."""
        report = self.ledger.get_report(day)
        if report is None:
            return None
        return {"bill_date": report.bill_date, "summary": report.summary, "differences": report.differences,
                "run_at": report.run_at}

    def recent_anomalies(self, limit: int = 100) -> dict:
        """GET /admin/anomalies."""
        return {"items": [{"order_id": a.order_id, "kind": a.kind, "detail": a.detail, "created_at": a.created_at}
                          for a in self.anomalies.recent(limit)], "next_cursor": None}
