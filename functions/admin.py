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
