"""Recruiting distributors (docs/distribution.md, "Recruitment"): a shopper applies, an
operator approves or rejects, and a manager adds guides to their own group."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, paged, parse_body, query_param, require_admin, route, shopper_id

bp = Blueprint(__name__)


# -- shoppers ------------------------------------------------------------------------------

@route(bp, "/distributor-applications", methods=["POST"])
def apply():
    user = shopper_id(bp)
    view, _ = wiring.recruitment().apply(user, parse_body(bp, schemas.DistributorApplicationInput))
    return created(view)  # asking again answers the same application, as the first time


@route(bp, "/me/distributor-application", methods=["GET"])
def my_application():
    return wiring.recruitment().mine(shopper_id(bp))


# -- managers --------------------------------------------------------------------------------

@route(bp, "/manager/distributors", methods=["POST"])
def add_guide():
    user = shopper_id(bp)
    view, new = wiring.recruitment().add_guide(user, parse_body(bp, schemas.GroupMemberInput))
    return created(view) if new else view


# -- operators -------------------------------------------------------------------------------

@route(bp, "/admin/distributor-applications", methods=["GET"])
def list_applications():
    require_admin(bp)
    return paged(bp, wiring.recruitment().list, query_param(bp, "status"))


@route(bp, "/admin/distributor-applications/{application_id}", methods=["GET"])
def get_application(application_id):
    require_admin(bp)
    return wiring.recruitment().get(application_id)


@route(bp, "/admin/distributor-applications/{application_id}/approve", methods=["POST"])
def approve(application_id):
    require_admin(bp)
    return wiring.recruitment().approve(application_id, parse_body(bp, schemas.ApprovalInput), "owner")


@route(bp, "/admin/distributor-applications/{application_id}/reject", methods=["POST"])
def reject(application_id):
    require_admin(bp)
    return wiring.recruitment().reject(application_id, parse_body(bp, schemas.RejectionInput), "owner")
