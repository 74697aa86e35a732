"""Flash sales (秒杀): shoppers look and buy; operators create, list and stop."""

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


@route(bp, "/flash-sales/{sale_id}", methods=["GET"])
def get_sale(sale_id):
    return wiring.flash_sales().get_sale_view(sale_id)


@route(bp, "/flash-sales/{sale_id}/orders", methods=["POST"])
def place_order(sale_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.OrderInput)
    return created(wiring.flash_sales().place_order(user, sale_id, body, key))


@route(bp, "/admin/flash-sales", methods=["POST"])
def create_sale():
    require_admin(bp)
    return created(wiring.flash_sales().create_sale(parse_body(bp, schemas.SaleInput)))


@route(bp, "/admin/flash-sales", methods=["GET"])
def list_sales():
    require_admin(bp)
    return paged(bp, wiring.flash_sales().list_sales)


@route(bp, "/admin/flash-sales/{sale_id}/stop", methods=["POST"])
def stop_sale(sale_id):
    require_admin(bp)
    return wiring.flash_sales().stop_sale(sale_id)
