"""Coupons and flash sales in the console."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import _beijing, _fen, _form, _int, _query, console_page, redirect

# -- coupons and flash sales ------------------------------------------------------------------------

@console_page("/console/coupons")
def coupons_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    items, next_key = wiring.coupons().list_templates(20, decode_cursor(_query("cursor")))
    return ctx.page("coupons.html", templates=items, next_cursor=encode_cursor(next_key))


@console_page("/console/coupons", methods=("POST",))
def coupons_create(ctx):
    form = _form()
    kind = form.get("kind") or "fixed"
    body = {"name": form.get("name", ""), "kind": kind,
            "value": _fen(form.get("value"), "面额") if kind == "fixed" else _int(form.get("value")),
            "threshold": _fen(form.get("threshold"), "门槛") or 0,
            "claim_starts_at": _beijing(form.get("claim_starts_at")),
            "claim_ends_at": _beijing(form.get("claim_ends_at")),
            "valid_days": _int(form.get("valid_days")), "total": _int(form.get("total")),
            "per_user_limit": _int(form.get("per_user_limit")) or 1}
    wiring.coupons().create_template(schemas.CouponTemplateInput.model_validate(body))
    return redirect("/console/coupons", flash="created")


@console_page("/console/flash-sales")
def flash_sales_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    items, next_key = wiring.flash_sales().list_sales(20, decode_cursor(_query("cursor")))
    return ctx.page("flash_sales.html", sales=items, next_cursor=encode_cursor(next_key))


@console_page("/console/flash-sales", methods=("POST",))
def flash_sales_create(ctx):
    form = _form()
    body = {"sku_id": (form.get("sku_id") or "").strip(), "price": _fen(form.get("price"), "秒杀价"),
            "stock": _int(form.get("stock")), "starts_at": _beijing(form.get("starts_at")),
            "ends_at": _beijing(form.get("ends_at")), "per_user_limit": _int(form.get("per_user_limit")) or 1}
    wiring.flash_sales().create_sale(schemas.SaleInput.model_validate(body))
    return redirect("/console/flash-sales", flash="created")


@console_page("/console/flash-sales/{sale_id}/stop", methods=("POST",))
def flash_sales_stop(ctx, sale_id):
    wiring.flash_sales().stop_sale(sale_id)
    return redirect("/console/flash-sales", flash="stopped")
