"""The trade bill (下载交易账单, bill_type ALL) as WeChat Pay writes it.

From 交易账单 / 账单文件说明: a header line of column names, one line per trade or
refund with every field prefixed by a backtick (so spreadsheets keep long numbers), then
the summary's header and its line (also backticked). Fields are not quoted: a product
name containing a comma splits its line (the `comma_product_names` switch forces one).

Columns (ALL): 交易时间, 公众账号ID, 商户号, 特约商户号, 设备号, 微信订单号, 商户订单号,
用户标识, 交易类型, 交易状态, 付款银行, 货币种类, 应结订单金额, 代金券金额, 微信退款单号,
商户退款单号, 退款金额, 充值券退款金额, 退款类型, 退款状态, 商品名称, 商户数据包, 手续费,
费率, 订单金额, 申请退款金额, 费率备注. 应结订单金额 = 订单金额 - 免充值代金券; 退款金额 =
申请退款金额 - 免充值代金券退款. Amounts in yuan with two decimals.

Refund lines are dated (交易时间, and the day's bill they appear in) by when the refund
was requested. The searchable docs do not state it (docs unclear); the issue states it as
WeChat's behaviour and the sandbox follows it. Lines end with CRLF (docs unclear; the hash
is over the bytes either way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))

HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
          "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
          "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
FEE_RATE = 0.006


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _product(box, order: dict) -> str:
    name = order["description"]
    return name + ",赠品" if box._comma_product_names else name


def _trades(box, day: str):
    for no, o in list(box.orders.items()):
        if o.get("paid_at") and _local(o["paid_at"]).startswith(day):
            yield no, o


def _refunds(box, day: str):
    for no, r in list(box.refunds.items()):
        if r["status"] != "CLOSED" and _local(r["created"]).startswith(day):
            yield no, r


# 申请交易账单 (GET /v3/bill/tradebill) and its FAQ: WeChat Pay starts making day D's bill at
# 09:00 on D+1 (Beijing) and advises asking from 10:00; before that there is no file
# (NO_STATEMENT_EXIST "账单文件不存在"), while it is made STATEMENT_CREATING "账单生成中".
BILL_STARTS_H, BILL_READY_H = 9, 10


def readiness(box, day: str) -> str:
    """NOT_MADE, CREATING or READY for day D's bill, by the sandbox clock."""
    d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=BEIJING) + timedelta(days=1)
    now = datetime.fromtimestamp(box.now(), UTC)
    if now < d + timedelta(hours=BILL_STARTS_H):
        return "NOT_MADE"
    if now < d + timedelta(hours=BILL_READY_H):
        return "CREATING"
    return "READY"


def has_activity(box, day: str) -> bool:
    return any(True for _ in _trades(box, day)) or any(True for _ in _refunds(box, day))


def trade_bill(box, day: str) -> str:
    rows = []
    settle_total = refund_total = fee_total = order_total = applied_total = 0
    for no, o in _trades(box, day):
        total = o["amount"]["total"]
        coupon = o.get("coupon_fen", 0)
        settle = total - coupon
        fee = round(settle * FEE_RATE)
        settle_total += settle
        order_total += total
        fee_total += fee
        rows.append([_local(o["paid_at"]), o["appid"], o["mchid"], "0", "", o["transaction_id"], no,
                     o["payer"]["openid"], "JSAPI", "SUCCESS", "OTHERS", "CNY", _yuan(settle), _yuan(coupon), "0", "0",
                     "0.00", "0.00", "", "", _product(box, o), o.get("attach", ""), _yuan(fee), "0.60%", _yuan(total),
                     "0.00", ""])
    for no, r in _refunds(box, day):
        o = box.orders[r["out_trade_no"]]
        applied = r["amount"]["refund"]
        refunded = applied - r.get("discount_refund", 0)
        fee = -round(refunded * FEE_RATE)
        refund_total += refunded
        applied_total += applied
        fee_total += fee
        rows.append([_local(r["created"]), o["appid"], o["mchid"], "0", "", o["transaction_id"], r["out_trade_no"],
                     o["payer"]["openid"], "JSAPI", "REFUND", "OTHERS", "CNY", "0.00", "0.00", r["refund_id"], no,
                     _yuan(refunded), "0.00", "ORIGINAL", r["status"], _product(box, o), o.get("attach", ""),
                     _yuan(fee), "0.60%", "0.00", _yuan(applied), ""])
    lines = [HEADER] + [",".join("`" + v for v in row) for row in rows]
    lines.append(SUMMARY)
    lines.append(",".join("`" + v for v in [str(len(rows)), _yuan(settle_total), _yuan(refund_total), "0.00",
                                             _yuan(fee_total), _yuan(order_total), _yuan(applied_total)]))
    return "\r\n".join(lines) + "\r\n"
