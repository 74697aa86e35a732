"""A guide's customers (docs/distribution.md, "A guide's customers"): the guide's own
list, an operator's view of any guide's, and a manager's of a guide in their group."""

from chalice import Blueprint

from functions import wiring
from functions._api import paged, require_admin, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/me/distribution/customers", methods=["GET"])
def my_customers():
    return paged(bp, wiring.guide_customers().mine, shopper_id(bp))


@route(bp, "/admin/distributors/{distributor_id}/customers", methods=["GET"])
def distributor_customers(distributor_id):
    require_admin(bp)
    return paged(bp, wiring.guide_customers().of_distributor, distributor_id)


@route(bp, "/manager/distributors/{distributor_id}/customers", methods=["GET"])
def managed_distributor_customers(distributor_id):
    return paged(bp, wiring.guide_customers().for_manager, shopper_id(bp), distributor_id)
