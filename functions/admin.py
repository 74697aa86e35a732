"""Operators: shop rules, shipping, jobs on demand."""

from chalice import Blueprint

from functions._api import json_object, require_admin, route

bp = Blueprint(__name__)


@route(bp, "/admin/settings", methods=["GET"])
def get_settings():
    from layers.storage.catalog import load_settings

    require_admin(bp)
    return load_settings(fresh=True).model_dump()


@route(bp, "/admin/settings", methods=["PUT"])
def put_settings():
    from layers import clock
    from layers.domain.shop_settings import ShopSettings
    from layers.storage.catalog import load_settings, save_settings

    require_admin(bp)
    # A partial body changes only the rules it names.
    current = load_settings(fresh=True).model_dump()
    merged = ShopSettings.model_validate({**current, **json_object(bp)})
    save_settings(merged, clock.now_iso())
    return merged.model_dump()


@route(bp, "/admin/orders/{order_id}/ship", methods=["POST"])
def ship_order(order_id):
    from layers.services import orders

    require_admin(bp)
    return orders.ship(order_id)


@route(bp, "/admin/jobs/{name}/run", methods=["POST"])
def run_job(name):
    from layers.jobs import run_job as run

    require_admin(bp)
    return {"job": name, "result": run(name)}


@route(bp, "/admin/anomalies", methods=["GET"])
def list_anomalies():
    from layers.storage.anomalies import recent

    require_admin(bp)
    return {"items": [{"order_id": a.order_id, "kind": a.kind, "detail": a.detail, "created_at": a.created_at}
                      for a in recent()], "next_cursor": None}


@route(bp, "/admin/reconciliations/{bill_date}", methods=["GET"])
def get_reconciliation(bill_date):
    from datetime import date

    from layers.domain import errors
    from layers.storage.ledger import get_report

    require_admin(bp)
    try:
        day = date.fromisoformat(bill_date)
    except ValueError as exc:
        raise errors.InvalidRequest("the date is YYYY-MM-DD") from exc
    report = get_report(day)
    if report is None:
        raise errors.NotFound("no reconciliation for that day")
    return {"bill_date": report.bill_date, "summary": report.summary, "differences": report.differences,
            "run_at": report.run_at}
