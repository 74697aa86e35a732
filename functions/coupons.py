"""Coupons: shoppers claim and list; operators create templates."""

from chalice import Blueprint

from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_id,
)

bp = Blueprint(__name__)


@route(bp, "/coupons", methods=["GET"])
def claimable():
    from layers.services import coupons

    return paged(bp, coupons.claimable_now)


@route(bp, "/coupons/{template_id}/claim", methods=["POST"])
def claim(template_id):
    from layers.services import coupons

    user = shopper_id(bp)
    return created(coupons.claim(user, template_id, idempotency_key(bp)))


@route(bp, "/me/coupons", methods=["GET"])
def my_coupons():
    from layers.services import coupons

    user = shopper_id(bp)
    return paged(bp, coupons.my_coupons, user, query_param(bp, "status"))


@route(bp, "/admin/coupons", methods=["POST"])
def create_template():
    from layers.services import coupons

    require_admin(bp)
    return created(coupons.create_template(parse_body(bp, coupons.TemplateInput)))


@route(bp, "/admin/coupons", methods=["GET"])
def list_templates():
    from layers.services import coupons

    require_admin(bp)
    return paged(bp, coupons.list_templates)
