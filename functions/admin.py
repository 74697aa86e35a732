"""Operators: shop rules, shipping, jobs on demand, anomalies and reconciliations."""

from datetime import date

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import json_object, parse_body, require_admin, route
from functions.jobs import run_job as run_named_job
from layers.domain import errors

bp = Blueprint(__name__)


@route(bp, "/admin/settings", methods=["GET"])
def get_settings():
    require_admin(bp)
    return wiring.shop_settings().get()


@route(bp, "/admin/settings", methods=["PUT"])
def put_settings():
    require_admin(bp)
    # A partial body changes only the rules it names.
    from functions._audit import settings_change
    from layers.services.operators import Session

    before = wiring.shop_settings().get()
    after = wiring.shop_settings().update(json_object(bp))
    wiring.operators().audit(Session("owner", "owner"), "settings.update", "SETTINGS",
                             detail=settings_change(before, after))
    return after


@route(bp, "/admin/orders/{order_id}/ship", methods=["POST"])
def ship_order(order_id):
    require_admin(bp)
    # with the shipping information, which goes to WeChat (functions/miniprogram.py)
    from layers.domain.shipping import shipping_info

    body = parse_body(bp, schemas.ShipInput)
    return wiring.shipping().ship(order_id, shipping_info(body.logistics_type, body.express_company,
                                                         body.tracking_no))


@route(bp, "/admin/jobs/{name}/run", methods=["POST"])
def run_job(name):
    require_admin(bp)
    return {"job": name, "result": run_named_job(name)}


@route(bp, "/admin/anomalies", methods=["GET"])
def list_anomalies():
    require_admin(bp)
    return wiring.reconciliation().recent_anomalies()


@route(bp, "/admin/reconciliations/{bill_date}", methods=["GET"])
def get_reconciliation(bill_date):
    require_admin(bp)
    try:
        day = date.fromisoformat(bill_date)
    except ValueError as exc:
        raise errors.InvalidRequest("the date is YYYY-MM-DD") from exc
    report = wiring.reconciliation().report(day)
    if report is None:
        raise errors.NotFound("no reconciliation for that day")
    return report
