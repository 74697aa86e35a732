"""Group buys (拼团) against DynamoDB Local and the WeChat Pay sandbox: a crowd on the last
seats, payments counted once, expiry racing the last payment, refunds asked once each,
and the refusals over HTTP."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from layers.domain import errors
from tests.helpers import ADDRESS, body, create_product, login, post
from tests.integration.test_payments import deliver, paid_resource, stored_order

pytestmark = pytest.mark.integration


def new_user() -> str:
    from layers import clock
    from layers.storage.users import upsert_user

    return upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id


def new_activity(client, admin_headers, group_size=3, stock=20, **kw) -> dict:
    from layers import clock

    product = create_product(client, admin_headers, price=29_900, stock=1, title="阳澄湖大闸蟹", category="生鲜")
    now = clock.now()
    r = post(client, "/admin/group-buys", {
        "sku_id": product["skus"][0]["id"], "price": 19_900, "group_size": group_size, "group_ttl_s": 3600,
        "starts_at": clock.iso(now - timedelta(minutes=1)), "ends_at": clock.iso(now + timedelta(days=1)),
        "stock": stock, "per_user_limit": 2, **kw}, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def order_input():
    from functions import schemas

    return schemas.GroupOrderInput.model_validate({"address": ADDRESS})


def pay(client, sandbox, order_id: str) -> None:
    """The shopper pays; WeChat's verified notification arrives; `order.paid` is consumed."""
    from functions import wiring

    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order_id))
    assert deliver(client, headers, raw).status_code in (200, 204)
    wiring.group_buys().on_order_paid(f"order.paid:{order_id}", {"order_id": order_id})
    return headers, raw


def open_group(client, sandbox, admin_headers, **kw) -> tuple[dict, dict]:
    from functions import wiring

    activity = new_activity(client, admin_headers, **kw)
    leader = wiring.group_buys().open(new_user(), activity["id"], order_input(), None)
    pay(client, sandbox, leader["id"])
    assert wiring.group_repository().get(leader["group_id"]).status == "OPEN"
    return activity, leader


def retrying(call):
    from layers.domain import errors

    for _ in range(20):
        try:
            return call()
        except errors.RateLimited:
            continue
        except errors.DomainError as exc:
            return exc.code
    return "BUSY"


def refunds_of(order_id: str) -> list:
    from functions import wiring

    return wiring.refund_repository().for_order(order_id)


def later(monkeypatch, seconds: float) -> None:
    from layers import clock

    moved = clock.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(clock, "now", lambda: moved)


def test_a_crowd_on_the_last_seats_takes_exactly_group_size(client, admin_headers, shop):
    """group_size + 1 shoppers want a seat of a group of 5: the leader's, then 5 at once
    for the 4 left: 4 seats and one GROUP_FULL."""
    from functions import wiring

    activity, leader = open_group(client, shop["sandbox"], admin_headers, group_size=5)
    group_id = leader["group_id"]
    users = [new_user() for _ in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(
            lambda u: retrying(lambda: wiring.group_buys().join(u, group_id, order_input(), None)), users))
    joined = [r for r in results if isinstance(r, dict)]
    assert len(joined) == 4 and [r for r in results if not isinstance(r, dict)] == ["GROUP_FULL"], results
    group = wiring.group_repository().get(group_id)
    assert group.seats_taken == 5 and len(wiring.group_repository().members(group_id)) == 5
    assert wiring.group_buy_repository().remaining(activity["id"]) == 20 - 5
    assert all(j["group_id"] == group_id and j["expires_at"] <= group.expires_at for j in joined)
    r = post(client, f"/groups/{group_id}/orders", {"address": ADDRESS}, login(client))
    assert r.status_code == 409 and body(r)["error"]["code"] == "GROUP_FULL"


def test_duplicate_notifications_count_once_and_the_last_seat_succeeds(client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    _, leader = open_group(client, sandbox, admin_headers, group_size=2)
    group_id = leader["group_id"]
    member = login(client)
    r = post(client, f"/groups/{group_id}/orders", {"address": ADDRESS}, {**member, "Idempotency-Key": "j1"})
    assert r.status_code == 201, r.body
    order = body(r)
    assert order["group_id"] == group_id and order["kind"] == "group" and order["amounts"]["goods"] == 19_900
    again = post(client, f"/groups/{group_id}/orders", {"address": ADDRESS}, {**member, "Idempotency-Key": "j1"})
    assert again.status_code == 201 and body(again)["id"] == order["id"]
    headers, raw = pay(client, sandbox, order["id"])
    assert deliver(client, headers, raw).status_code in (200, 204)  # WeChat delivers again
    for _ in range(2):  # and the event comes twice
        wiring.group_buys().on_order_paid(f"order.paid:{order['id']}", {"order_id": order["id"]})
    view = body(client.http.get(f"/groups/{group_id}"))
    assert (view["status"], view["paid_count"], view["seats_left"]) == ("SUCCEEDED", 2, 0)
    assert set(view) >= {"id", "group_buy_id", "status", "group_size", "paid_count", "seats_left", "expires_at",
                         "members"}
    assert sorted((m["leader"], m["paid"]) for m in view["members"]) == [(False, True), (True, True)]
    r = post(client, f"/admin/orders/{order['id']}/ship", {"logistics_type": "virtual"}, admin_headers)
    assert r.status_code == 200, r.body  # a SUCCEEDED group's orders ship


def test_shipping_before_success_is_refused(client, admin_headers, shop):
    _, leader = open_group(client, shop["sandbox"], admin_headers, group_size=3)
    r = post(client, f"/admin/orders/{leader['id']}/ship", {"logistics_type": "virtual"}, admin_headers)
    assert r.status_code == 409 and body(r)["error"]["code"] == "INVALID_STATE"
    assert stored_order(leader["id"]).status == "PAID"


def test_an_expired_group_refunds_each_paid_member_once_the_job_run_twice(client, admin_headers, shop,
                                                                           monkeypatch):
    from functions import wiring

    sandbox = shop["sandbox"]
    activity, leader = open_group(client, sandbox, admin_headers, group_size=4)
    group_id = leader["group_id"]
    paid = [wiring.group_buys().join(new_user(), group_id, order_input(), None) for _ in range(2)]
    unpaid = wiring.group_buys().join(new_user(), group_id, order_input(), None)
    for o in paid:
        pay(client, sandbox, o["id"])
    later(monkeypatch, 3601)
    for _ in range(2):
        r = post(client, "/admin/jobs/expire-groups/run", {}, admin_headers)
        assert r.status_code == 200, r.body
    group = wiring.group_repository().get(group_id)
    assert group.status == "FAILED" and group.refunds_done and group.paid_count == 3
    for o in [leader, *paid]:
        [refund] = refunds_of(o["id"])
        assert refund.amount == 19_900 and refund.automatic and refund.refund_id in sandbox.refunds
        headers, raw = sandbox.build_notification("REFUND.SUCCESS",
                                                  sandbox.refund_resource(refund.refund_id, "SUCCESS"))
        assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
        assert stored_order(o["id"]).status == "REFUNDED"
    assert refunds_of(unpaid["id"]) == []
    wiring.orders().close_unpaid(unpaid["id"], reason="EXPIRED")
    assert stored_order(unpaid["id"]).status == "CLOSED"
    assert wiring.group_buy_repository().remaining(activity["id"]) == 20  # every unit back
    wiring.group_buys().expire_one(group_id)  # the delayed message, late: nothing more
    assert sum(len(refunds_of(o["id"])) for o in [leader, *paid]) == 3


def test_expiry_racing_the_last_payment_refunds_or_succeeds_never_both(client, admin_headers, shop, monkeypatch):
    from functions import wiring

    sandbox = shop["sandbox"]
    outcomes = set()
    for _ in range(4):
        _, leader = open_group(client, sandbox, admin_headers, group_size=2)
        group_id = leader["group_id"]
        last = wiring.group_buys().join(new_user(), group_id, order_input(), None)
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, last["id"]))
        assert deliver(client, headers, raw).status_code in (200, 204)
        with monkeypatch.context() as m:
            later(m, 3600)
            with ThreadPoolExecutor(max_workers=2) as pool:
                order_id = last["id"]
                counted = pool.submit(retrying, lambda o=order_id: wiring.group_buys().on_order_paid(
                    "order.paid:" + o, {"order_id": o}))
                expired = pool.submit(retrying, lambda g=group_id: wiring.group_buys().expire_one(g))
                counted.result(), expired.result()
            wiring.group_buys().expire_due()  # and the sweep, after both
        group = wiring.group_repository().get(group_id)
        outcomes.add(group.status)
        refunded = [len(refunds_of(o)) for o in (leader["id"], last["id"])]
        if group.status == "SUCCEEDED":
            assert refunded == [0, 0] and group.paid_count == 2
        else:
            assert group.status == "FAILED" and refunded == [1, 1], refunded
    assert outcomes <= {"SUCCEEDED", "FAILED"}


@pytest.mark.parametrize("paid_members,status", [(1, "FAILED"), (2, "SUCCEEDED"), (3, "SUCCEEDED")])
def test_success_min_paid_just_below_at_and_above(client, admin_headers, shop, monkeypatch, paid_members, status):
    """group_size 5, success_min_paid 3: the leader and 1 (below), 2 (at), 3 (above) members paid."""
    from functions import wiring

    sandbox = shop["sandbox"]
    _, leader = open_group(client, sandbox, admin_headers, group_size=5, success_min_paid=3)
    group_id = leader["group_id"]
    members = [wiring.group_buys().join(new_user(), group_id, order_input(), None) for _ in range(paid_members)]
    for o in members:
        pay(client, sandbox, o["id"])
    later(monkeypatch, 3600)
    assert wiring.group_buys().expire_due()["groups_" + status.lower()] >= 1
    group = wiring.group_repository().get(group_id)
    assert group.status == status and group.paid_count == paid_members + 1 and group.seats_taken == paid_members + 1
    refunds = sum(len(refunds_of(o["id"])) for o in [leader, *members])
    assert refunds == (paid_members + 1 if status == "FAILED" else 0)


def test_a_payment_after_failure_is_refunded(client, admin_headers, shop, monkeypatch):
    from functions import wiring

    sandbox = shop["sandbox"]
    _, leader = open_group(client, sandbox, admin_headers, group_size=3)
    group_id = leader["group_id"]
    member = wiring.group_buys().join(new_user(), group_id, order_input(), None)
    later(monkeypatch, 3600)
    wiring.group_buys().expire_due()
    assert wiring.group_repository().get(group_id).status == "FAILED"
    pay(client, sandbox, member["id"])  # paid in the last second; WeChat's notification comes after
    [refund] = refunds_of(member["id"])
    assert refund.amount == 19_900 and refund.refund_id in sandbox.refunds
    assert stored_order(member["id"]).status == "REFUNDING"
    r = post(client, f"/groups/{group_id}/orders", {"address": ADDRESS}, login(client))
    assert r.status_code == 409 and body(r)["error"]["code"] == "INVALID_STATE"


def test_a_stop_racing_an_opening_on_dynamodb_opens_no_group(client, admin_headers, shop, monkeypatch):
    """The opening transaction's condition on the activity, on DynamoDB Local."""
    from functions import wiring
    from layers.domain import group_buy as rules

    activity = new_activity(client, admin_headers, stock=5)
    real_check = rules.check_window

    def check_then_stop(group_buy, now):
        real_check(group_buy, now)
        wiring.group_buys().stop_group_buy(activity["id"])

    monkeypatch.setattr(rules, "check_window", check_then_stop)
    with pytest.raises(errors.Ended):
        wiring.group_buys().open(new_user(), activity["id"], order_input(), None)
    assert wiring.group_buy_repository().remaining(activity["id"]) == 5


def test_group_orders_take_pay_with_and_points_like_every_activity(client, admin_headers, shop):
    """The contract's order calls all take `pay_with` and `points`: the leader opens a group
    paid from the balance (PAID at once, the group OPEN through order.paid), a friend joins
    spending points."""
    from functions import wiring
    from layers.domain.members import POINTS, Movement
    from layers.storage.tx import Tx
    from tests.integration.test_members import book, topped_up

    activity = new_activity(client, admin_headers)
    _, leader = topped_up(client, admin_headers, shop["sandbox"], pay=30_000)
    r = post(client, f"/group-buys/{activity['id']}/groups", {"address": ADDRESS, "pay_with": "balance"}, leader)
    assert r.status_code == 201, r.body
    opened = body(r)
    assert opened["status"] == "PAID" and opened["pay_with"] == "balance"
    assert book(leader["X-User-Id"]).principal == 30_000 - 19_900
    wiring.group_buys().on_order_paid(f"order.paid:{opened['id']}", {"order_id": opened["id"]})
    assert wiring.group_repository().get(opened["group_id"]).status == "OPEN"

    friend = login(client)
    tx = Tx()
    wiring.member_repository().stage_move(tx, Movement(friend["X-User-Id"], POINTS, "test#grant", "grant",
                                                       "2026-11-29T00:00:00Z", available=500), None, None)
    tx.commit()
    r = post(client, f"/groups/{opened['group_id']}/orders", {"address": ADDRESS, "points": 500}, friend)
    assert r.status_code == 201, r.body
    joined = body(r)
    assert joined["amounts"]["points_discount"] == 500 and joined["amounts"]["payable"] == 19_400
    assert book(friend["X-User-Id"], POINTS).available == 0
