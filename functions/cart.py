"""The shopper's cart."""

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from functions._api import parse_body, route, shopper_id

bp = Blueprint(__name__)


class CartLineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=1, le=999)


@route(bp, "/cart", methods=["GET"])
def get_cart():
    from layers.services import cart

    return cart.view(shopper_id(bp))


@route(bp, "/cart/items/{sku_id}", methods=["PUT"])
def put_item(sku_id):
    from layers.services import cart

    user = shopper_id(bp)
    body = parse_body(bp, CartLineInput)
    return cart.put(user, sku_id, body.quantity)


@route(bp, "/cart/items/{sku_id}", methods=["DELETE"])
def delete_item(sku_id):
    from layers.services import cart

    return cart.remove(shopper_id(bp), sku_id)
