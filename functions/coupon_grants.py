"""Coupon grants (定向发券): operators give a template to a list of customers or a tag's
members. The grant answers 202 at once and runs in batches behind the events queue
(layers/services/coupon_grants.py); its page shows the progress."""

from chalice import Blueprint, Response

from functions import schemas, wiring
from functions._api import idempotency_key, paged, parse_body, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/admin/coupon-grants", methods=["POST"])
def start_grant():
    require_admin(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.CouponGrantInput)
    grant = wiring.coupon_grants().start(body.template_id, user_ids=body.user_ids, tag=body.tag, note=body.note,
                                         by="owner", idempotency_key=key)
    return Response(body=grant, status_code=202, headers={"Content-Type": "application/json"})


@route(bp, "/admin/coupon-grants", methods=["GET"])
def list_grants():
    require_admin(bp)
    return paged(bp, wiring.coupon_grants().list)


@route(bp, "/admin/coupon-grants/{grant_id}", methods=["GET"])
def get_grant(grant_id):
    require_admin(bp)
    return wiring.coupon_grants().get(grant_id)
