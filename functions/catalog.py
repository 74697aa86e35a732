"""Products: shoppers browse; operators create and change."""

import re

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    optional_shopper,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
)

bp = Blueprint(__name__)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _distributor() -> bool:
    """Whether the caller is a distributor: only they see a product's commission. The
    storefront is public, so a missing or unusable token is simply a shopper."""
    user = optional_shopper(bp)
    return user is not None and wiring.distributor_check()(user)


@route(bp, "/products", methods=["GET"])
def list_products():
    distributor = _distributor()
    category_id, q, sort = query_param(bp, "category_id"), query_param(bp, "q"), query_param(bp, "sort", "default")
    from layers.domain import errors

    if q is not None and len(q) > 50:
        raise errors.InvalidRequest("q: at most 50 characters")
    if category_id is not None and not _ID.fullmatch(category_id):
        raise errors.InvalidRequest("category_id: an id of at most 64 letters, digits, _ or -")
    return paged(bp, lambda limit, cursor: wiring.catalog().list_products(
        limit, cursor, category_id=category_id, q=q, sort=sort, distributor=distributor))


@route(bp, "/products/{product_id}", methods=["GET"])
def get_product(product_id):
    return wiring.catalog().get_product(product_id, distributor=_distributor())


@route(bp, "/admin/products", methods=["POST"])
def create_product():
    require_admin(bp)
    return created(wiring.catalog().create_product(parse_body(bp, schemas.ProductInput)))


@route(bp, "/admin/products/{product_id}", methods=["PUT"])
def update_product(product_id):
    require_admin(bp)
    return wiring.catalog().update_product(product_id, parse_body(bp, schemas.ProductInput))
