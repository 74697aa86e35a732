"""Members: the shopper's membership and books, top-up plans and top-ups;
operators set levels and plans and refund top-ups."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    require_admin,
    route,
    shopper_id,
    shopper_writing,
)

bp = Blueprint(__name__)


@route(bp, "/me/membership", methods=["GET"])
def membership():
    return wiring.members().membership(shopper_id(bp))


@route(bp, "/me/points/entries", methods=["GET"])
def points_entries():
    return paged(bp, wiring.members().entries, shopper_id(bp), "points")


@route(bp, "/me/balance/entries", methods=["GET"])
def balance_entries():
    return paged(bp, wiring.members().entries, shopper_id(bp), "balance")


@route(bp, "/top-up-plans", methods=["GET"])
def plans():
    shopper_id(bp)  # a shopper's call, like every other
    return wiring.top_ups().plans()


@route(bp, "/top-ups", methods=["POST"])
def top_up():
    user = shopper_writing(bp, "top-ups")
    return created(wiring.top_ups().create(user, parse_body(bp, schemas.TopUpInput), idempotency_key(bp)))


@route(bp, "/admin/member-levels", methods=["PUT"])
def set_levels():
    require_admin(bp)
    return wiring.members().set_levels(parse_body(bp, schemas.MemberLevelsInput))


@route(bp, "/admin/top-up-plans", methods=["POST"])
def create_plan():
    require_admin(bp)
    return created(wiring.top_ups().create_plan(parse_body(bp, schemas.TopUpPlanInput)))


@route(bp, "/admin/top-ups/{top_up_id}/refund", methods=["POST"])
def refund_top_up(top_up_id):
    require_admin(bp)
    return created(wiring.top_ups().refund(top_up_id))


@route(bp, "/admin/top-ups/{top_up_id}/abnormal-refund", methods=["POST"])
def abnormal_top_up_refund(top_up_id):
    require_admin(bp)
    return wiring.top_ups().apply_abnormal(top_up_id, parse_body(bp, schemas.AbnormalRefundInput))
