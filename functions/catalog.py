"""Products: shoppers browse; operators create and change."""

from chalice import Blueprint

from functions._api import created, paged, parse_body, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/products", methods=["GET"])
def list_products():
    from layers.services import catalog

    return paged(bp, catalog.list_products)


@route(bp, "/products/{product_id}", methods=["GET"])
def get_product(product_id):
    from layers.services import catalog

    return catalog.get_product(product_id)


@route(bp, "/admin/products", methods=["POST"])
def create_product():
    from layers.services import catalog

    require_admin(bp)
    return created(catalog.create_product(parse_body(bp, catalog.ProductInput)))


@route(bp, "/admin/products/{product_id}", methods=["PUT"])
def update_product(product_id):
    from layers.services import catalog

    require_admin(bp)
    return catalog.update_product(product_id, parse_body(bp, catalog.ProductInput))
