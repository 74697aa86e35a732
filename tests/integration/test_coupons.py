"""Coupons against DynamoDB Local: claims under concurrency, holds, give-backs."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration


def iso(dt):
    from layers import clock

    return clock.iso(dt)


def template(client, admin_headers, **overrides) -> dict:
    from layers import clock

    now = clock.now()
    payload = {"name": "满100减20", "kind": "fixed", "value": 2000, "threshold": 10000,
               "claim_starts_at": iso(now - timedelta(minutes=1)), "claim_ends_at": iso(now + timedelta(days=1)),
               "valid_days": 7, "total": 100, "per_user_limit": 1, **overrides}
    r = post(client, "/admin/coupons", payload, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)


def new_user() -> str:
    from layers import clock
    from layers.storage.users import upsert_user

    return upsert_user(f"o{uuid.uuid4().hex[:27]}", None, clock.now_iso()).user_id


def coupons():
    from functions import wiring

    return wiring.coupons()


def issued_total(template_id: str) -> int:
    from functions import wiring

    return wiring.coupon_template_repository().issued_total(template_id)


def claim_quietly(user_id, template_id):
    from layers.domain import errors
    from layers.storage.tx import TransactionConflicted

    while True:  # "busy" means try again, as a client would
        try:
            return coupons().claim(user_id, template_id, None)["id"]
        except TransactionConflicted:
            continue
        except (errors.SoldOut, errors.LimitExceeded) as exc:
            return type(exc).__name__


@pytest.mark.parametrize("shards", [1, 4])
def test_thirty_concurrent_claims_on_ten_coupons_issue_ten(client, admin_headers, shards):
    t = template(client, admin_headers, total=10, shards=shards)
    users = [new_user() for _ in range(30)]
    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(lambda u: claim_quietly(u, t["id"]), users))
    issued = [r for r in results if r.startswith("c")]
    assert len(issued) == 10 and len(set(issued)) == 10
    assert results.count("SoldOut") == 20
    assert issued_total(t["id"]) == 10


def test_the_per_shopper_limit_holds_under_concurrent_claims(client, admin_headers):
    t = template(client, admin_headers, total=100, per_user_limit=2, shards=3)
    user = new_user()
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: claim_quietly(user, t["id"]), range(12)))
    assert len([r for r in results if r.startswith("c")]) == 2
    assert results.count("LimitExceeded") == 10


def test_claim_is_idempotent_and_outside_its_window_is_refused(client, admin_headers):
    from layers import clock

    t = template(client, admin_headers)
    shopper = login(client)
    key = {"Idempotency-Key": f"claim-{uuid.uuid4().hex}"}
    first = post(client, f"/coupons/{t['id']}/claim", None, {**shopper, **key})
    again = post(client, f"/coupons/{t['id']}/claim", None, {**shopper, **key})
    assert first.status_code == again.status_code == 201
    assert body(first)["id"] == body(again)["id"] and body(first)["status"] == "UNUSED"
    second = post(client, f"/coupons/{t['id']}/claim", None, shopper)
    assert second.status_code == 409 and body(second)["error"]["code"] == "LIMIT_EXCEEDED"
    now = clock.now()
    later = template(client, admin_headers, claim_starts_at=iso(now + timedelta(hours=1)),
                     claim_ends_at=iso(now + timedelta(hours=2)))
    r = post(client, f"/coupons/{later['id']}/claim", None, shopper)
    assert r.status_code == 422 and body(r)["error"]["code"] == "NOT_STARTED"
    over = template(client, admin_headers, claim_starts_at=iso(now - timedelta(hours=2)),
                    claim_ends_at=iso(now - timedelta(hours=1)))
    r = post(client, f"/coupons/{over['id']}/claim", None, shopper)
    assert r.status_code == 422 and body(r)["error"]["code"] == "ENDED"
    listed = [c["id"] for c in body(client.http.get("/coupons?limit=100", headers=shopper))["items"]]
    assert t["id"] in listed and later["id"] not in listed and over["id"] not in listed
    mine = body(client.http.get("/me/coupons?status=UNUSED", headers=shopper))["items"]
    assert [c["id"] for c in mine] == [body(first)["id"]]
    bad = post(client, "/admin/coupons", {"name": "x", "kind": "percent", "value": 120}, admin_headers)
    assert bad.status_code == 400


def order_with_coupon(client, shopper, sku_id, coupon_id, quantity=1):
    return post(client, "/orders", order_payload(sku_id, quantity, coupon_id=coupon_id), shopper)


def test_a_held_coupon_cannot_serve_a_second_order_and_comes_back_once(client, admin_headers):
    from functions import wiring

    product = create_product(client, admin_headers, price=6000, stock=10)
    sku_id = product["skus"][0]["id"]
    t = template(client, admin_headers, kind="percent", value=30, max_discount=2500, threshold=10000)
    shopper = login(client)
    coupon = body(post(client, f"/coupons/{t['id']}/claim", None, shopper))

    too_small = order_with_coupon(client, shopper, sku_id, coupon["id"], 1)
    assert too_small.status_code == 422 and body(too_small)["error"]["code"] == "COUPON_NOT_APPLICABLE"
    first = order_with_coupon(client, shopper, sku_id, coupon["id"], 2)
    assert first.status_code == 201, first.body
    assert body(first)["amounts"] == {"goods": 12000, "discount": 2500, "shipping": 0, "payable": 9500}
    second = order_with_coupon(client, shopper, sku_id, coupon["id"], 3)
    assert second.status_code == 422 and body(second)["error"]["code"] == "COUPON_NOT_APPLICABLE"
    someone = login(client)
    theirs = order_with_coupon(client, someone, sku_id, coupon["id"], 2)
    assert theirs.status_code == 422
    held = body(client.http.get("/me/coupons", headers=shopper))["items"]
    assert [c["status"] for c in held] == ["HELD"]

    assert post(client, f"/orders/{body(first)['id']}/cancel", {}, shopper).status_code == 200
    wiring.orders().close_unpaid(body(first)["id"], reason="EXPIRED")  # a second close changes nothing
    back = body(client.http.get("/me/coupons", headers=shopper))["items"]
    assert [c["status"] for c in back] == ["UNUSED"]
    again = order_with_coupon(client, shopper, sku_id, coupon["id"], 2)
    assert again.status_code == 201


def test_paying_consumes_and_a_full_refund_gives_it_back(client, admin_headers, shop):
    from tests.integration.test_payments import deliver, pay_through_notification

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=12000, stock=10)
    sku_id = product["skus"][0]["id"]
    t = template(client, admin_headers)
    shopper = login(client)
    coupon = body(post(client, f"/coupons/{t['id']}/claim", None, shopper))
    order = body(order_with_coupon(client, shopper, sku_id, coupon["id"]))
    pay_through_notification(client, sandbox, order["id"])
    assert [c["status"] for c in body(client.http.get("/me/coupons", headers=shopper))["items"]] == ["USED"]
    refund = body(post(client, f"/orders/{order['id']}/refunds", {"reason": "不要了"}, shopper))
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund["id"], "SUCCESS"))
    for _ in range(2):
        deliver(client, headers, raw, "/wechatpay/refund-notify")
    assert [c["status"] for c in body(client.http.get("/me/coupons", headers=shopper))["items"]] == ["UNUSED"]


def test_a_warm_up_coupon_is_usable_only_when_the_event_starts(client, admin_headers, monkeypatch):
    from layers import clock

    product = create_product(client, admin_headers, price=20000, stock=10)
    now = clock.now()
    t = template(client, admin_headers, valid_days=None, valid_from=iso(now + timedelta(hours=2)),
                 valid_until=iso(now + timedelta(days=2)))
    shopper = login(client)
    coupon = body(post(client, f"/coupons/{t['id']}/claim", None, shopper))
    early = order_with_coupon(client, shopper, product["skus"][0]["id"], coupon["id"])
    assert early.status_code == 422
    live = now + timedelta(hours=2, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: live)
    assert order_with_coupon(client, shopper, product["skus"][0]["id"], coupon["id"]).status_code == 201


def test_post_payment_coupon_is_issued_once_per_order(client, admin_headers):
    gift = template(client, admin_headers, name="支付有礼 下单再减10元", value=1000, threshold=0,
                    post_payment={"min_payable": 5000}, per_user_limit=5)
    user = new_user()
    payload = {"order_id": f"o{uuid.uuid4().hex[:25]}", "user_id": user, "payable": 8000}
    coupons().give_post_payment_coupons(f"order.paid:{payload['order_id']}", payload)
    coupons().give_post_payment_coupons(f"order.paid:{payload['order_id']}", payload)
    small = {"order_id": f"o{uuid.uuid4().hex[:25]}", "user_id": user, "payable": 100}
    coupons().give_post_payment_coupons(f"order.paid:{small['order_id']}", small)
    mine, _ = coupons().my_coupons(user, None, 100, None)
    # Other post-payment templates in the shared table may give too; this one gives once.
    gifts = [c for c in mine if c["template_id"] == gift["id"]]
    assert len(gifts) == 1 and gifts[0]["source"] == "post_payment"
