"""The shopper's cart."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import parse_body, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/cart", methods=["GET"])
def get_cart():
    return wiring.cart().view(shopper_id(bp))


@route(bp, "/cart/items/{sku_id}", methods=["PUT"])
def put_item(sku_id):
    user = shopper_id(bp)
    body = parse_body(bp, schemas.CartLineInput)
    return wiring.cart().put(user, sku_id, body.quantity)


@route(bp, "/cart/items/{sku_id}", methods=["DELETE"])
def delete_item(sku_id):
    return wiring.cart().remove(shopper_id(bp), sku_id)
