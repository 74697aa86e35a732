"""After-sales (售后): the shopper's requests, returns and cancellations; the operators'
answers, receipts and replacements; and a goodwill coupon for one shopper."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_id,
    shopper_writing,
)
from layers.domain import errors

bp = Blueprint(__name__)


# -- the shopper ------------------------------------------------------------------------------

@route(bp, "/after-sales/reasons", methods=["GET"])
def reasons():
    return wiring.after_sales().reasons()


@route(bp, "/after-sales/uploads", methods=["POST"])
def new_photo_upload():
    """A slot for one photo of an after-sale (the same signed uploads as the storefront's)."""
    shopper_writing(bp, "uploads")
    body = parse_body(bp, schemas.UploadInput)
    return created(wiring.images().new_upload(body.content_type, body.size))


@route(bp, "/orders/{order_id}/after-sales", methods=["POST"])
def request_after_sale(order_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.AfterSaleInput)
    return created(wiring.after_sales().request(user, order_id, body, key))


@route(bp, "/me/after-sales", methods=["GET"])
def my_after_sales():
    user = shopper_id(bp)
    return paged(bp, lambda limit, cursor: wiring.after_sales().mine(user, limit, cursor))


@route(bp, "/after-sales/{after_sale_id}", methods=["GET"])
def get_after_sale(after_sale_id):
    return wiring.after_sales().get(shopper_id(bp), after_sale_id)


@route(bp, "/after-sales/{after_sale_id}/return", methods=["POST"])
def send_back(after_sale_id):
    user = shopper_id(bp)
    return wiring.after_sales().send_back(user, after_sale_id, parse_body(bp, schemas.ReturnShipmentInput))


@route(bp, "/after-sales/{after_sale_id}/cancel", methods=["POST"])
def cancel(after_sale_id):
    return wiring.after_sales().cancel(shopper_id(bp), after_sale_id)


# -- the operators ----------------------------------------------------------------------------

@route(bp, "/admin/after-sales", methods=["GET"])
def admin_list():
    require_admin(bp)
    status = query_param(bp, "status", "REQUESTED")
    kind = query_param(bp, "kind")
    return paged(bp, lambda limit, cursor: wiring.after_sales().listed(status, kind, limit, cursor))


@route(bp, "/admin/after-sales/{after_sale_id}", methods=["GET"])
def admin_get(after_sale_id):
    require_admin(bp)
    return wiring.after_sales().detail(after_sale_id)


@route(bp, "/admin/after-sales/{after_sale_id}/approve", methods=["POST"])
def approve(after_sale_id):
    require_admin(bp)
    body = parse_body(bp, schemas.AfterSaleNoteInput)
    return wiring.after_sales().approve(after_sale_id, body.note)


@route(bp, "/admin/after-sales/{after_sale_id}/reject", methods=["POST"])
def reject(after_sale_id):
    require_admin(bp)
    body = parse_body(bp, schemas.AfterSaleRejectInput)
    return wiring.after_sales().reject(after_sale_id, body.reason)


@route(bp, "/admin/after-sales/{after_sale_id}/receive", methods=["POST"])
def receive(after_sale_id):
    require_admin(bp)
    body = parse_body(bp, schemas.ReceiveInput)
    return wiring.after_sales().receive(after_sale_id, body.restock)


@route(bp, "/admin/after-sales/{after_sale_id}/ship", methods=["POST"])
def ship_replacement(after_sale_id):
    require_admin(bp)
    from dataclasses import asdict

    from layers.domain.shipping import shipping_info

    body = parse_body(bp, schemas.ShipInput)
    info = shipping_info(body.logistics_type, body.express_company, body.tracking_no)
    return wiring.after_sales().ship(after_sale_id, {k: v for k, v in asdict(info).items() if v is not None})


@route(bp, "/admin/users/{user_id}/coupons", methods=["POST"])
def give_coupon(user_id):
    """A goodwill coupon for one shopper: a coupon grant with one target (the path grants to
    a tag or a list take), whose id the Idempotency-Key makes, so a retried call gives one
    coupon; the template's total and per-shopper limit hold."""
    require_admin(bp)
    key = idempotency_key(bp)
    if key is None:
        raise errors.InvalidRequest("an Idempotency-Key header is required: it makes a retried call give one coupon")
    body = parse_body(bp, schemas.GoodwillCouponInput)
    from layers.services.operators import Session

    coupon = wiring.coupon_grants().give_one(user_id, body.template_id, body.reason, key, by="owner")
    wiring.operators().audit(Session("owner", "owner"), "coupon.give", user_id,
                             detail=f"模板 {body.template_id},券 {coupon['id']}:{body.reason}"[:500])
    return created(coupon)
