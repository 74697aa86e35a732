"""The shop's own ledger of money WeChat Pay moved, by Beijing-time day (the day of
WeChat's bills): pk `LEDGER#<YYYY-MM-DD>`, sk `PAY#<order_id>` or `REFUND#<refund_id>`.
Written in the same transaction as the payment or refund it records, so reconciliation
compares WeChat's bill with facts that cannot drift from the orders. Reconciliation
reports live beside it: pk `RECON#<YYYY-MM-DD>`, sk `REPORT`."""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.clock import iso
from layers.domain.reconcile import BEIJING, Report, beijing_day
from layers.storage.base import ShopModel

__all__ = ["BEIJING", "DynamoLedgerRepository", "LedgerEntry", "ReconReport"]


class LedgerEntry(ShopModel):
    ref = UnicodeAttribute()
    amount = NumberAttribute()
    transaction_id = UnicodeAttribute(null=True)
    recorded_at = UnicodeAttribute()


class ReconReport(ShopModel):
    bill_date = UnicodeAttribute()
    summary = JSONAttribute()
    differences = JSONAttribute()
    run_at = UnicodeAttribute()


def _report_key(day: date) -> tuple[str, str]:
    return f"RECON#{day.isoformat()}", "REPORT"


class DynamoLedgerRepository:
    """layers.domain.reconcile.LedgerRepository."""

    def stage_payment(self, tx, order_id: str, amount: int, transaction_id: str | None,
                      success_time: str | None, now: datetime) -> None:
        day = beijing_day(success_time, now)
        tx.put(LedgerEntry(f"LEDGER#{day}", f"PAY#{order_id}", ref=order_id, amount=amount,
                           transaction_id=transaction_id, recorded_at=iso(now)))

    def stage_refund(self, tx, refund_id: str, amount: int, now: datetime,
                     requested_at: str | None = None) -> None:
        # Dated as WeChat's bill dates a refund: the day its request was accepted, not the
        # day it finished (a refund asked at 23:59 and done at 00:01 is in the first bill).
        day = beijing_day(requested_at, now)
        tx.put(LedgerEntry(f"LEDGER#{day}", f"REFUND#{refund_id}", ref=refund_id, amount=amount,
                           recorded_at=iso(now)))

    def refs(self, day: date, kind: str) -> set[str]:
        return {e.ref for e in LedgerEntry.query(f"LEDGER#{day.isoformat()}",
                                                 LedgerEntry.sk.startswith(f"{kind}#"))}

    def save_report(self, day: date, summary: dict, differences: list[dict], now: str) -> None:
        ReconReport(*_report_key(day), bill_date=day.isoformat(), summary=summary,
                    differences=differences, run_at=now).save()

    def get_report(self, day: date) -> Report | None:
        try:
            item = ReconReport.get(*_report_key(day))
        except ReconReport.DoesNotExist:
            return None
        return Report(item.bill_date, item.summary, item.differences, item.run_at)
