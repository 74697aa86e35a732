"""Group buys (拼团): operators create them; a shopper opens a group with an order at the
group price and friends join it with orders of their own."""

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
)

bp = Blueprint(__name__)


@route(bp, "/admin/group-buys", methods=["POST"])
def create_group_buy():
    require_admin(bp)
    return created(wiring.group_buys().create_group_buy(parse_body(bp, schemas.GroupBuyInput)))


@route(bp, "/group-buys/{group_buy_id}", methods=["GET"])
def get_group_buy(group_buy_id):
    return wiring.group_buys().get_group_buy(group_buy_id)


@route(bp, "/group-buys/{group_buy_id}/groups", methods=["POST"])
def open_group(group_buy_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.GroupOrderInput)
    return created(wiring.group_buys().open(user, group_buy_id, body, key))


@route(bp, "/group-buys/{group_buy_id}/groups", methods=["GET"])
def list_open_groups(group_buy_id):
    """拼团广场: the activity's OPEN groups with seats left, soonest to expire first."""
    service = wiring.group_buys()
    service.get_group_buy(group_buy_id)  # 404 for no such activity
    return paged(bp, lambda limit, cursor: wiring.campaign_directory().open_groups(
        group_buy_id, service.view, limit, cursor))


@route(bp, "/groups/{group_id}", methods=["GET"])
def get_group(group_id):
    return wiring.group_buys().get_group(group_id)


@route(bp, "/groups/{group_id}/orders", methods=["POST"])
def join_group(group_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.GroupOrderInput)
    return created(wiring.group_buys().join(user, group_id, body, key))
