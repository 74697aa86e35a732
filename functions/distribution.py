"""Distribution: shares and visits (shoppers), the distributor's dashboard, a manager's
group, and the operators' templates, distributors, managers and CSV exports."""

from chalice import Blueprint, Response

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    no_content,
    page_args,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_id,
)
from layers.domain import errors

bp = Blueprint(__name__)


def _csv_or_page(lister, *args):
    """`?format=csv`: every row as text/csv; otherwise one page of JSON."""
    svc = wiring.distribution()
    fmt = query_param(bp, "format", "json")
    page_args(bp)  # a bad limit is 400 whatever the format
    if fmt == "csv":
        return _csv(svc.to_csv(svc.all_rows(lister, *args)))
    if fmt != "json":
        raise errors.InvalidRequest("format is json or csv")
    return paged(bp, lister, *args)


def _csv(text: str) -> Response:
    return Response(body=text, status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="distributors.csv"'})


# -- shoppers ------------------------------------------------------------------------------

@route(bp, "/shares", methods=["POST"])
def create_share():
    user = shopper_id(bp)
    return created(wiring.distribution().create_share(user, parse_body(bp, schemas.ShareInput)))


@route(bp, "/shares/{share_token}/visits", methods=["POST"])
def visit_share(share_token):
    wiring.distribution().visit(shopper_id(bp), share_token, idempotency_key(bp))
    return no_content()


@route(bp, "/me/distribution", methods=["GET"])
def my_distribution():
    return wiring.distribution().dashboard(shopper_id(bp))


@route(bp, "/manager/distributors", methods=["GET"])
def my_group():
    return _csv_or_page(wiring.distribution().list_group_for_manager, shopper_id(bp))


# -- operators -------------------------------------------------------------------------------

@route(bp, "/admin/commission-templates", methods=["POST"])
def create_template():
    require_admin(bp)
    return created(wiring.distribution().create_template(parse_body(bp, schemas.CommissionTemplateInput)))


@route(bp, "/admin/commission-templates", methods=["GET"])
def list_templates():
    require_admin(bp)
    return paged(bp, wiring.distribution().list_templates)


@route(bp, "/admin/distributors", methods=["POST"])
def make_distributor():
    require_admin(bp)
    view, new = wiring.distribution().make_distributor(parse_body(bp, schemas.DistributorInput))
    return created(view) if new else view


@route(bp, "/admin/distributors", methods=["GET"])
def list_distributors():
    require_admin(bp)
    return _csv_or_page(wiring.distribution().list_all)


@route(bp, "/admin/distributors.csv", methods=["GET"])
def export_distributors():
    """Without from/to: every distributor's all-time figures, answered at once. With them:
    the period export, written to the exports bucket in parts, answered 303 to its link."""
    require_admin(bp)
    first, last = query_param(bp, "from"), query_param(bp, "to")
    if first is not None or last is not None:
        url = wiring.analytics().export_distributors(first, last)
        return Response(body="", status_code=303, headers={"Location": url, "Cache-Control": "no-store"})
    svc = wiring.distribution()
    return _csv(svc.to_csv(svc.all_rows(svc.list_all)))


@route(bp, "/admin/distributors/{distributor_id}", methods=["GET"])
def get_distributor(distributor_id):
    require_admin(bp)
    return wiring.distribution().get_distributor(distributor_id)


@route(bp, "/admin/managers", methods=["POST"])
def add_manager():
    require_admin(bp)
    return created(wiring.distribution().add_manager(parse_body(bp, schemas.ManagerInput)))


@route(bp, "/admin/managers/{manager_id}/distributors", methods=["GET"])
def manager_group(manager_id):
    require_admin(bp)
    return _csv_or_page(wiring.distribution().list_group, manager_id)
