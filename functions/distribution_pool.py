"""The promotion pool (推广商品池): operators choose the products guides may share; a guide
lists them with what one unit of each SKU would earn them."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import paged, parse_body, require_admin, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/admin/distribution/pool", methods=["PUT"])
def put_pool():
    require_admin(bp)
    return wiring.distribution_pool().set_pool(parse_body(bp, schemas.DistributionPoolInput))


@route(bp, "/admin/distribution/pool", methods=["GET"])
def get_pool():
    require_admin(bp)
    return wiring.distribution_pool().get_pool()


@route(bp, "/me/distribution/products", methods=["GET"])
def my_products():
    return paged(bp, wiring.distribution_pool().my_products, shopper_id(bp))
