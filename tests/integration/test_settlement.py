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


def as_distributor(d: str) -> dict:
    from layers.auth import issue_shopper_token

    token, _ = issue_shopper_token(d)
    return {"Authorization": f"Bearer {token}"}


def my_payouts(client, d) -> list[dict]:
    r = client.http.get("/me/payouts", headers=as_distributor(d))
    assert r.status_code == 200, r.body
    return body(r)["items"]


def claim(client, d, payout_id):
    return post(client, f"/me/payouts/{payout_id}/claim", None, as_distributor(d))


def bill_of(view: dict) -> str:
    from functions import wiring
    from layers.domain import payout as domain

    payout_id, index = domain.parse_part_id(view["id"])
    return domain.out_bill_no(payout_id, wiring.payout_repository().get(payout_id).part(index))


def test_auto_settlement_pays_each_distributor_once(client, admin_headers, shop, day):
    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=2)
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    payouts = payouts_of(expected)
    for d, amount in expected.items():
        [payout] = payouts[d]
        assert payout.status == "PAYING" and payout.amount == amount
        [view] = my_payouts(client, d)
        assert (view["status"], view["amount"], view.get("confirm")) == ("READY", amount, None)
        r = claim(client, d, view["id"])
        assert r.status_code == 200, r.body
        claimed = body(r)
        bill = bill_of(claimed)
        transfer = sandbox.transfers[bill]
        assert claimed["confirm"] == {"mch_id": sandbox.keys.mchid, "app_id": sandbox.keys.appid,
                                      "package": transfer["package_info"]}
        assert transfer["transfer_amount"] == amount and transfer["transfer_scene_id"] == "1005"
        assert {i["info_type"] for i in transfer["transfer_scene_report_infos"]} == {"岗位类型", "报酬说明"}
        assert body(claim(client, d, view["id"])) == claimed  # asked again: the same transfer
        assert transfer_posts(sandbox, bill) == 1
        assert my_payouts(client, d) == [claimed]
    assert claim(client, next(iter(expected)), "P20260101" + "0" * 22).status_code == 404
    other = login(client)
    assert body(client.http.get("/me/payouts", headers={"Authorization": other["Authorization"]}))["items"] == []
    d = next(iter(expected))
    assert post(client, f"/me/payouts/{my_payouts(client, d)[0]['id']}/claim", None,
                {"Authorization": other["Authorization"]}).status_code == 404

    settlement().settle_commissions(inline=True)  # a second run: nothing new
    for d in expected:
        [view] = my_payouts(client, d)
        bill = bill_of(view)
        assert transfer_posts(sandbox, bill) == 1
        confirm_transfer(client, sandbox, bill)
        [payout] = payouts_of([d])[d]
        assert payout.status == "SUCCESS"
        stats = stats_of(d)
        assert stats.settled == expected[d] and stats.settleable == 0
        assert all(c.status == "SETTLED" for c in commissions_of(d))
    confirm_transfer(client, sandbox, bill)  # WeChat's duplicate notification
    assert stats_of(d).settled == expected[d]


def test_a_large_commission_pays_in_parts_and_a_tiny_one_waits(client, admin_headers, shop, day):
    from functions import wiring

    sandbox = shop["sandbox"]
    orders, distribution = wiring.orders(), wiring.distribution()
    product = create_product(client, admin_headers, price=2_000_000, stock=10)  # 5%: 100,000 fen
    cheap = create_product(client, admin_headers, price=100, stock=10)  # 5 fen
    guides = {}
    for name, prod in (("big", product), ("tiny", cheap)):
        guide = new_distributor(client, admin_headers)
        token = share(client, guide, prod["id"])
        buyer = login(client)
        assert visit(client, buyer, token).status_code == 204
        order = paid_order(shop, uid(buyer), prod["skus"][0]["id"])
        orders.ship(order["id"])
        done = orders.confirm_receipt(uid(buyer), order["id"])
        distribution.on_order_completed(f"order.completed:{order['id']}", {
            "order_id": order["id"], "user_id": uid(buyer), "completed_at": done["completed_at"]})
        ORDERS.setdefault(uid(guide), []).append(order["id"])
        guides[name] = uid(guide)
    assert commission_of(guides["big"], ORDERS[guides["big"]][0]).amount == 100_000
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    views = my_payouts(client, guides["big"])
    assert sorted(v["amount"] for v in views) == [20_000] * 5 and {v["status"] for v in views} == {"READY"}
    assert my_payouts(client, guides["tiny"]) == []  # 5 fen waits for the next settlement
    assert stats_of(guides["tiny"]).settleable == 5
    for v in views:
        claimed = body(claim(client, guides["big"], v["id"]))
        assert claimed["status"] == "WAIT_USER_CONFIRM"
        confirm_transfer(client, sandbox, bill_of(claimed))
    assert payouts_of([guides["big"]])[guides["big"]][0].status == "SUCCESS"
    assert stats_of(guides["big"]).settled == 100_000
    paid = [t for t in sandbox.transfers.values() if t["openid"] and t["state"] == "SUCCESS"
            and t["out_bill_no"].startswith(payouts_of([guides["big"]])[guides["big"]][0].payout_id)]
    assert sum(t["transfer_amount"] for t in paid) == 100_000 and len(paid) == 5


def test_an_unverifiable_answer_never_pays_twice(client, admin_headers, shop, day, monkeypatch):
    """WeChat took the transfer, but its answer does not verify (RESPONSE_NOT_VERIFIED): the
    outcome is unknown. The next day's settlement must neither give the commissions back
    nor pay them again under a new out_bill_no."""
    from functions import wiring
    from layers.domain.payment_gateway import ResponseNotVerified

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=1, orders_each=1)
    [d] = expected
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    pay = wiring.pay_client()
    original = pay.transfer

    def made_but_unverifiable(**kwargs):
        original(**kwargs)
        raise ResponseNotVerified(200, "RESPONSE_NOT_VERIFIED", "the answer's signature does not verify")

    monkeypatch.setattr(pay, "transfer", made_but_unverifiable)
    [view] = my_payouts(client, d)
    r = claim(client, d, view["id"])
    assert r.status_code == 503 and body(r)["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    monkeypatch.setattr(pay, "transfer", original)
    assert all(c.status == "SETTLING" for c in commissions_of(d))
    day(next(_offset))
    settlement().settle_commissions(inline=True)  # the follow-up asks WeChat: it has it
    assert len(payouts_of([d])[d]) == 1
    [view] = my_payouts(client, d)
    assert view["status"] == "WAIT_USER_CONFIRM" and view["confirm"]["package"]
    bill = bill_of(view)
    # Asked again under the same number (the query carries no package): one transfer at WeChat.
    assert transfer_posts(sandbox, bill) == 2
    assert [t for t in sandbox.transfers if t.startswith(view["id"])] == [bill]


def test_a_transfer_not_confirmed_in_time_is_claimed_again_under_a_new_number(client, admin_headers, shop, day):
    from functions import wiring

    sandbox = shop["sandbox"]
    expected = settleable_commissions(client, admin_headers, shop, distributors=1, orders_each=1)
    [d] = expected
    day(next(_offset))
    settlement().settle_commissions(inline=True)
    [view] = my_payouts(client, d)
    first = body(claim(client, d, view["id"]))
    old = bill_of(first)
    # 24 hours without the distributor's confirmation: WeChat ends the transfer FAIL
    assert sandbox.expire_transfer(old, notify=False)["state"] == "FAIL"
    settlement().follow_up_open_payouts()
    [again] = my_payouts(client, d)
    assert (again["id"], again["status"]) == (view["id"], "READY")
    assert all(c.status == "SETTLING" for c in commissions_of(d))
    second = body(claim(client, d, view["id"]))
    new = bill_of(second)
    assert new != old and second["status"] == "WAIT_USER_CONFIRM"
    confirm_transfer(client, sandbox, new)
    assert stats_of(d).settled == expected[d]
    assert wiring.payout_repository().get(view["id"][:-2]).status == "SUCCESS"


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
