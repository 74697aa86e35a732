"""The trade bill end to end against DynamoDB Local and the sandbox: downloaded as bytes,
checked against its hash, read with a comma in a product name; a day without a bill is
a report, not an error."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import bills_ready, body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def test_a_product_name_with_a_comma_reconciles(client, admin_headers, shop):
    from functions import wiring
    from layers import clock
    from layers.domain.reconcile import BEIJING, parse_trade_bill

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=1234, stock=5, title="山茶花,洁面套装 200ml,`限定")
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), login(client)))
    sandbox.pay(order["id"], notify=False)  # paid at WeChat; its notification never came

    today = clock.now().astimezone(BEIJING).date()
    with bills_ready(sandbox, today):
        raw = wiring.pay_client().trade_bill(today)
        assert isinstance(raw, bytes)
        bill = parse_trade_bill(raw)
        assert bill.readable and not bill.problems
        assert [(p.amount, p.settlement) for p in bill.payments if p.out_trade_no == order["id"]] == [(1234, 1234)]

        summary = wiring.reconciliation().reconcile(today)
    assert summary["bill"] == "OK" and order["id"] in summary["repaired"]
    assert wiring.order_repository().get(order["id"]).status == "PAID"
    report = body(client.http.get(f"/admin/reconciliations/{today.isoformat()}", headers=admin_headers))
    assert not [d for d in report["differences"] if d["ref"] == order["id"] or d["kind"].startswith("BILL_")]


def test_a_day_without_a_bill_is_reported(client, admin_headers, shop):
    from functions import wiring

    day = date(2001, 2, 3)  # nothing was paid or refunded: WeChat has no bill for it
    summary = wiring.reconciliation().reconcile(day)
    assert summary["bill"] == "NONE" and summary["differences"] == 0  # NO_STATEMENT_EXIST
    report = body(client.http.get(f"/admin/reconciliations/{day.isoformat()}", headers=admin_headers))
    assert report["summary"] == summary and report["differences"] == []
    # The scheduled job through its route: a report, never a 5xx.
    ran = post(client, "/admin/jobs/reconcile/run", {}, admin_headers)
    assert ran.status_code == 200, ran.body


def test_a_wechat_coupon_order_and_comma_names_reconcile_on_the_order_amount(client, admin_headers, shop):
    """The strict sandbox's bill: product names with a comma, and an order a WeChat Pay coupon
    paid part of (its 应结订单金额 is less than its 订单金额, which is what our ledger holds)."""
    from functions import wiring
    from layers import clock
    from layers.domain.reconcile import BEIJING

    sandbox = shop["sandbox"]
    sandbox.comma_product_names(True)
    try:
        product = create_product(client, admin_headers, price=5000, stock=5, title="礼盒")
        order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), login(client)))
        sandbox.pay(order["id"], notify=False, coupon_fen=800)
        today = clock.now().astimezone(BEIJING).date()
        with bills_ready(sandbox, today):
            summary = wiring.reconciliation().reconcile(today)
    finally:
        sandbox.reset_switches()
    assert summary["bill"] == "OK" and order["id"] in summary["repaired"]
    assert wiring.order_repository().get(order["id"]).status == "PAID"
    report = body(client.http.get(f"/admin/reconciliations/{today.isoformat()}", headers=admin_headers))
    assert not [d for d in report["differences"] if d["ref"] == order["id"] or d["kind"].startswith("BILL_")]


def test_the_job_asks_again_while_the_bill_is_not_made_and_stops_once_it_has_it(
        client, admin_headers, shop, monkeypatch):
    """WeChat makes day D's bill from 09:00 on D+1 and advises 10:00: before that its
    NO_STATEMENT_EXIST does not mean "nothing moved". The job runs every half hour and
    reconciles yesterday until it has a bill."""
    from datetime import datetime, timedelta
    from datetime import time as clock_time

    from functions import wiring
    from layers import clock
    from layers.domain.reconcile import BEIJING

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=4321, stock=5)
    order = body(post(client, "/orders", order_payload(product["skus"][0]["id"]), login(client)))
    sandbox.pay(order["id"], notify=False)  # paid at WeChat; its notification never came
    today = clock.now().astimezone(BEIJING).date()
    from layers.storage.ledger import ReconReport, _report_key

    try:  # other tests reconciled today already: this one starts from a day never run
        ReconReport.get(*_report_key(today)).delete()
    except ReconReport.DoesNotExist:
        pass
    fetched = []
    pay = wiring.reconciliation().pay
    real_bill = pay.trade_bill
    monkeypatch.setattr(pay, "trade_bill", lambda day: fetched.append(day) or real_bill(day))

    def run_at(hour: int, minute: int) -> dict:
        at = datetime.combine(today + timedelta(days=1), clock_time(hour, minute), tzinfo=BEIJING)
        monkeypatch.setattr(clock, "now", lambda: at)
        sandbox.reset_clock()
        sandbox.advance(at.timestamp() - sandbox.now(), notify=False)
        r = post(client, "/admin/jobs/reconcile/run", {}, admin_headers)
        assert r.status_code == 200, r.body
        return wiring.reconciliation().report(today)["summary"]

    try:
        early = run_at(8, 0)  # no file yet: NO_STATEMENT_EXIST
        assert early["bill"] == "NOT_READY" and order["id"] not in early["repaired"]
        assert wiring.order_repository().get(order["id"]).status == "PENDING_PAYMENT"
        assert run_at(9, 30)["bill"] == "NOT_READY"  # STATEMENT_CREATING
        done = run_at(10, 0)
        assert done["bill"] == "OK" and order["id"] in done["repaired"]
        assert wiring.order_repository().get(order["id"]).status == "PAID"
        asked = len(fetched)
        assert run_at(10, 30) == done  # reconciled: not asked again
        assert len(fetched) == asked
    finally:
        sandbox.reset_clock()
