"""Products, SKUs and stock in the console."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import (
    _back,
    _fen,
    _form,
    _int,
    _query,
    _spec,
    bp,
    console_page,
    redirect,
)
from layers.domain import errors

# -- products and stock ---------------------------------------------------------------------------

@console_page("/console/products")
def product_list(ctx):
    from functions._api import decode_cursor, encode_cursor

    products, next_key = wiring.catalog().list_all_products(20, decode_cursor(_query("cursor")))
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
    return redirect("/console/products", flash="created")


@console_page("/console/skus/{sku_id}/stock", methods=("POST",))
def sku_stock(ctx, sku_id):
    form = _form()
    try:
        delta = _int(form.get("delta", ""))
    except errors.InvalidRequest:
        delta = None
    if delta is None:
        raise errors.InvalidRequest("库存变化量须为整数(负数为减少)")
    result = wiring.catalog().adjust_stock(sku_id, delta, form.get("reason", ""), by=ctx.session.name)
    wiring.operators().audit(ctx.session, "stock.adjust", sku_id, None,
                             f"{delta:+d} -> {result['stock']}: {result['reason']}")
    return redirect("/console/products", flash="stock")


# -- editing, and on and off sale ------------------------------------------------------------------

@console_page("/console/products/{product_id}")
def product_edit_page(ctx, product_id):
    from functions._api import decode_cursor, encode_cursor

    catalog = wiring.catalog()
    product = catalog.get_product_admin(product_id)
    entries, next_key = catalog.stock_entries(product_id, 20, decode_cursor(_query("cursor")))
    return ctx.page("product.html", product=product, entries=entries, next_cursor=encode_cursor(next_key))


@console_page("/console/products/{product_id}", methods=("POST",))
def product_edit(ctx, product_id):
    """Title, category, each SKU's price (`price_<sku id>`, yuan) and, on `new_sku`, one more
    SKU (`price stock spec...`). Stock is left alone (it moves by delta, with a reason);
    the product stays on or off sale as it was."""
    form = _form()
    current = wiring.catalog().get_product_admin(product_id)
    skus = [{"id": s["id"], "price": _fen(form.get(f"price_{s['id']}"), "价格"), "spec": s["spec"]}
            for s in current["skus"]]
    line = (form.get("new_sku") or "").strip()
    if line:
        price, _, rest = line.partition(" ")
        stock, _, spec = rest.strip().partition(" ")
        skus.append({"price": _fen(price, "价格"), "stock": _int(stock), "spec": _spec(spec)})
    body = {"title": form.get("title", ""), "category": (form.get("category") or "").strip() or None,
            "skus": skus, "commission": current["commission"], "active": current["active"]}
    wiring.catalog().update_product(product_id, schemas.ProductInput.model_validate(body))
    wiring.operators().audit(ctx.session, "product.edit", product_id, None, body["title"])
    return redirect(f"/console/products/{product_id}", flash="saved")


@console_page("/console/products/{product_id}/on-sale", methods=("POST",))
def product_on_sale(ctx, product_id):
    wiring.catalog().set_on_sale(product_id, True)
    wiring.operators().audit(ctx.session, "product.on_sale", product_id, None, "上架")
    return redirect(_back("/console/products"))


@console_page("/console/products/{product_id}/off-sale", methods=("POST",))
def product_off_sale(ctx, product_id):
    wiring.catalog().set_on_sale(product_id, False)
    wiring.operators().audit(ctx.session, "product.off_sale", product_id, None, "下架")
    return redirect(_back("/console/products"))
