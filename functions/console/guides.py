"""One guide's page (分销 → 分销员 → a guide): their figures as the distributors list shows
them, and their customers (bound now or before) with each one's orders and spending
through the guide, a page at a time. Thin views over the services the API uses
(`GET /admin/distributors/{id}` and `/admin/distributors/{id}/customers`)."""

from __future__ import annotations

from urllib.parse import quote

from functions import wiring
from functions.console._kit import _query, bp, console_page
from layers.domain import errors

PAGE = 20


@console_page("/console/distributors/{distributor_id}")
def guide_page(ctx, distributor_id):
    from functions._api import decode_cursor, encode_cursor

    scope = f"guide-customers:{distributor_id}".encode()
    try:
        customers, next_key = wiring.guide_customers().of_distributor(distributor_id, PAGE,
                                                                      decode_cursor(_query("cursor"), scope))
    except errors.NotFound as exc:
        raise errors.NotFound(f"没有这个分销员:{distributor_id}") from exc
    more_url = f"/console/distributors/{quote(distributor_id, safe='')}"
    context = {"customers": customers, "next_cursor": encode_cursor(next_key, scope), "more_url": more_url}
    if bp.current_request.headers.get("hx-request"):  # "more": the next rows only
        return ctx.page("_guide_customer_rows.html", **context)
    return ctx.page("guide.html", d=wiring.distribution().get_distributor(distributor_id), **context)
