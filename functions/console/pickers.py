"""Pickers (htmx): a form never asks for a raw id. Each answers a fragment, the `<select>`
that the form posts, with what a person recognises as its options' labels:

- `GET /console/pickers/skus?sku_q=<title>&field=sku_id`: SKUs by product title (flash sales,
  group buys, bargains; any form that needs a product);
- `GET /console/pickers/shoppers?<field>_q=<phone or order number>&field=user_id`: the shoppers
  behind the orders with that phone (placed in the last 31 days) or that order number
  (distributors, managers, members). Shoppers carry no phone; orders do.

A form includes one with the `sku_picker` / `shopper_picker` macros of `_macros.html`.
"""

from __future__ import annotations

import re

from functions import wiring
from functions.console._kit import _query, console_page

FIELD = re.compile(r"^[a-z_]{1,32}$")  # the select's name, from the form that asked


def _field(default: str) -> str:
    field = _query("field") or default
    return field if FIELD.match(field) else default


@console_page("/console/pickers/skus")
def sku_options(ctx):
    q = (_query("sku_q") or _query("q") or "").strip()[:60]
    skus = wiring.catalog().search_skus(q, limit=30)
    return ctx.page("_sku_options.html", skus=skus, q=q, field=_field("sku_id"),
                    selected=_query("selected") or "")


def _masked(phone: str | None) -> str:
    digits = phone or ""
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else digits


@console_page("/console/pickers/shoppers")
def shopper_options(ctx):
    q = (_query(_field("user_id") + "_q") or _query("q") or "").strip()[:64]
    shoppers = [{**b, "phone": _masked(b["phone"])} for b in wiring.order_search().buyers(q)]
    return ctx.page("_shopper_options.html", shoppers=shoppers, q=query_tag(q), field=_field("user_id"),
                    optional=_query("optional") == "1")


def query_tag(q: str) -> str:
    """What the shopper options name the query they answer by (so a page can tell the answer
    to the latest search from an earlier one): a digest, since the query may be a phone
    number, which a page never shows whole."""
    import hashlib

    return hashlib.sha256(q.encode()).hexdigest()[:16]
