import pytest

from layers.domain import reconcile as rules

BILL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\n"
    "`2026-11-22 10:00:00,`wxapp,`1900000109,`0,`,`4200001,`oa1,`openid1,`JSAPI,`SUCCESS,`OTHERS,`CNY,"
    "`19.90,`0.00,`0,`0,`0.00,`0.00,`,`,`山茶花,`,`0.12,`0.60%\n"
    "`2026-11-22 11:00:00,`wxapp,`1900000109,`0,`,`4200002,`ob2,`openid2,`JSAPI,`REFUND,`OTHERS,`CNY,"
    "`0.00,`0.00,`5000001,`ob2Rabc,`5.01,`0.00,`ORIGINAL,`SUCCESS,`洁面,`,`-0.03,`0.60%\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
    "`2,`19.90,`5.01,`0.00,`0.09,`19.90,`5.01\n"
)


def test_bill_parses_to_exact_fen():
    payments, refunds = rules.parse_trade_bill(BILL)
    assert payments == [rules.BillPayment("oa1", "4200001", 1990)]
    assert refunds == [rules.BillRefund("ob2", "ob2Rabc", 501, "SUCCESS")]


def test_yuan_with_fractions_of_fen_is_refused():
    assert rules.yuan_to_fen("0.10") == 10
    assert rules.yuan_to_fen("1234567.89") == 123456789
    with pytest.raises(ValueError):
        rules.yuan_to_fen("0.001")


def test_compare_payments():
    bill = [rules.BillPayment("a", "t1", 100), rules.BillPayment("b", "t2", 200),
            rules.BillPayment("c", "t3", 300), rules.BillPayment("d", "t4", 400),
            rules.BillPayment("e", "t5", 500)]
    ours = {
        "a": rules.OurPayment("a", "t1", 100, 100),   # matches
        "b": rules.OurPayment("b", None, None, 200),  # we missed it: repair
        "c": rules.OurPayment("c", None, None, 999),  # we missed it, but the amount is wrong
        "d": rules.OurPayment("d", "t4", 401, 401),   # we recorded a different amount
    }
    missed, diffs = rules.compare_payments(bill, ours, {"a", "d", "z"})
    assert [p.out_trade_no for p in missed] == ["b"]
    assert {(d.kind, d.ref) for d in diffs} == {
        ("AMOUNT_MISMATCH", "c"), ("AMOUNT_MISMATCH", "d"), ("UNKNOWN_ORDER", "e"), ("NOT_IN_BILL", "z")}
