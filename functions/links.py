"""Links for channels (推广链接): operators make a URL Link, a URL Scheme or a mini-program
code that opens a page with its channel, list them (newest first, by channel) and read
one; a code's image is served from the code bucket (layers/services/links.py)."""

from chalice import Blueprint, Response

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
)

bp = Blueprint(__name__)


@route(bp, "/admin/links", methods=["POST"])
def create_link():
    require_admin(bp)
    key = idempotency_key(bp)
    return created(wiring.links().create(parse_body(bp, schemas.LinkInput), key, by="owner"))


@route(bp, "/admin/links", methods=["GET"])
def list_links():
    require_admin(bp)
    return paged(bp, wiring.links().page, query_param(bp, "channel") or None)


@route(bp, "/admin/links/{link_id}", methods=["GET"])
def get_link(link_id):
    require_admin(bp)
    return wiring.links().get(link_id)


@route(bp, "/admin/links/{link_id}/image", methods=["GET"])
def link_image(link_id):
    require_admin(bp)
    image, content_type = wiring.links().image(link_id)
    return Response(body=image, status_code=200,
                    headers={"Content-Type": content_type, "Cache-Control": "private, max-age=86400"})
