"""The shop's own ledger of money WeChat Pay moved, by Beijing-time day (the day of
WeChat's bills): pk `LEDGER#<YYYY-MM-DD>`, sk `PAY#<order_id>` or `REFUND#<refund_id>`.
Written in the same transaction as the payment or refund it records, so reconciliation
compares WeChat's bill with facts that cannot drift from the orders. Reconciliation
reports live beside it: pk `RECON#<YYYY-MM-DD>`, sk `REPORT`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.storage.base import ShopModel

BEIJING = timezone(timedelta(hours=8))


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


def beijing_day(when: str | None, fallback: datetime) -> str:
    """The Beijing date of a WeChat time (`2026-11-22T16:15:00+08:00`) or of `fallback`."""
    if when:
        try:
            return datetime.fromisoformat(when).astimezone(BEIJING).date().isoformat()
        except ValueError:
            pass
    return fallback.astimezone(BEIJING).date().isoformat()


def payment_entry(day: str, order_id: str, amount: int, transaction_id: str | None, now: str) -> LedgerEntry:
    return LedgerEntry(f"LEDGER#{day}", f"PAY#{order_id}", ref=order_id, amount=amount,
                       transaction_id=transaction_id, recorded_at=now)


def refund_entry(day: str, refund_id: str, amount: int, now: str) -> LedgerEntry:
    return LedgerEntry(f"LEDGER#{day}", f"REFUND#{refund_id}", ref=refund_id, amount=amount, recorded_at=now)


def entries(day: date, kind: str) -> list[LedgerEntry]:
    return list(LedgerEntry.query(f"LEDGER#{day.isoformat()}", LedgerEntry.sk.startswith(f"{kind}#")))


def save_report(day: date, summary: dict, differences: list[dict], now: str) -> None:
    ReconReport(f"RECON#{day.isoformat()}", "REPORT", bill_date=day.isoformat(), summary=summary,
                differences=differences, run_at=now).save()


def get_report(day: date) -> ReconReport | None:
    try:
        return ReconReport.get(f"RECON#{day.isoformat()}", "REPORT")
    except ReconReport.DoesNotExist:
        return None
