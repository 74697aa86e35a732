"""Customers: the shopper's phone number (/me/phone), the operators' customer list and page,
and tags (docs/customers.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    no_content,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_writing,
)
from layers.domain import errors

bp = Blueprint(__name__)


@route(bp, "/me/phone", methods=["POST"])
def set_phone():
    user = shopper_writing(bp, "phone")
    return wiring.customers().set_phone(user, parse_body(bp, schemas.PhoneInput).code)


@route(bp, "/me/phone", methods=["DELETE"])
def remove_phone():
    user = shopper_writing(bp, "phone")
    wiring.customers().remove_phone(user)
    return no_content()


def _int_param(name: str) -> int | None:
    raw = query_param(bp, name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise errors.InvalidRequest(f"{name} must be a whole number from 0")
    return int(raw)


def _time_param(name: str) -> str | None:
    """An RFC 3339 time with its offset, as UTC `...Z` to the second (how records keep times)."""
    raw = query_param(bp, name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise errors.InvalidRequest(f"{name} must be an RFC 3339 time, e.g. 2026-11-22T08:00:00Z") from None
    if at.tzinfo is None:
        raise errors.InvalidRequest(f"{name} must name its offset (Z or +08:00)")
    try:
        return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, ValueError):
        raise errors.InvalidRequest(f"{name} is out of range") from None


def customer_query():
    # imported here, not at the top: the app imports every route module at a cold start
    from layers.domain.customers import Filters
    from layers.services.customers import CustomerQuery

    q = query_param(bp, "q")
    tag, level = query_param(bp, "tag") or None, query_param(bp, "level") or None
    for name, value in (("tag", tag), ("level", level)):
        if value is not None and len(value) > 32:
            raise errors.InvalidRequest(f"{name} is at most 32 characters")
    filters = Filters(tag=tag, level=level, min_spent=_int_param("min_spent"), min_orders=_int_param("min_orders"),
                      last_order_before=_time_param("last_order_before"),
                      last_order_after=_time_param("last_order_after"))
    return CustomerQuery(q=q or None, filters=filters)


@route(bp, "/admin/customers", methods=["GET"])
def list_customers():
    require_admin(bp)
    query = customer_query()
    return paged(bp, lambda limit, cursor: wiring.customers().page(query, limit, cursor))


@route(bp, "/admin/customers/{user_id}", methods=["GET"])
def customer(user_id):
    require_admin(bp)
    return wiring.customers().detail(user_id)


@route(bp, "/admin/customers/{user_id}/tags", methods=["PUT"])
def set_customer_tags(user_id):
    require_admin(bp)
    return wiring.customers().set_manual_tags(user_id, parse_body(bp, schemas.CustomerTagsInput).tags)


@route(bp, "/admin/tags", methods=["POST"])
def create_tag():
    require_admin(bp)
    return created(wiring.customers().create_tag(parse_body(bp, schemas.TagInput)))


@route(bp, "/admin/tags", methods=["GET"])
def list_tags():
    require_admin(bp)
    return wiring.customers().tags()
