"""The shopper's orders."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    query_param,
    route,
    shopper_checked_by_read,
    shopper_id,
)

bp = Blueprint(__name__)


@route(bp, "/orders", methods=["POST"])
def place_order():
    user, check_caller = shopper_checked_by_read(bp)  # the token version: checked on placement's read
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.PlaceOrderInput)
    return created(wiring.orders().place_order(user, body, key, check_caller=check_caller))


@route(bp, "/orders/preview", methods=["POST"])
def preview_order():
    """The checkout page's price: what POST /orders with this body would charge, the
    shopper's coupons usable or not (and why), the best one. Changes nothing."""
    user, check_caller = shopper_checked_by_read(bp)
    body = parse_body(bp, schemas.PlaceOrderInput)
    return wiring.orders().preview(user, body, check_caller=check_caller)


@route(bp, "/orders", methods=["GET"])
def list_orders():
    user = shopper_id(bp)
    return paged(bp, wiring.orders().list_for_user, user, query_param(bp, "status"))


@route(bp, "/me/orders/summary", methods=["GET"])
def order_summary():
    # counts for the "my orders" row: one read of the shopper's counters
    return wiring.orders().summary(shopper_id(bp))


@route(bp, "/orders/{order_id}", methods=["GET"])
def get_order(order_id):
    return wiring.orders().get_for_user(shopper_id(bp), order_id)


@route(bp, "/orders/{order_id}/cancel", methods=["POST"])
def cancel_order(order_id):
    return wiring.orders().cancel(shopper_id(bp), order_id)


@route(bp, "/orders/{order_id}/receipt", methods=["POST"])
def confirm_receipt(order_id):
    return wiring.orders().confirm_receipt(shopper_id(bp), order_id)


@route(bp, "/stores/{store_id}/redemptions", methods=["POST"])
def redeem_pickup(store_id):
    """A guide of this store hands a pickup order over: the code the shopper shows."""
    user = shopper_id(bp)
    body = parse_body(bp, schemas.RedemptionInput)
    service = wiring.pickup()
    service.check_guide(user, store_id)
    return service.redeem(store_id, body.code, f"guide:{user}")
