"""Coupons: shoppers claim and list; operators create templates."""

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

bp = Blueprint(__name__)


@route(bp, "/coupons", methods=["GET"])
def claimable():
    return paged(bp, wiring.coupons().claimable_now)


@route(bp, "/coupons/{template_id}/claim", methods=["POST"])
def claim(template_id):
    user = shopper_writing(bp, "claims")
    return created(wiring.coupons().claim(user, template_id, idempotency_key(bp)))


@route(bp, "/me/coupons", methods=["GET"])
def my_coupons():
    user = shopper_id(bp)
    return paged(bp, wiring.coupons().my_coupons, user, query_param(bp, "status"))


@route(bp, "/admin/coupons", methods=["POST"])
def create_template():
    require_admin(bp)
    return created(wiring.coupons().create_template(parse_body(bp, schemas.CouponTemplateInput)))


@route(bp, "/admin/coupons", methods=["GET"])
def list_templates():
    require_admin(bp)
    return paged(bp, wiring.coupons().list_templates)
