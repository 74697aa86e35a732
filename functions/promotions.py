"""Promotions (满减, 满折, 满赠, 第N件, 打包价): operators create, stop, list and read them
(changes audited as every admin change is, by functions/_api.route); shoppers read the live
ones, for the mini-program's labels (public, as the rest of the storefront)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, paged, parse_body, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/admin/promotions", methods=["GET"])
def list_promotions():
    require_admin(bp)
    return paged(bp, wiring.promotions().page)


@route(bp, "/admin/promotions", methods=["POST"])
def create_promotion():
    require_admin(bp)
    return created(wiring.promotions().create(parse_body(bp, schemas.PromotionInput)))


@route(bp, "/admin/promotions/{promotion_id}", methods=["GET"])
def get_promotion(promotion_id):
    require_admin(bp)
    return wiring.promotions().get(promotion_id)


@route(bp, "/admin/promotions/{promotion_id}/stop", methods=["POST"])
def stop_promotion(promotion_id):
    require_admin(bp)
    return wiring.promotions().stop(promotion_id)


@route(bp, "/promotions", methods=["GET"])
def live_promotions():
    return paged(bp, wiring.promotions().live)
