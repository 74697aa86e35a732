"""Commission debt against DynamoDB Local, WeChat Pay played by the sandbox: a refund of a
commission already paid out is owed, and the distributor's next settlement deducts it
first, through the HTTP API; concurrent refunds and a settlement keep the debt equal to
its entries and never below zero."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import body, create_product, login, post
from tests.integration.test_distribution import (
    commission_of,
    new_distributor,
    new_template,
    paid_order,
    refund,
    share,
    stats_of,
    uid,
)
from tests.integration.test_settlement import (
    _offset,
    as_distributor,
    bill_of,
    claim,
    confirm_transfer,
    my_payouts,
    settlement,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def day(monkeypatch):
    """Move the clock to a day of the test's own (a settlement batch is per day)."""
    from datetime import timedelta

    from layers import clock

    real = clock.now

    def go(days: int):
        target = real() + timedelta(days=days)
        monkeypatch.setattr(clock, "now", lambda: target)

    return go


def _receive(shop, buyer: str, order_id: str) -> None:
    """Shipped, received: the commission's freeze starts."""
    from functions import wiring

    orders, distribution = wiring.orders(), wiring.distribution()
    orders.ship(order_id)
    done = orders.confirm_receipt(buyer, order_id)
    distribution.on_order_completed(f"order.completed:{order_id}", {
        "order_id": order_id, "user_id": buyer, "completed_at": done["completed_at"]})


def _settle_and_receive(client, sandbox, d: str) -> list[dict]:
    """The settlement job runs; the distributor claims and receives every transfer."""
    settlement().settle_commissions(inline=True)
    views = [v for v in my_payouts(client, d) if v["status"] == "READY"]
    for v in views:
        r = claim(client, d, v["id"])
        assert r.status_code == 200, r.body
        confirm_transfer(client, sandbox, bill_of(body(r)))
    return views


def _entries(d: str) -> list:
    from functions import wiring

    return wiring.commission_repository().debt_entries(d)


def test_a_refund_of_a_line_after_settlement_is_deducted_from_the_next_payout(client, admin_headers, shop, day):
    """A completed order's commission is settled and received; then one of its lines is
    refunded (the shopper asks, the merchant approves, WeChat refunds): the next settlement
    pays less by exactly that line's commission, and every view says so."""
    from functions import wiring
    from tests.integration.test_payments import drain_events_queue

    sandbox = shop["sandbox"]
    tiered = create_product(client, admin_headers, price=3333, stock=50)
    fixed = create_product(client, admin_headers, price=6667, stock=50,
                           commission={"mode": "fixed", "rate_bps": 1500})
    guide = new_distributor(client, admin_headers, new_template(client, admin_headers,
                                                                [{"name": "基础", "rate_bps": 700}]))
    d = uid(guide)
    token = share(client, guide)
    customer = login(client)
    fixed_sku = fixed["skus"][0]["id"]
    items = [{"sku_id": tiered["skus"][0]["id"], "quantity": 1}, {"sku_id": fixed_sku, "quantity": 1}]
    first = paid_order(shop, uid(customer), None, share_token=token, items=items)
    assert commission_of(d, first["id"]).amount == 233 + 1000  # the fixed line earns 1000
    _receive(shop, uid(customer), first["id"])
    day(next(_offset))
    [paid] = _settle_and_receive(client, sandbox, d)
    assert paid["amount"] == 1233 and commission_of(d, first["id"]).status == "SETTLED"

    r = post(client, f"/orders/{first['id']}/refunds", {"items": [{"sku_id": fixed_sku, "quantity": 1}],
                                                        "reason": "不要这件"},
             {**customer, "Idempotency-Key": f"debt-{first['id']}"})
    assert r.status_code == 201, r.body
    asked = body(r)
    assert asked["amount"] == 6667
    if asked["status"] == "REQUESTED":  # shipped: the merchant approves
        r = post(client, f"/admin/refunds/{asked['id']}/approve", {}, admin_headers)
        assert r.status_code == 200, r.body
    wiring.refunds().on_refund_result(asked["id"], "SUCCESS")
    [event] = [m for m in drain_events_queue(shop["sqs"])
               if m["type"] == "order.refunded" and m["payload"]["refund_id"] == asked["id"]]
    assert event["payload"]["lines"] == [{"line": 1, "sku_id": fixed_sku, "units": 1, "amount": 6667}]
    distribution = wiring.distribution()
    distribution.on_order_refunded(event["event_id"], event["payload"])
    distribution.on_order_refunded(event["event_id"], event["payload"])  # delivered twice: owed once
    [owed] = _entries(d)
    assert (owed.kind, owed.amount, owed.order_id, owed.refund_id) == ("DEBT", 1000, first["id"], asked["id"])
    mine = body(client.http.get("/me/distribution", headers=as_distributor(d)))["commissions"]
    assert (mine["debt"], mine["deducted"], mine["settled"], mine["reversed"]) == (1000, 0, 1233, 1000)

    second = paid_order(shop, uid(customer), None, share_token=token, items=items)  # earns 1233 again
    _receive(shop, uid(customer), second["id"])
    day(next(_offset))
    [view] = _settle_and_receive(client, sandbox, d)
    assert (view["amount"], view["deducted"]) == (1233 - 1000, 1000)  # less by exactly that line's commission
    received = [t for t in sandbox.transfers.values()
                if t["out_bill_no"].startswith(view["id"]) and t["state"] == "SUCCESS"]
    assert [t["transfer_amount"] for t in received] == [233]
    mine = body(client.http.get("/me/distribution", headers=as_distributor(d)))["commissions"]
    assert (mine["debt"], mine["deducted"], mine["settled"]) == (0, 1000, 2466)
    admin = body(client.http.get(f"/admin/distributors/{d}", headers=admin_headers))["commissions"]
    assert admin == mine
    listed = body(client.http.get("/admin/settlements", headers=admin_headers))["items"]
    [line] = [p for b in listed for p in b["payouts"] if p["distributor_id"] == d and p["deducted"]]
    assert (line["amount"], line["gross"], line["deducted"], line["status"]) == (233, 1233, 1000, "SUCCESS")
    csv = client.http.get(f"/admin/settlements/{line['batch_id']}/payouts.csv", headers=admin_headers)
    assert csv.status_code == 200
    assert [row for row in csv.body.decode().splitlines() if row.startswith(line["id"])][0].endswith(",1233,1000")
    assert sum(e.amount if e.kind == "DEBT" else -e.amount for e in _entries(d)) == 0


def test_concurrent_refunds_and_a_settlement_keep_the_debt_equal_to_its_entries(client, admin_headers, shop, day):
    """Refunds of commissions already paid out, each delivered twice, race a settlement
    that deducts the debt: each refund is owed once, the debt equals its entries and is
    never below 0, no payout is below 0, and the money adds up."""
    from functions import wiring

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=10_000, stock=1000)  # 5%: 500 a unit
    sku = product["skus"][0]["id"]
    guide = new_distributor(client, admin_headers)
    d = uid(guide)
    token = share(client, guide, product["id"])
    buyer = login(client)
    paid_out = [paid_order(shop, uid(buyer), sku, 2, share_token=token) for _ in range(6)]  # 1000 each
    for o in paid_out:
        _receive(shop, uid(buyer), o["id"])
    day(next(_offset))
    _settle_and_receive(client, sandbox, d)
    assert stats_of(d).settled == 6000
    pending = [paid_order(shop, uid(buyer), sku, 3, share_token=token) for _ in range(2)]  # 1500 each
    for o in pending:
        _receive(shop, uid(buyer), o["id"])
    day(next(_offset))

    refunds = [(o["id"], f"{o['id']}D") for o in paid_out]

    def go(job):
        if job == "settle":
            return settlement().settle_commissions(inline=True)
        order_id, refund_id = job
        return refund(order_id, refund_id, 10_000, 20_000, 10_000)  # half of each: 500 owed

    jobs = [*refunds, "settle", *refunds]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(go, jobs))
    for v in my_payouts(client, d):  # the distributor receives whatever the settlement paid
        if v["status"] == "READY":
            confirm_transfer(client, sandbox, bill_of(body(claim(client, d, v["id"]))))

    entries = _entries(d)
    stats = stats_of(d)
    owed = [e for e in entries if e.kind == "DEBT"]
    taken = [e for e in entries if e.kind == "DEDUCTION"]
    assert sorted(e.refund_id for e in owed) == sorted(r for _, r in refunds)  # each refund once
    assert all(e.amount == 500 for e in owed)
    assert stats.debt == sum(e.amount for e in owed) - sum(e.amount for e in taken) >= 0
    assert stats.deducted == sum(e.amount for e in taken) and stats.debt + stats.deducted == 3000
    payouts = wiring.payout_repository().list_for_user(d, 100, None)[0]
    assert all(p.amount >= 0 and 0 <= p.deducted <= p.gross for p in payouts)
    assert {e.payout_id for e in taken} <= {p.payout_id for p in payouts}
    [second] = [p for p in payouts if p.gross == 3000]
    assert second.final and second.deducted == stats.deducted  # the debt it saw, first, up to all of it
    assert all(commission_of(d, o["id"]).status == "SETTLED" for o in pending)
    assert stats.settled == 9000 and stats.reversed == 3000
    received = sum(t["transfer_amount"] for t in sandbox.transfers.values()
                   if t["state"] == "SUCCESS" and any(t["out_bill_no"].startswith(p.payout_id) for p in payouts))
    assert received == sum(p.amount for p in payouts) == stats.settled - stats.deducted
