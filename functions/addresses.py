"""The shopper's address book: /me/addresses. Writes count in the shopper's `addresses`
window (docs/rate-limits.md)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    no_content,
    paged,
    parse_body,
    route,
    shopper_id,
    shopper_writing,
)

bp = Blueprint(__name__)


@route(bp, "/me/addresses", methods=["GET"])
def list_addresses():
    user = shopper_id(bp)
    return paged(bp, lambda limit, cursor: wiring.addresses().page(user, limit, cursor))


@route(bp, "/me/addresses", methods=["POST"])
def add_address():
    user = shopper_writing(bp, "addresses")
    return created(wiring.addresses().add(user, parse_body(bp, schemas.AddressInput)))


@route(bp, "/me/addresses/{address_id}", methods=["PUT"])
def update_address(address_id):
    user = shopper_writing(bp, "addresses")
    return wiring.addresses().update(user, address_id, parse_body(bp, schemas.AddressInput))


@route(bp, "/me/addresses/{address_id}", methods=["DELETE"])
def delete_address(address_id):
    user = shopper_writing(bp, "addresses")
    wiring.addresses().remove(user, address_id)
    return no_content()
