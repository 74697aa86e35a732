"""The daily reconciliation job: download WeChat Pay's trade bill for a day, compare it
with our ledger and orders, repair what WeChat says was paid and we missed (through
the same paid path as a notification), and report every other difference.

Whatever WeChat gives, the job ends with a report and a log line, never an exception: a
day with no bill (NO_STATEMENT_EXIST once the bill should exist, from 10:00 the next day)
is compared as an empty bill, a bill not made yet (NO_STATEMENT_EXIST before then, or
STATEMENT_CREATING) or not usable (hash, network) is reported as such and asked for again
on the job's next run (every half hour: `reconcile_due`), a bill we cannot read is reported
without touching anything, and a row we cannot read is reported while the others are
compared. Running it twice repairs nothing the second time and writes the same report."""

from __future__ import annotations

from datetime import date

from layers.clock import iso
from layers.domain import reconcile as rules
from layers.domain.members import TopUpStatus, is_top_up
from layers.domain.order import OrderRepository
from layers.domain.payment_gateway import OrderNotFoundAtWeChat, WeChatPayError
from layers.domain.reconcile import AnomalyRepository, LedgerRepository
from layers.domain.refund import SUCCESS as REFUND_SUCCESS
from layers.domain.refund import RefundRepository, order_id_of
from layers.observability import logger
from layers.services.orders import PaymentMismatch


class ReconcileService:
    def __init__(self, *, pay, orders: OrderRepository, refunds: RefundRepository, ledger: LedgerRepository,
                 anomalies: AnomalyRepository, order_service, refund_service, clock, top_ups=None):
        # () -> TopUpService: top-ups are WeChat trades too (out_trade_no `t...`)
        self.top_ups = top_ups
        # .trade_bill(day) -> bytes, .query_order(out_trade_no) -> trade, .query_refund(out_refund_no) -> refund
        self.pay = pay
        self.orders = orders
        self.refunds = refunds
        self.ledger = ledger
        self.anomalies = anomalies
        self.order_service = order_service  # .mark_paid(order_id, trade); raises PaymentMismatch
        self.refund_service = refund_service  # .on_refund_result(refund_id, status)
        self.clock = clock

    def reconcile(self, bill_date: date | None = None) -> dict:
        day = bill_date or rules.bill_day_before(self.clock.now())
        status, error = rules.BILL_OK, None
        try:
            bill = rules.parse_trade_bill(self.pay.trade_bill(day))
        except WeChatPayError as exc:
            error = exc.code
            if exc.code == rules.NO_BILL:
                status = rules.no_bill_status(day, self.clock.now())
                if status == rules.BILL_NOT_READY_STATUS:  # not made yet: not "nothing moved"
                    return self._save(day, status, error, rules.TradeBill(), [], [])
                bill = rules.TradeBill()  # nothing moved that day, says WeChat
            elif exc.code == rules.BILL_NOT_READY:
                return self._save(day, rules.BILL_NOT_READY_STATUS, error, rules.TradeBill(), [], [])
            else:
                problem = rules.Difference("BILL_UNAVAILABLE", "bill", str(exc))
                return self._save(day, rules.BILL_UNAVAILABLE, error, rules.TradeBill(), [], [problem])
        if not bill.readable:
            return self._save(day, rules.BILL_UNREADABLE, error, bill, [], list(bill.problems))
        differences = list(bill.problems)
        repaired = self._payments(day, bill, differences)
        repaired += self._refunds(day, bill, differences)
        return self._save(day, status, error, bill, repaired, differences)

    def reconcile_due(self) -> dict:
        """The job (every half hour from 10:00): each recent day whose report has no answer
        from WeChat yet (never run, bill not made, WeChat unreachable) is reconciled; a day
        already reconciled is not asked for again."""
        done: dict[str, str] = {}
        for day in rules.days_due(self.clock.now()):
            report = self.ledger.get_report(day)
            if report is not None and report.summary.get("bill") in rules.FINAL_STATUSES:
                continue
            done[day.isoformat()] = self.reconcile(day)["bill"]
        return {"reconciled": done}

    def _payments(self, day: date, bill: rules.TradeBill, differences: list) -> list[str]:
        ours = {}
        for p in bill.payments:
            order = self.orders.get(p.out_trade_no, consistent=True)
            if order is not None:
                ours[p.out_trade_no] = rules.OurPayment(
                    order.order_id, order.transaction_id,
                    int(order.paid_amount) if order.transaction_id else None, order.payable)
            elif self.top_ups is not None and is_top_up(p.out_trade_no):
                t = self.top_ups().top_ups.get(p.out_trade_no)
                if t is not None:
                    ours[p.out_trade_no] = rules.OurPayment(t.top_up_id, t.transaction_id,
                                                            t.amount if t.transaction_id else None, t.amount)
        missed, found = rules.compare_payments(bill.payments, ours, self.ledger.refs(day, "PAY"))
        differences += found
        repaired = []
        for p in missed:
            try:
                trade = self.pay.query_order(p.out_trade_no)
            except WeChatPayError as exc:
                differences.append(rules.Difference("MISSING_PAYMENT", p.out_trade_no,
                                                    f"WeChat could not be asked about it ({exc.code}); run again"))
                continue
            if self.top_ups is not None and is_top_up(p.out_trade_no):
                self.top_ups().on_paid(trade)
                repaired.append(p.out_trade_no)
                continue
            try:
                self.order_service.mark_paid(p.out_trade_no, trade)
                repaired.append(p.out_trade_no)
            except PaymentMismatch as exc:
                differences.append(rules.Difference("AMOUNT_MISMATCH", p.out_trade_no, str(exc)))
        return repaired

    def _refunds(self, day: date, bill: rules.TradeBill, differences: list) -> list[str]:
        ours = {}
        for r in bill.refunds:
            refund = self.refunds.get(order_id_of(r.out_refund_no), r.out_refund_no)
            if refund is not None:
                ours[r.out_refund_no] = rules.OurRefund(refund.refund_id, refund.amount, refund.open)
            elif self.top_ups is not None and is_top_up(r.out_refund_no):
                t = self.top_ups().top_ups.get(order_id_of(r.out_refund_no))
                if t is not None and t.refund_amount:
                    ours[r.out_refund_no] = rules.OurRefund(r.out_refund_no, t.refund_amount,
                                                            t.status == TopUpStatus.REFUNDING)
        repair, found, unlisted = rules.compare_refunds(bill.refunds, ours, self.ledger.refs(day, "REFUND"))
        differences += found
        repaired = []
        for r in repair:
            if self.top_ups is not None and is_top_up(r.out_refund_no):
                self.top_ups().on_refund_result(r.out_refund_no, REFUND_SUCCESS.value)
                repaired.append(r.out_refund_no)
                continue
            self.refund_service.on_refund_result(r.out_refund_no, REFUND_SUCCESS.value)
            repaired.append(r.out_refund_no)
        for refund_id in unlisted:
            # Dated by us on this day, absent from WeChat's bill of it: a difference only if
            # WeChat too accepted it on this day (or does not know it at all).
            try:
                accepted = rules.refund_accepted_on(self.pay.query_refund(refund_id))
            except OrderNotFoundAtWeChat:
                differences.append(rules.Difference("NOT_IN_BILL", refund_id,
                                                    "we recorded a refund WeChat does not know"))
                continue
            except WeChatPayError as exc:
                accepted, detail = None, f"; WeChat could not be asked when it was accepted ({exc.code})"
            else:
                detail = f"; WeChat accepted it on {accepted}"
            if accepted is not None and accepted != day.isoformat():
                continue  # in the bill of the day WeChat accepted it: compared there
            differences.append(rules.Difference("NOT_IN_BILL", refund_id,
                                                "we recorded a refund WeChat's bill does not list" + detail))
        return repaired

    def _save(self, day: date, status: str, error: str | None, bill: rules.TradeBill, repaired: list[str],
              differences: list) -> dict:
        summary = {"bill_date": day.isoformat(), "bill": status, "bill_payments": len(bill.payments),
                   "bill_refunds": len(bill.refunds), "repaired": repaired, "differences": len(differences)}
        if error:
            summary["bill_error"] = error
        self.ledger.save_report(day, summary, [d.as_dict() for d in differences], iso(self.clock.now()))
        if differences:
            logger.error("reconciliation found differences", extra={"alarm": "RECONCILIATION", **summary})
        elif status == rules.BILL_NOT_READY_STATUS:
            logger.warning("WeChat's bill is not made yet: run reconcile again later", extra=summary)
        else:
            logger.info("reconciliation matched", extra=summary)
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
