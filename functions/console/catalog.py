"""Products, SKUs and stock in the console."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import _fen, _form, _int, _query, _spec, bp, console_page, redirect
from layers.domain import errors

# -- products and stock ---------------------------------------------------------------------------

@console_page("/console/products")
def product_list(ctx):
    from functions._api import decode_cursor, encode_cursor

    products, next_key = wiring.catalog().list_products_admin(20, decode_cursor(_query("cursor")))
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_product_rows.html" if partial else "products.html", products=products,
                    next_cursor=encode_cursor(next_key))


@console_page("/console/products", methods=("POST",))
def product_create(ctx):
    """A product with its SKUs: one line per SKU in the form's `skus` (`price stock spec...`)."""
    form = _form()
    skus = []
    for line in (form.get("skus") or "").splitlines():
        if not line.strip():
            continue
        price, _, rest = line.strip().partition(" ")
        stock, _, spec = rest.strip().partition(" ")
        skus.append({"price": _fen(price, "价格"), "stock": _int(stock), "spec": _spec(spec)})
    body = {"title": form.get("title", ""), "category": (form.get("category") or "").strip() or None, "skus": skus}
    wiring.catalog().create_product(schemas.ProductInput.model_validate(body))
    return redirect("/console/products")


@console_page("/console/skus/{sku_id}/stock", methods=("POST",))
def sku_stock(ctx, sku_id):
    form = _form()
    try:
        delta = int(form.get("delta", ""))
    except ValueError as exc:
        raise errors.InvalidRequest("库存变化量须为整数(负数为减少)") from exc
    result = wiring.catalog().adjust_stock(sku_id, delta, form.get("reason", ""))
    wiring.operators().audit(ctx.session, "stock.adjust", sku_id, None,
                             f"{delta:+d} -> {result['stock']}: {result['reason']}")
    return redirect("/console/products")
