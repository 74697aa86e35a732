"""对账: compare WeChat Pay's daily trade bill with the shop's own ledger.

Pure: it reads the bill's text and two lists of facts and says what differs. The bill
is WeChat's CSV: a header line, one line per trade with each value behind a backtick,
then a summary block. Amounts there are yuan with two decimals; here they become fen
exactly (Decimal, never float).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

# WeChat's bills are by Beijing-time day; so is our ledger.
BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class BillPayment:
    out_trade_no: str
    transaction_id: str
    amount: int


@dataclass(frozen=True)
class BillRefund:
    out_trade_no: str
    out_refund_no: str
    amount: int
    status: str


@dataclass(frozen=True)
class Difference:
    kind: str  # MISSING_PAYMENT | UNKNOWN_ORDER | AMOUNT_MISMATCH | NOT_IN_BILL | MISSING_REFUND | UNKNOWN_REFUND
    ref: str
    detail: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "ref": self.ref, "detail": self.detail}


def yuan_to_fen(text: str) -> int:
    value = Decimal(text.strip() or "0") * 100
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number of fen: {text}")
    return int(value)


def parse_trade_bill(text: str) -> tuple[list[BillPayment], list[BillRefund]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return [], []
    header = [h.strip().lstrip("\ufeff") for h in lines[0].split(",")]
    col = {name: i for i, name in enumerate(header)}
    payments, refunds = [], []
    for line in lines[1:]:
        if not line.startswith("`"):
            break  # the summary block
        values = [v.strip().lstrip("`") for v in line.split(",")]
        row = {name: values[i] if i < len(values) else "" for name, i in col.items()}
        state = row.get("交易状态", "")
        if state == "SUCCESS":
            payments.append(BillPayment(row["商户订单号"], row["微信订单号"], yuan_to_fen(row["应结订单金额"])))
        elif state == "REFUND":
            refunds.append(BillRefund(row["商户订单号"], row["商户退款单号"], yuan_to_fen(row["退款金额"]),
                                      row.get("退款状态", "")))
    return payments, refunds


@dataclass(frozen=True)
class OurPayment:
    order_id: str
    transaction_id: str | None
    amount: int | None  # what we recorded as paid; None if we recorded no payment
    payable: int


def compare_payments(bill: list[BillPayment], ours: dict[str, OurPayment],
                     ledger_ids: set[str]) -> tuple[list[BillPayment], list[Difference]]:
    """(payments WeChat has and we missed: to repair, differences to report).

    `ours` holds our orders for the bill's trades; `ledger_ids` the orders our ledger
    says were paid that day (to find payments we have and WeChat does not)."""
    missed, diffs = [], []
    in_bill = set()
    for p in bill:
        in_bill.add(p.out_trade_no)
        order = ours.get(p.out_trade_no)
        if order is None:
            diffs.append(Difference("UNKNOWN_ORDER", p.out_trade_no, f"WeChat {p.transaction_id} paid {p.amount}"))
        elif order.amount is None:
            if p.amount == order.payable:
                missed.append(p)
            else:
                diffs.append(Difference("AMOUNT_MISMATCH", p.out_trade_no, f"bill {p.amount} != payable {order.payable}"))
        elif order.amount != p.amount or (order.transaction_id and order.transaction_id != p.transaction_id):
            diffs.append(Difference("AMOUNT_MISMATCH", p.out_trade_no,
                                    f"bill {p.amount}/{p.transaction_id} != ours {order.amount}/{order.transaction_id}"))
    for order_id in sorted(ledger_ids - in_bill):
        diffs.append(Difference("NOT_IN_BILL", order_id, "we recorded a payment WeChat's bill does not list"))
    return missed, diffs


def beijing_day(when: str | None, fallback: datetime) -> str:
    """The Beijing date of a WeChat time (`2026-11-22T16:15:00+08:00`) or of `fallback`."""
    if when:
        try:
            return datetime.fromisoformat(when).astimezone(BEIJING).date().isoformat()
        except ValueError:
            pass
    return fallback.astimezone(BEIJING).date().isoformat()


def bill_day_before(now: datetime) -> date:
    """The day whose bill is due: yesterday, in Beijing."""
    return now.astimezone(BEIJING).date() - timedelta(days=1)


@dataclass(frozen=True)
class Report:
    bill_date: str
    summary: dict
    differences: list
    run_at: str


@dataclass(frozen=True)
class Anomaly:
    """A payment the operators must look at (logged at ERROR with `alarm` too)."""

    order_id: str
    kind: str
    detail: dict
    created_at: str


class LedgerRepository(Protocol):
    """The shop's own record of money WeChat Pay moved, written in the transaction of
    the payment or refund it records."""

    def stage_payment(self, tx, order_id: str, amount: int, transaction_id: str | None,
                      success_time: str | None, now: datetime) -> None: ...

    def stage_refund(self, tx, refund_id: str, amount: int, now: datetime) -> None: ...

    def refs(self, day: date, kind: str) -> set[str]:
        """The order ids (kind PAY) or refund ids (kind REFUND) recorded on that day."""

    def save_report(self, day: date, summary: dict, differences: list[dict], now: str) -> None: ...

    def get_report(self, day: date) -> Report | None: ...


class AnomalyRepository(Protocol):
    def record(self, order_id: str, kind: str, detail: dict) -> None: ...

    def for_order(self, order_id: str) -> list[Anomaly]: ...

    def recent(self, limit: int = 100) -> list[Anomaly]: ...
