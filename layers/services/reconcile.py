"""The daily reconciliation job: download WeChat Pay's trade bill for a day, compare it
with our ledger and orders, repair what WeChat says was paid and we missed (through
the same paid path as a notification), and report every other difference.

Running it twice repairs nothing the second time and writes the same report."""

from __future__ import annotations

from datetime import date, timedelta

from layers import clock
from layers.domain import reconcile as rules
from layers.observability import logger
from layers.services import orders, refunds
from layers.services import wechat as wx
from layers.storage import ledger
from layers.storage import orders as order_store
from layers.storage import refunds as refund_store


def reconcile(bill_date: date | None = None) -> dict:
    day = bill_date or (clock.now().astimezone(ledger.BEIJING).date() - timedelta(days=1))
    text = wx.pay_client().trade_bill(day)
    bill_payments, bill_refunds = rules.parse_trade_bill(text)

    ours = {}
    for p in bill_payments:
        order = order_store.get_order(p.out_trade_no, consistent=True)
        if order is not None:
            ours[p.out_trade_no] = rules.OurPayment(
                order.order_id, order.transaction_id,
                int(order.paid_amount) if order.transaction_id else None, int(order.amounts["payable"]))
    paid_ids = {e.ref for e in ledger.entries(day, "PAY")}
    missed, differences = rules.compare_payments(bill_payments, ours, paid_ids)

    repaired = []
    for p in missed:
        trade = wx.pay_client().query_order(p.out_trade_no)
        try:
            orders.mark_paid(p.out_trade_no, trade)
            repaired.append(p.out_trade_no)
        except orders.PaymentMismatch as exc:
            differences.append(rules.Difference("AMOUNT_MISMATCH", p.out_trade_no, str(exc)))

    refunded_ids = {e.ref for e in ledger.entries(day, "REFUND")}
    for r in bill_refunds:
        refund = refund_store.get_refund(refund_store.order_id_of(r.out_refund_no), r.out_refund_no)
        if refund is None:
            differences.append(rules.Difference("UNKNOWN_REFUND", r.out_refund_no, f"WeChat refunded {r.amount}"))
        elif int(refund.amount) != r.amount:
            differences.append(rules.Difference("AMOUNT_MISMATCH", r.out_refund_no,
                                                f"bill {r.amount} != ours {int(refund.amount)}"))
        elif refund.status in (refund_store.PROCESSING, refund_store.REQUESTED) and r.status == "SUCCESS":
            refunds.on_refund_result(r.out_refund_no, "SUCCESS")
            repaired.append(r.out_refund_no)
        refunded_ids.discard(r.out_refund_no)
    for refund_id in sorted(refunded_ids):
        differences.append(rules.Difference("NOT_IN_BILL", refund_id, "we recorded a refund WeChat's bill does not list"))

    summary = {"bill_date": day.isoformat(), "bill_payments": len(bill_payments),
               "bill_refunds": len(bill_refunds), "repaired": repaired, "differences": len(differences)}
    ledger.save_report(day, summary, [d.as_dict() for d in differences], clock.now_iso())
    if differences:
        logger.error("reconciliation found differences", extra={"alarm": "RECONCILIATION", **summary})
    return summary
