"""An order that closes unpaid gives back its stock, coupon and flash-sale quota; a payment
that arrives after that (WeChat Pay let the shopper pay in the same instant) either takes
all of it again, or, if any of it went elsewhere, is refunded automatically. Nothing is
used twice, and no notification is left answering 500."""

from __future__ import annotations

import pytest

from tests.helpers import body, create_product, login, post
from tests.integration.test_coupons import order_with_coupon, template
from tests.integration.test_flash_sales import ADDRESS, new_sale
from tests.integration.test_payments import deliver, order_status, paid_resource, stored_order

pytestmark = pytest.mark.integration


def notify_paid(client, sandbox, order_id):
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", paid_resource(sandbox, order_id))
    r = deliver(client, headers, raw)
    assert r.status_code in (200, 204), r.body
    return headers, raw


def coupons_of(client, shopper) -> dict[str, str]:
    return {c["id"]: c["status"] for c in body(client.http.get("/me/coupons", headers=shopper))["items"]}


def test_a_reinstated_order_takes_its_coupon_again(client, admin_headers, shop):
    from functions import wiring

    product = create_product(client, admin_headers, price=12000, stock=10)
    shopper = login(client)
    coupon = body(post(client, f"/coupons/{template(client, admin_headers)['id']}/claim", None, shopper))
    order = body(order_with_coupon(client, shopper, product["skus"][0]["id"], coupon["id"]))
    wiring.orders().close_unpaid(order["id"], reason="EXPIRED", ask_wechat=False)
    assert coupons_of(client, shopper) == {coupon["id"]: "UNUSED"}
    notify_paid(client, shop["sandbox"], order["id"])
    assert order_status(order["id"]) == "PAID"
    assert coupons_of(client, shopper) == {coupon["id"]: "USED"}  # taken again, not left usable
    again = order_with_coupon(client, shopper, product["skus"][0]["id"], coupon["id"])
    assert again.status_code == 422  # no second order with it


def test_a_late_payment_whose_coupon_went_to_another_order_is_refunded(client, admin_headers, shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    product = create_product(client, admin_headers, price=12000, stock=10)
    sku_id = product["skus"][0]["id"]
    shopper = login(client)
    coupon = body(post(client, f"/coupons/{template(client, admin_headers)['id']}/claim", None, shopper))
    first = body(order_with_coupon(client, shopper, sku_id, coupon["id"]))
    wiring.orders().close_unpaid(first["id"], reason="EXPIRED", ask_wechat=False)
    second = body(order_with_coupon(client, shopper, sku_id, coupon["id"]))  # the coupon serves this one now
    notify_paid(client, sandbox, second["id"])
    headers, raw = notify_paid(client, sandbox, first["id"])
    assert deliver(client, headers, raw).status_code in (200, 204)  # WeChat delivers again
    late = stored_order(first["id"])
    assert (late.status, late.paid_amount) == ("REFUNDING", first["amounts"]["payable"])
    [refund] = wiring.refund_repository().for_order(first["id"])
    assert refund.amount == first["amounts"]["payable"] and refund.refund_id in sandbox.refunds
    assert coupons_of(client, shopper) == {coupon["id"]: "USED"}
    assert stored_order(second["id"]).status == "PAID"
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(refund.refund_id, "SUCCESS"))
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)
    assert order_status(first["id"]) == "REFUNDED"
    assert coupons_of(client, shopper) == {coupon["id"]: "USED"}  # the refund of the late payment gives nothing back
    kinds = [a.kind for a in wiring.anomalies().for_order(first["id"])]
    assert "PAID_AFTER_CLOSE_REFUNDED" in kinds


def test_a_late_flash_sale_payment_over_the_shoppers_limit_is_refunded(client, admin_headers, shop):
    from functions import schemas, wiring

    sandbox = shop["sandbox"]
    sale = new_sale(client, admin_headers, stock=10, shards=2, per_user_limit=1)
    from layers.auth import verify_shopper_token

    uid = verify_shopper_token(login(client)["Authorization"].split()[1]).user_id
    place = wiring.flash_sales().place_order
    first = place(uid, sale["id"], schemas.OrderInput.model_validate({"quantity": 1, "address": ADDRESS}), None)
    wiring.orders().close_unpaid(first["id"], reason="EXPIRED", ask_wechat=False)
    second = place(uid, sale["id"], schemas.OrderInput.model_validate({"quantity": 1, "address": ADDRESS}), None)
    notify_paid(client, sandbox, second["id"])
    for _ in range(2):  # answered, not 500 forever
        notify_paid(client, sandbox, first["id"])
    assert order_status(first["id"]) == "REFUNDING"
    [refund] = wiring.refund_repository().for_order(first["id"])
    assert refund.amount == first["amounts"]["payable"]
    assert order_status(second["id"]) == "PAID"
    sales = wiring.flash_sale_repository()
    assert sales.get(sale["id"]).stock - sales.remaining(sale["id"]) == 1  # one unit sold, not two
