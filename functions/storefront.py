"""The storefront: categories, campaigns a shopper can find, and image uploads for operators."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, no_content, paged, parse_body, query_param, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/categories", methods=["GET"])
def list_categories():
    return wiring.categories().tree()


@route(bp, "/admin/categories", methods=["GET"])
def admin_categories():
    require_admin(bp)
    return wiring.categories().tree()


@route(bp, "/admin/categories", methods=["POST"])
def create_category():
    require_admin(bp)
    return created(wiring.categories().create(parse_body(bp, schemas.CategoryInput)))


@route(bp, "/admin/categories/{category_id}", methods=["PUT"])
def update_category(category_id):
    require_admin(bp)
    return wiring.categories().update(category_id, parse_body(bp, schemas.CategoryInput))


@route(bp, "/admin/categories/{category_id}", methods=["DELETE"])
def delete_category(category_id):
    require_admin(bp)
    wiring.categories().delete(category_id)
    return no_content()


@route(bp, "/admin/uploads", methods=["POST"])
def new_upload():
    require_admin(bp)
    body = parse_body(bp, schemas.UploadInput)
    return created(wiring.images().new_upload(body.content_type, body.size))


def _campaigns(kind: str):
    status = query_param(bp, "status", "live")
    return paged(bp, lambda limit, cursor: wiring.campaign_directory().campaigns(kind, status, limit, cursor))


@route(bp, "/flash-sales", methods=["GET"])
def list_flash_sales():
    return _campaigns("flash_sale")


@route(bp, "/group-buys", methods=["GET"])
def list_group_buys():
    return _campaigns("group_buy")


@route(bp, "/bargains", methods=["GET"])
def list_bargains():
    return _campaigns("bargain")


@route(bp, "/assist-campaigns", methods=["GET"])
def list_assist_campaigns():
    return _campaigns("assist")
