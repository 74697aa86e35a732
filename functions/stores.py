"""Stores (docs/stores.md): the operators' stores and staff, and the shoppers' list of
stores, nearest first."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, no_content, paged, parse_body, query_param, require_admin, route

bp = Blueprint(__name__)


def _coordinate(name: str) -> float | None:
    raw = query_param(bp, name)
    if raw is None or raw == "":
        return None
    from layers.domain import errors

    try:
        return float(raw)
    except ValueError as exc:
        raise errors.InvalidRequest(f"{name}: a number of degrees") from exc


# -- shoppers (public: a store's address and business number are the shop's, not anyone's) --------

@route(bp, "/stores", methods=["GET"])
def nearby():
    lat, lng = _coordinate("lat"), _coordinate("lng")
    return paged(bp, wiring.stores().nearby, lat, lng)


# -- operators -------------------------------------------------------------------------------

@route(bp, "/admin/stores", methods=["POST"])
def create_store():
    require_admin(bp)
    return created(wiring.stores().create(parse_body(bp, schemas.StoreInput)))


@route(bp, "/admin/stores", methods=["GET"])
def list_stores():
    require_admin(bp)
    return paged(bp, wiring.stores().list)


@route(bp, "/admin/stores/{store_id}", methods=["GET"])
def get_store(store_id):
    require_admin(bp)
    return wiring.stores().get(store_id)


@route(bp, "/admin/stores/{store_id}", methods=["PUT"])
def edit_store(store_id):
    require_admin(bp)
    return wiring.stores().edit(store_id, parse_body(bp, schemas.StoreInput))


@route(bp, "/admin/stores/{store_id}/staff", methods=["GET"])
def list_staff(store_id):
    require_admin(bp)
    return {"items": wiring.stores().staff(store_id), "next_cursor": None}


@route(bp, "/admin/stores/{store_id}/staff", methods=["POST"])
def add_staff(store_id):
    require_admin(bp)
    body = parse_body(bp, schemas.StaffInput)
    return created(wiring.stores().add_staff(store_id, operator_id=body.operator_id, user_id=body.user_id,
                                             by="owner"))


@route(bp, "/admin/stores/{store_id}/staff/{kind}/{staff_id}", methods=["DELETE"])
def remove_staff(store_id, kind, staff_id):
    require_admin(bp)
    wiring.stores().remove_staff(store_id, kind, staff_id)
    return no_content()


@route(bp, "/admin/analytics/stores", methods=["GET"])
def store_figures():
    require_admin(bp)
    return wiring.analytics().stores(query_param(bp, "month"))
