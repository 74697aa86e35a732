"""对账: compare WeChat Pay's daily trade bill with the shop's own ledger.

Pure: it reads the bill WeChat served and two lists of facts and says what differs.

The bill (交易账单, `GET /v3/bill/tradebill` then its `download_url`; format in WeChat
Pay's "交易账单文件格式说明") is four parts: a header line of column names, one line per
payment or refund with every value behind a backtick, a summary header line and a
summary line. Fields are separated by commas, and nothing is quoted: a free-text value
(商品名称, 商户数据包) may itself hold a comma, so a detail line is split where a comma
is followed by the backtick that starts the next value, and the columns are found by
name (WeChat documents that their order may change and has added columns over time).
The file is UTF-8 (sometimes behind a byte-order mark) served without a charset.
Amounts are yuan with two decimals; here they become fen exactly (Decimal, never float).

A bill's data time is the day WeChat dates it by: a payment by its success time, a
refund by the time WeChat accepted the refund request (商户退款受理成功时间), not when it
finished; its 退款状态 is a snapshot taken when the bill was made.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Protocol

# WeChat's bills are by Beijing-time day; so is our ledger.
BEIJING = timezone(timedelta(hours=8))

# What WeChat answers `GET /v3/bill/tradebill` with when there is no bill file (documented
# in its FAQ): no payment and no refund that day, or the bill is not made yet (bills are
# made from 09:00 the next day; WeChat advises asking after 10:00 and again every half hour).
NO_BILL = "NO_STATEMENT_EXIST"
BILL_NOT_READY = "STATEMENT_CREATING"

# Bill status in a report's summary.
BILL_OK, BILL_NONE, BILL_NOT_READY_STATUS, BILL_UNREADABLE, BILL_UNAVAILABLE = (
    "OK", "NONE", "NOT_READY", "UNREADABLE", "UNAVAILABLE")

# Columns of the ALL bill that we read.
TIME, TRADE_STATE, OUT_TRADE_NO, TRANSACTION_ID = "交易时间", "交易状态", "商户订单号", "微信订单号"
SETTLEMENT_AMOUNT, COUPON_AMOUNT, ORDER_AMOUNT = "应结订单金额", "代金券金额", "订单金额"
OUT_REFUND_NO, REFUND_AMOUNT, REFUND_APPLIED, REFUND_STATUS = "商户退款单号", "退款金额", "申请退款金额", "退款状态"
# Free text the merchant or payer supplies: the only values that may hold a comma.
FREE_TEXT = ("商品名称", "商户数据包")
SUMMARY_COUNT = "总交易单数"


@dataclass(frozen=True)
class BillPayment:
    out_trade_no: str
    transaction_id: str
    amount: int  # 订单金额: what the order was for, the `amount.total` we asked and record
    settlement: int = 0  # 应结订单金额: what the merchant is settled (amount minus no-recharge coupons)
    coupon: int = 0  # 代金券金额


@dataclass(frozen=True)
class BillRefund:
    out_trade_no: str
    out_refund_no: str
    amount: int  # 申请退款金额: what was asked, the `amount.refund` we sent and record
    status: str  # 退款状态 when the bill was made: SUCCESS, PROCESSING, REFUNDCLOSE, CHANGE
    settlement: int = 0  # 退款金额: the settlement side of it (less no-recharge coupons)


@dataclass(frozen=True)
class Difference:
    # MISSING_PAYMENT | UNKNOWN_ORDER | AMOUNT_MISMATCH | NOT_IN_BILL | MISSING_REFUND | UNKNOWN_REFUND
    # | BILL_UNREADABLE (the bill as a whole) | BILL_ROW_UNREADABLE | BILL_SUMMARY_MISMATCH
    # | BILL_UNAVAILABLE (WeChat gave no bill we could use)
    kind: str
    ref: str
    detail: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "ref": self.ref, "detail": self.detail}


@dataclass(frozen=True)
class TradeBill:
    payments: list[BillPayment] = field(default_factory=list)
    refunds: list[BillRefund] = field(default_factory=list)
    problems: list[Difference] = field(default_factory=list)  # what could not be read, reported
    readable: bool = True  # False: not one row can be trusted (no header, a column we read missing)


def yuan_to_fen(text: str) -> int:
    try:
        value = Decimal(text.strip() or "0") * 100
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"not a whole number of fen: {text!r}")
    return int(value)


def decode_bill(data: bytes | str) -> str:
    """The bill's text: UTF-8 whatever the response said (WeChat sends no charset), its
    byte-order mark dropped. Raises ValueError if the bytes are not UTF-8."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the bill is not UTF-8: {exc}") from exc


def _is_detail(line: str) -> bool:
    """A line of values (each behind a backtick), not of column names."""
    return line.lstrip().lstrip('"').startswith("`")


def _values(line: str) -> list[str]:
    """A backtick-prefixed line's values, split only where a comma starts the next value."""
    body = line.strip()
    if body.startswith("`"):
        body = body[1:]
    return [v.strip() for v in body.split(",`")]


def _fit(values: list[str], line: str, header: list[str]) -> list[str] | None:
    """The values of a detail line, one per column, or None if they cannot be placed.

    A free-text value holding ",`" splits in two; a value WeChat (or a spreadsheet) put
    in double quotes may hold a comma. Either way the columns around the free text are
    still certain: those before it counted from the left, those after it from the right."""
    n = len(header)
    if len(values) == n:
        return values
    try:
        quoted = [v.strip().lstrip("`").strip() for v in next(csv.reader([line.strip()]))]
    except (csv.Error, StopIteration):
        quoted = []
    if len(quoted) == n:
        return quoted
    free = [i for i, name in enumerate(header) if name in FREE_TEXT]
    if len(values) > n and free and free[-1] - free[0] + 1 == len(free):
        extra = len(values) - n
        first, last = free[0], free[-1]
        merged = ",`".join(values[first:last + 1 + extra])
        return values[:first] + [merged] + [""] * (last - first) + values[last + 1 + extra:]
    return None


def parse_trade_bill(data: bytes | str) -> TradeBill:
    """WeChat's ALL trade bill for one day: its payments, its refunds, and each thing in it
    that could not be read as a Difference (never an exception: a bad row is reported and
    the others are still compared)."""
    try:
        text = decode_bill(data)
    except ValueError as exc:
        return TradeBill(problems=[Difference("BILL_UNREADABLE", "bill", str(exc))], readable=False)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or _is_detail(lines[0]):
        return TradeBill(problems=[Difference("BILL_UNREADABLE", "bill", "no header line")], readable=False)
    header = [h.strip().strip("`").strip('"').strip() for h in lines[0].split(",")]
    col = {name: i for i, name in enumerate(header)}
    missing = [name for name in (TRADE_STATE, OUT_TRADE_NO, TRANSACTION_ID, OUT_REFUND_NO, REFUND_STATUS)
               if name not in col]
    if ORDER_AMOUNT not in col and not (SETTLEMENT_AMOUNT in col and COUPON_AMOUNT in col):
        missing.append(ORDER_AMOUNT)
    if REFUND_APPLIED not in col and REFUND_AMOUNT not in col:
        missing.append(REFUND_APPLIED)
    if missing:
        return TradeBill(problems=[Difference("BILL_UNREADABLE", "bill",
                                              f"the bill has no column {', '.join(missing)}")], readable=False)

    payments, refunds, problems = [], [], []
    detail_rows, summary = 0, None
    for number, line in enumerate(lines[1:], start=2):
        if not _is_detail(line):
            # The summary header; the line after it is the summary.
            names = [h.strip() for h in line.split(",")]
            following = lines[number] if number < len(lines) else ""
            summary = dict(zip(names, _values(following), strict=False))
            break
        detail_rows += 1
        values = _fit(_values(line), line, header)
        if values is None:
            problems.append(Difference("BILL_ROW_UNREADABLE", f"line {number}",
                                       f"{len(_values(line))} values for {len(header)} columns"))
            continue
        row = dict(zip(header, values, strict=True))
        ref = row.get(OUT_TRADE_NO) or f"line {number}"
        state = row[TRADE_STATE]
        try:
            if state == "SUCCESS":
                settlement = yuan_to_fen(row.get(SETTLEMENT_AMOUNT, "0"))
                coupon = yuan_to_fen(row.get(COUPON_AMOUNT, "0"))
                amount = yuan_to_fen(row[ORDER_AMOUNT]) if ORDER_AMOUNT in row else settlement + coupon
                payments.append(BillPayment(row[OUT_TRADE_NO], row[TRANSACTION_ID], amount, settlement, coupon))
            elif state == "REFUND":
                settled = yuan_to_fen(row.get(REFUND_AMOUNT, "0"))
                applied = yuan_to_fen(row[REFUND_APPLIED]) if REFUND_APPLIED in row else settled
                refunds.append(BillRefund(row[OUT_TRADE_NO], row[OUT_REFUND_NO], applied, row[REFUND_STATUS],
                                          settled))
            else:
                problems.append(Difference("BILL_ROW_UNREADABLE", ref, f"交易状态 {state!r} is not handled"))
        except ValueError as exc:
            problems.append(Difference("BILL_ROW_UNREADABLE", ref, str(exc)))
    if summary is None:
        problems.append(Difference("BILL_SUMMARY_MISMATCH", "summary", "the bill has no summary"))
    elif SUMMARY_COUNT in summary and summary[SUMMARY_COUNT].isdigit() and int(summary[SUMMARY_COUNT]) != detail_rows:
        problems.append(Difference("BILL_SUMMARY_MISMATCH", "summary",
                                   f"{SUMMARY_COUNT} {summary[SUMMARY_COUNT]} but {detail_rows} rows"))
    return TradeBill(payments, refunds, problems)


@dataclass(frozen=True)
class OurPayment:
    order_id: str
    transaction_id: str | None
    amount: int | None  # what we recorded as paid (WeChat's amount.total); None if we recorded no payment
    payable: int


def compare_payments(bill: list[BillPayment], ours: dict[str, OurPayment],
                     ledger_ids: set[str]) -> tuple[list[BillPayment], list[Difference]]:
    """(payments WeChat has and we missed: to repair, differences to report).

    `ours` holds our orders for the bill's trades; `ledger_ids` the orders our ledger
    says were paid that day (to find payments we have and WeChat does not).

    The amount compared is the bill's 订单金额 (order amount), not 应结订单金额. Our
    order and ledger record `amount.total`: what we asked WeChat to collect, the order's
    payable after the shop's own coupons. A WeChat Pay coupon (代金券) is applied by
    WeChat on top of that: the payer pays less, and for a no-recharge coupon (免充值券,
    funded by the merchant) WeChat settles less: 应结订单金额 = 订单金额 - 非充值代金券
    金额. Comparing 应结订单金额 would report every such order as a mismatch although the
    order was paid in full; 订单金额 is the column that means what we recorded (older
    bills without it: 应结订单金额 + 代金券金额, which is the same sum)."""
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


@dataclass(frozen=True)
class OurRefund:
    refund_id: str
    amount: int  # what we asked WeChat to refund (amount.refund)
    open: bool


def compare_refunds(bill: list[BillRefund], ours: dict[str, OurRefund],
                    ledger_ids: set[str]) -> tuple[list[BillRefund], list[Difference], list[str]]:
    """(refunds WeChat's bill says succeeded that we still hold open: to repair,
    differences to report, refunds our ledger dates that day that the bill does not list).

    The amount compared is 申请退款金额 (what was asked, our `amount.refund`); 退款金额
    is its settlement side, less what no-recharge coupons paid. The last list is not yet
    a difference: the ledger may date a refund by our own time while the bill dates it by
    WeChat's acceptance, and the two can fall either side of midnight, so the caller asks
    WeChat when each was accepted (`refund_accepted_on`) before reporting it."""
    repair, diffs = [], []
    in_bill = set()
    for r in bill:
        in_bill.add(r.out_refund_no)
        refund = ours.get(r.out_refund_no)
        if refund is None:
            diffs.append(Difference("UNKNOWN_REFUND", r.out_refund_no, f"WeChat refunded {r.amount}"))
        elif refund.amount != r.amount:
            diffs.append(Difference("AMOUNT_MISMATCH", r.out_refund_no, f"bill {r.amount} != ours {refund.amount}"))
        elif refund.open and r.status == "SUCCESS":
            repair.append(r)
    return repair, diffs, sorted(ledger_ids - in_bill)


def refund_accepted_on(wechat_refund: dict) -> str | None:
    """The Beijing day a refund is in WeChat's bill: the day of its `create_time`
    (退款受理时间) in WeChat's refund resource, or None if it has none."""
    created = wechat_refund.get("create_time")
    return beijing_day(created, None) if created else None


def beijing_day(when: str | None, fallback: datetime | None) -> str | None:
    """The Beijing date of a time with an offset (WeChat's `2026-11-22T16:15:00+08:00`,
    our `2026-11-22T08:15:00Z`) or, if it has none, of `fallback`."""
    if when:
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                return moment.astimezone(BEIJING).date().isoformat()
        except ValueError:
            pass
    return fallback.astimezone(BEIJING).date().isoformat() if fallback is not None else None


def bill_day_before(now: datetime) -> date:
    """The day whose bill is due: yesterday, in Beijing."""
    return now.astimezone(BEIJING).date() - timedelta(days=1)


# WeChat makes day D's bill from 09:00 on D+1 and advises asking from 10:00 (Beijing).
BILL_READY_HOUR = 10
# A report in one of these has its answer from WeChat: the job does not ask again. A bill
# not made yet, or one WeChat could not be asked for, is asked for again on the next run.
FINAL_STATUSES = frozenset({BILL_OK, BILL_NONE, BILL_UNREADABLE})
# The days the job looks at: yesterday, and the day before if its bill never came.
DAYS_BACK = 2


def bill_ready_at(day: date) -> datetime:
    """When WeChat's bill of `day` can be asked for."""
    return datetime.combine(day + timedelta(days=1), time(BILL_READY_HOUR), tzinfo=BEIJING)


def no_bill_status(day: date, now: datetime) -> str:
    """What NO_STATEMENT_EXIST means: nothing moved that day once the bill should exist;
    before that, only that it is not made yet."""
    return BILL_NONE if now >= bill_ready_at(day) else BILL_NOT_READY_STATUS


def days_due(now: datetime) -> list[date]:
    """The days the reconcile job looks at, oldest first."""
    yesterday = bill_day_before(now)
    return [yesterday - timedelta(days=n) for n in range(DAYS_BACK - 1, -1, -1)]


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

    def stage_refund(self, tx, refund_id: str, amount: int, now: datetime,
                     requested_at: str | None = None) -> None:
        """Record a refund that succeeded, dated like WeChat's bill: by `requested_at`,
        the time WeChat accepted the refund request (its `create_time`) or, failing that,
        the time we asked; by `now` only when neither is known."""

    def refs(self, day: date, kind: str) -> set[str]:
        """The order ids (kind PAY) or refund ids (kind REFUND) recorded on that day."""

    def save_report(self, day: date, summary: dict, differences: list[dict], now: str) -> None: ...

    def get_report(self, day: date) -> Report | None: ...


class AnomalyRepository(Protocol):
    def record(self, order_id: str, kind: str, detail: dict) -> None: ...

    def for_order(self, order_id: str) -> list[Anomaly]: ...

    def recent(self, limit: int = 100) -> list[Anomaly]: ...
