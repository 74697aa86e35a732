"""The trade bill as WeChat Pay documents it (交易账单文件格式说明: ALL bill, 27 columns,
every value behind a backtick, a summary header and line) and the comparisons, pure."""

import pytest

from layers.domain import reconcile as rules

HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
          "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
          "手续费,费率,订单金额,申请退款金额,费率备注")
SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def line(values) -> str:
    return ",".join("`" + v for v in values)


def payment(out_trade_no, transaction_id, total, *, settle=None, coupon="0.00", name="山茶花",
            at="2026-11-22 10:00:00", attach=""):
    return [at, "wxapp", "1900000109", "0", "", transaction_id, out_trade_no, "openid1", "JSAPI", "SUCCESS",
            "OTHERS", "CNY", settle or total, coupon, "0", "0", "0.00", "0.00", "", "", name, attach,
            "0.12000", "0.60%", total, "0.00", ""]


def refund(out_trade_no, out_refund_no, applied, *, settled=None, status="SUCCESS", name="洁面",
           at="2026-11-22 11:00:00"):
    return [at, "wxapp", "1900000109", "0", "", "4200002", out_trade_no, "openid2", "JSAPI", "REFUND", "OTHERS",
            "CNY", "0.00", "0.00", "50300001", out_refund_no, settled or applied, "0.00", "ORIGINAL", status, name, "",
            "-0.03000", "0.60%", "0.00", applied, ""]


def bill(*rows, count=None, header=HEADER, bom=True) -> bytes:
    text = "\n".join([header, *(line(r) if isinstance(r, list) else r for r in rows), SUMMARY_HEADER,
                      line([str(len(rows) if count is None else count), "0.00", "0.00", "0.00", "0.00", "0.00",
                            "0.00"])]) + "\n"
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


BILL = bill(payment("oa1", "4200001", "19.90"), refund("ob2", "ob2Rabc", "5.01"))


def test_a_documented_bill_parses_to_exact_fen():
    parsed = rules.parse_trade_bill(BILL)
    assert parsed.readable and parsed.problems == []
    assert parsed.payments == [rules.BillPayment("oa1", "4200001", 1990, 1990, 0)]
    assert parsed.refunds == [rules.BillRefund("ob2", "ob2Rabc", 501, "SUCCESS", 501)]


def test_values_holding_commas_do_not_shift_the_columns():
    # A product name and a merchant data package may hold commas; nothing is quoted.
    parsed = rules.parse_trade_bill(bill(
        payment("oa1", "4200001", "19.90", name="山茶花,洁面套装", attach='{"a":1,"b":2}'),
        payment("oa2", "4200002", "7.00", name="礼盒,`限定,`版"),         # even a comma and a backtick
        '"' + "`" + '","`'.join(payment("oa3", "4200003", "3.00", name="a,b")) + '"',  # a quoting writer
        refund("ob2", "ob2Rabc", "5.01", name="洁面,200ml")))
    assert parsed.problems == []
    assert [(p.out_trade_no, p.transaction_id, p.amount) for p in parsed.payments] == [
        ("oa1", "4200001", 1990), ("oa2", "4200002", 700), ("oa3", "4200003", 300)]
    assert parsed.refunds == [rules.BillRefund("ob2", "ob2Rabc", 501, "SUCCESS", 501)]


def test_a_coupon_order_is_compared_on_its_order_amount():
    # 19.90 ordered, a 2.00 no-recharge WeChat coupon: 17.90 settled. We recorded 19.90.
    parsed = rules.parse_trade_bill(bill(payment("oc1", "4200009", "19.90", settle="17.90", coupon="2.00")))
    assert parsed.payments == [rules.BillPayment("oc1", "4200009", 1990, 1790, 200)]
    missed, diffs = rules.compare_payments(parsed.payments, {"oc1": rules.OurPayment("oc1", "4200009", 1990, 1990)},
                                           {"oc1"})
    assert (missed, diffs) == ([], [])
    # A coupon order we missed is repaired, since what was ordered is what is payable.
    missed, diffs = rules.compare_payments(parsed.payments, {"oc1": rules.OurPayment("oc1", None, None, 1990)}, set())
    assert [p.out_trade_no for p in missed] == ["oc1"] and diffs == []


def test_a_coupon_refund_is_compared_on_the_amount_asked():
    parsed = rules.parse_trade_bill(bill(refund("oc1", "oc1Rx", "19.90", settled="17.90")))
    assert parsed.refunds == [rules.BillRefund("oc1", "oc1Rx", 1990, "SUCCESS", 1790)]
    repair, diffs, unlisted = rules.compare_refunds(parsed.refunds, {"oc1Rx": rules.OurRefund("oc1Rx", 1990, False)},
                                                    {"oc1Rx"})
    assert (repair, diffs, unlisted) == ([], [], [])


def test_an_older_bill_without_the_order_amount_columns_adds_the_coupon_back():
    old_header = HEADER.rsplit(",", 3)[0]  # no 订单金额, 申请退款金额, 费率备注
    parsed = rules.parse_trade_bill(bill(payment("oc1", "4200009", "19.90", settle="17.90", coupon="2.00")[:24],
                                         refund("ob2", "ob2Rabc", "5.01")[:24], header=old_header))
    assert parsed.problems == []
    assert [p.amount for p in parsed.payments] == [1990] and [r.amount for r in parsed.refunds] == [501]


@pytest.mark.parametrize("column", ["商户订单号", "交易状态", "商户退款单号", "退款状态", "微信订单号"])
def test_a_bill_without_a_column_we_read_is_reported_not_read(column):
    names = HEADER.split(",")
    at = names.index(column)
    header = ",".join(n for n in names if n != column)
    rows = [[v for i, v in enumerate(payment("oa1", "4200001", "19.90")) if i != at]]
    parsed = rules.parse_trade_bill(bill(*rows, header=header))
    assert not parsed.readable and parsed.payments == [] and parsed.refunds == []
    assert [(d.kind, d.ref) for d in parsed.problems] == [("BILL_UNREADABLE", "bill")]
    assert column in parsed.problems[0].detail


def test_a_bill_without_any_amount_column_is_reported():
    header = HEADER.replace("订单金额,申请退款金额", "x,y").replace("应结订单金额", "z")
    parsed = rules.parse_trade_bill(bill(payment("oa1", "4200001", "19.90"), header=header))
    assert not parsed.readable and "订单金额" in parsed.problems[0].detail


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00garbage", b"`2026-11-22,`x\n"])
def test_what_is_not_a_bill_is_reported(data):
    parsed = rules.parse_trade_bill(data)
    assert not parsed.readable and parsed.problems[0].kind == "BILL_UNREADABLE"


def test_an_unreadable_row_is_reported_and_the_others_still_read():
    bad_amount = payment("ox1", "4200005", "19.905")
    short = payment("ox2", "4200006", "1.00")[:10]
    revoked = payment("ox3", "4200007", "1.00")
    revoked[9] = "REVOKED"
    parsed = rules.parse_trade_bill(bill(bad_amount, payment("oa1", "4200001", "19.90"), short, revoked))
    assert parsed.readable
    assert [p.out_trade_no for p in parsed.payments] == ["oa1"]
    assert [(d.kind, d.ref) for d in parsed.problems] == [
        ("BILL_ROW_UNREADABLE", "ox1"), ("BILL_ROW_UNREADABLE", "line 4"), ("BILL_ROW_UNREADABLE", "ox3")]


def test_a_summary_that_does_not_count_the_rows_is_reported():
    parsed = rules.parse_trade_bill(bill(payment("oa1", "4200001", "19.90"), count=2))
    assert [d.kind for d in parsed.problems] == ["BILL_SUMMARY_MISMATCH"]
    no_summary = rules.parse_trade_bill((HEADER + "\n" + line(payment("oa1", "4200001", "19.90")) + "\n").encode())
    assert [d.kind for d in no_summary.problems] == ["BILL_SUMMARY_MISMATCH"]
    assert [p.out_trade_no for p in no_summary.payments] == ["oa1"]


def test_an_empty_day_is_an_empty_bill():
    parsed = rules.parse_trade_bill(bill(bom=False))
    assert parsed.readable and (parsed.payments, parsed.refunds, parsed.problems) == ([], [], [])
    assert rules.TradeBill().readable


def test_the_bill_is_utf8_whatever_the_response_said():
    data = bill(payment("oa1", "4200001", "1.00", name="山茶花,洁面"))
    # What `requests` makes of text/plain without a charset: ISO-8859-1. Not a bill.
    assert rules.decode_bill(data).startswith("交易时间")
    assert "山茶花" not in data.decode("iso-8859-1")


def test_yuan_with_fractions_of_fen_is_refused():
    assert rules.yuan_to_fen("0.10") == 10
    assert rules.yuan_to_fen("1234567.89") == 123456789
    for text in ("0.001", "abc", "NaN"):
        with pytest.raises(ValueError):
            rules.yuan_to_fen(text)


def test_compare_payments():
    bill_rows = [rules.BillPayment("a", "t1", 100), rules.BillPayment("b", "t2", 200),
                 rules.BillPayment("c", "t3", 300), rules.BillPayment("d", "t4", 400),
                 rules.BillPayment("e", "t5", 500)]
    ours = {
        "a": rules.OurPayment("a", "t1", 100, 100),   # matches
        "b": rules.OurPayment("b", None, None, 200),  # we missed it: repair
        "c": rules.OurPayment("c", None, None, 999),  # we missed it, but the amount is wrong
        "d": rules.OurPayment("d", "t4", 401, 401),   # we recorded a different amount
    }
    missed, diffs = rules.compare_payments(bill_rows, ours, {"a", "d", "z"})
    assert [p.out_trade_no for p in missed] == ["b"]
    assert {(d.kind, d.ref) for d in diffs} == {
        ("AMOUNT_MISMATCH", "c"), ("AMOUNT_MISMATCH", "d"), ("UNKNOWN_ORDER", "e"), ("NOT_IN_BILL", "z")}


def test_compare_refunds():
    bill_rows = [rules.BillRefund("o1", "o1Ra", 100, "SUCCESS"), rules.BillRefund("o2", "o2Ra", 200, "PROCESSING"),
                 rules.BillRefund("o3", "o3Ra", 300, "SUCCESS"), rules.BillRefund("o4", "o4Ra", 400, "SUCCESS"),
                 rules.BillRefund("o5", "o5Ra", 500, "SUCCESS")]
    ours = {
        "o1Ra": rules.OurRefund("o1Ra", 100, True),    # WeChat says done, we wait: repair
        "o2Ra": rules.OurRefund("o2Ra", 200, True),    # still processing at bill time: nothing to do
        "o3Ra": rules.OurRefund("o3Ra", 300, False),   # done on both sides
        "o4Ra": rules.OurRefund("o4Ra", 401, False),   # amounts differ
    }
    repair, diffs, unlisted = rules.compare_refunds(bill_rows, ours, {"o3Ra", "zRa", "yRa"})
    assert [r.out_refund_no for r in repair] == ["o1Ra"]
    assert {(d.kind, d.ref) for d in diffs} == {("AMOUNT_MISMATCH", "o4Ra"), ("UNKNOWN_REFUND", "o5Ra")}
    assert unlisted == ["yRa", "zRa"]


def test_a_refund_is_in_the_bill_of_the_day_wechat_accepted_it():
    assert rules.refund_accepted_on({"create_time": "2026-11-22T23:59:50+08:00",
                                     "success_time": "2026-11-23T00:00:40+08:00"}) == "2026-11-22"
    assert rules.refund_accepted_on({"create_time": "2026-11-22T16:00:00Z"}) == "2026-11-23"
    assert rules.refund_accepted_on({}) is None
