"""Products: shoppers browse; operators create and change."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, paged, parse_body, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/products", methods=["GET"])
def list_products():
    return paged(bp, wiring.catalog().list_products)


@route(bp, "/products/{product_id}", methods=["GET"])
def get_product(product_id):
    return wiring.catalog().get_product(product_id)


@route(bp, "/admin/products", methods=["POST"])
def create_product():
    require_admin(bp)
    return created(wiring.catalog().create_product(parse_body(bp, schemas.ProductInput)))


@route(bp, "/admin/products/{product_id}", methods=["PUT"])
def update_product(product_id):
    require_admin(bp)
    return wiring.catalog().update_product(product_id, parse_body(bp, schemas.ProductInput))
