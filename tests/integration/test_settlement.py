"""Settlement and payouts against DynamoDB Local, with WeChat Pay played by the sandbox,
which checks every request's signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, post, put
from tests.integration.test_distribution import (
    commission_of,
    new_distributor,
    paid_order,
    share,
    stats_of,
    uid,
    visit,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def day(monkeypatch):
    """Move the clock to a day of the test's own (a settlement batch is per day)."""
    from layers import clock

    real = clock.now

    def go(days: int):
        target = real() + timedelta(days=days)
        monkeypatch.setattr(clock, "now", lambda: target)

    return go


_offset = iter(range(30, 3000, 30))


ORDERS: dict[str, list[str]] = {}  # distributor id -> the orders that earned them a commission


def settlement():
    from functions import wiring

    return wiring.settlement()


def commissions_of(distributor_id: str) -> list:
    from functions import wiring

    return wiring.commission_repository().get_many(distributor_id, ORDERS[distributor_id])


def settleable_commissions(client, admin_headers, shop, distributors: int, orders_each: int = 2):
    """Distributors whose customers bought, received and kept their goods: SETTLEABLE
    commissions. Returns {distributor_id: expected amount}."""
    from functions import wiring

    orders, distribution = wiring.orders(), wiring.distribution()

    product = create_product(client, admin_headers, price=10_000, stock=1000)
    sku_id = product["skus"][0]["id"]
    expected = {}
    for _ in range(distributors):
        guide = new_distributor(client, admin_headers)
        token = share(client, guide, product["id"])
        total = 0
        for _ in range(orders_each):
            buyer = login(client)
            assert visit(client, buyer, token).status_code == 204
            order = paid_order(shop, uid(buyer), sku_id)
            orders.ship(order["id"])
            done = orders.confirm_receipt(uid(buyer), order["id"])
            distribution.on_order_completed(f"order.completed:{order['id']}", {
                "order_id": order["id"], "user_id": uid(buyer), "completed_at": done["completed_at"]})
            total += commission_of(uid(guide), order["id"]).amount
            ORDERS.setdefault(uid(guide), []).append(order["id"])
        expected[uid(guide)] = total
    assert all(v > 0 for v in expected.values())
    return expected


def payouts_of(distributor_ids):
    from functions import wiring
    from layers.domain.payout import payout_id_for

    repo = wiring.payout_repository()
    out = {}
    for d in distributor_ids:
        found, _ = repo.list_for_user(d, 100, None)
        out[d] = [repo.get(p.payout_id) for p in found]
        for p in out[d]:
            assert p.payout_id == payout_id_for(p.batch_id, d)
    return out


def transfer_posts(sandbox, out_bill_no) -> int:
    return sum(1 for r in sandbox.requests_log
               if r["method"] == "POST" and r["path"] == "/v3/fund-app/mch-transfer/transfer-bills"
               and r.get("out_bill_no") == out_bill_no)


def confirm_transfer(client, sandbox, out_bill_no, succeed=True):
    resource = sandbox.finish_transfer(out_bill_no, succeed=succeed, notify=False)
    headers, raw = sandbox.build_notification("MCHTRANSFER.BILL.FINISHED", resource)
    r = client.http.post("/wechatpay/transfer-notify", body=raw, headers=headers)
    assert r.status_code in (200, 204), r.body


def test_auto_settlement_pays_each_distributor_once(client, admin_headers, shop, day):
    from functions import wiring

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=2)
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    payouts = payouts_of(expected)
    for d, amount in expected.items():
        [payout] = payouts[d]
        assert payout.status == "WAIT_USER_CONFIRM" and payout.amount == amount
        transfer = sandbox.transfers[payout.payout_id]
        assert transfer["transfer_amount"] == amount and transfer["transfer_scene_id"] == "1005"
        assert {i["info_type"] for i in transfer["transfer_scene_report_infos"]} == {"岗位类型", "报酬说明"}
        assert transfer_posts(sandbox, payout.payout_id) == 1

    # The distributor sees what wx.requestMerchantTransfer needs.
    guide_id = next(iter(expected))
    mine = wiring.distributor_repository().get(guide_id)
    assert mine is not None
    settlement().settle_commissions(inline=True)  # a second run: nothing new
    for d in expected:
        [payout] = payouts_of([d])[d]
        assert transfer_posts(sandbox, payout.payout_id) == 1
        confirm_transfer(client, sandbox, payout.payout_id)
        [payout] = payouts_of([d])[d]
        assert payout.status == "SUCCESS"
        stats = stats_of(d)
        assert stats.settled == expected[d] and stats.settleable == 0
        assert all(c.status == "SETTLED" for c in commissions_of(d))
    confirm_transfer(client, sandbox, payout.payout_id)  # WeChat's duplicate notification
    assert stats_of(d).settled == expected[d]


def test_me_payouts_carries_the_confirmation_package(client, admin_headers, shop, day):
    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=1, orders_each=1)
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    [d] = expected
    [payout] = payouts_of([d])[d]
    from layers.auth import issue_shopper_token

    token, _ = issue_shopper_token(d)
    r = client.http.get("/me/payouts", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    [item] = body(r)["items"]
    assert item["status"] == "WAIT_USER_CONFIRM" and item["amount"] == expected[d]
    assert item["confirm"] == {"mch_id": sandbox.keys.mchid, "app_id": sandbox.keys.appid,
                               "package": sandbox.transfers[payout.payout_id]["package_info"]}
    other = login(client)
    assert body(client.http.get("/me/payouts", headers={"Authorization": other["Authorization"]}))["items"] == []


def test_a_run_killed_halfway_completes_without_a_second_transfer(client, admin_headers, shop, day, monkeypatch):
    from functions import wiring

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=4, orders_each=1)
    day(next(_offset))
    client_ = wiring.pay_client()
    original = client_.transfer
    sent = []

    class Killed(BaseException):
        """The Lambda timing out right after WeChat took the transfer."""

    def transfer_then_die(**kwargs):
        answer = original(**kwargs)
        sent.append(kwargs["out_bill_no"])
        if len(sent) == 2:
            raise Killed()
        return answer

    monkeypatch.setattr(client_, "transfer", transfer_then_die)
    with pytest.raises(Killed):
        settlement().settle_commissions(inline=True)
    monkeypatch.setattr(client_, "transfer", original)
    settlement().settle_commissions(inline=True)
    payouts = payouts_of(expected)
    for d, amount in expected.items():
        [payout] = payouts[d]
        assert payout.status == "WAIT_USER_CONFIRM"
        assert transfer_posts(sandbox, payout.payout_id) == 1
        assert sandbox.transfers[payout.payout_id]["transfer_amount"] == amount


def test_a_failed_transfer_returns_its_commissions(client, admin_headers, shop, day):

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=1)
    [d] = expected
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    [payout] = payouts_of([d])[d]
    confirm_transfer(client, sandbox, payout.payout_id, succeed=False)
    [payout] = payouts_of([d])[d]
    assert payout.status == "FAIL"
    assert all(c.status == "SETTLEABLE" for c in commissions_of(d))
    assert stats_of(d).settled == 0
    day(next(_offset))  # the next day's run pays them, under a new out_bill_no
    settlement().settle_commissions(inline=True)
    payouts = sorted(payouts_of([d])[d], key=lambda p: p.created_at)
    assert [p.status for p in payouts] == ["FAIL", "WAIT_USER_CONFIRM"]
    assert payouts[1].amount == expected[d]


def test_manual_mode_makes_no_transfer(client, admin_headers, shop, day):

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=1)
    [d] = expected
    assert put(client, "/admin/settings", {"settlement_mode": "manual"}, admin_headers).status_code == 200
    try:
        day(next(_offset))
        transfers_before = len(sandbox.transfers)
        result = settlement().settle_commissions(inline=True)
    finally:
        put(client, "/admin/settings", {"settlement_mode": "auto"}, admin_headers)
    assert result["mode"] == "manual"
    [payout] = payouts_of([d])[d]
    assert payout.status == "AWAITING_MANUAL" and payout.amount == expected[d]
    assert len(sandbox.transfers) == transfers_before
    csv = client.http.get(f"/admin/settlements/{payout.batch_id}/payouts.csv", headers=admin_headers)
    assert csv.status_code == 200 and payout.payout_id in csv.body.decode()
    listed = body(client.http.get("/admin/settlements", headers=admin_headers))["items"]
    assert payout.payout_id in [p["id"] for b in listed for p in b["payouts"]]
    r = post(client, f"/admin/payouts/{payout.payout_id}/mark-paid", {}, admin_headers)
    assert r.status_code == 200 and body(r)["status"] == "PAID_MANUALLY"
    assert stats_of(d).settled == expected[d]
    again = post(client, f"/admin/payouts/{payout.payout_id}/mark-paid", {}, admin_headers)
    assert again.status_code == 200
    assert stats_of(d).settled == expected[d]
