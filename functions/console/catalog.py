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
    if partial:
        return ctx.page("_product_rows.html", products=products, next_cursor=encode_cursor(next_key))
    return ctx.page("products.html", products=products, next_cursor=encode_cursor(next_key),
                    tree=wiring.categories().tree()["items"], freight_templates=wiring.freight_templates().all())


def _lines(text: str | None) -> list[str]:
    """The image URLs an image list posts, in order (the first is the cover), one a line."""
    return (text or "").split()


def _tags(text: str | None) -> list[str]:
    """`新品 包邮,热卖` -> ["新品", "包邮", "热卖"] (spaces, commas or 、 between)."""
    for sep in (",", ",", "、"):
        text = (text or "").replace(sep, " ")
    return list(dict.fromkeys((text or "").split()))


def _content(form: dict, current: dict | None = None) -> dict:
    """The product's content fields as the API takes them. A product whose category is still
    free text (no `category_id`) keeps that text until a category of the tree is chosen."""
    category_id = (form.get("category_id") or "").strip() or None
    legacy = current["category"] if current and not current.get("category_id") else None
    return {"images": _lines(form.get("images")), "detail_images": _lines(form.get("detail_images")),
            "description": (form.get("description") or "").strip() or None, "category_id": category_id,
            "category": None if category_id else legacy, "tags": _tags(form.get("tags")),
            "sort_weight": _int(form.get("sort_weight")) or 0}


def _freight(form: dict, current: dict | None = None) -> str | None:
    """The freight template chosen (blank: the shop's flat fee); a form without the picker
    (an older page) keeps the product's."""
    if "freight_template_id" not in form:
        return current.get("freight_template_id") if current else None
    return form["freight_template_id"].strip() or None


def _new_sku(line: str) -> dict:
    """`价格(元) 库存 规格名:值 ...`, one SKU of a form's text."""
    price, _, rest = line.strip().partition(" ")
    stock, _, spec = rest.strip().partition(" ")
    return {"price": _fen(price, "价格"), "stock": _int(stock), "spec": _spec(spec)}


@console_page("/console/products", methods=("POST",))
def product_create(ctx):
    """A product with its SKUs: one line per SKU in the form's `skus` (`price stock spec...`)."""
    form = _form()
    skus = [_new_sku(line) for line in (form.get("skus") or "").splitlines() if line.strip()]
    body = {"title": form.get("title", ""), "skus": skus, "freight_template_id": _freight(form), **_content(form)}
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
    return ctx.page("product.html", product=product, entries=entries, next_cursor=encode_cursor(next_key),
                    tree=wiring.categories().tree()["items"], freight_templates=wiring.freight_templates().all())


def _sku_edit(form: dict, sku: dict) -> dict:
    """An existing SKU from its fields (`price_<id>`, `list_price_<id>`, `weight_g_<id>`,
    `spec_<id>`; yuan, grams, `名称:值`); a field the form did not carry keeps its value."""
    sid = sku["id"]

    def field(name, parse, current):
        value = form.get(f"{name}_{sid}")
        return current if value is None else parse(value)

    out = {"id": sid, "price": _fen(form.get(f"price_{sid}"), "价格"),
           "list_price": field("list_price", lambda v: _fen(v, "划线价"), sku.get("list_price")),
           "weight_g": field("weight_g", _int, sku.get("weight_g")),
           "spec": field("spec", _spec, sku.get("spec"))}
    if out["list_price"] is not None and out["price"] is not None and out["list_price"] < out["price"]:
        raise errors.InvalidRequest("划线价不能低于价格(可不填)")
    return out


@console_page("/console/products/{product_id}", methods=("POST",))
def product_edit(ctx, product_id):
    """Title, content (images, detail images, description, category, tags, sort weight), the
    freight template, each
    SKU's price, list price (yuan), weight (grams) and spec and, on `new_sku`, one more SKU
    (`price stock spec...`). Stock is left alone (it moves by delta, with a reason); the
    product stays on or off sale as it was."""
    form = _form()
    current = wiring.catalog().get_product_admin(product_id)
    skus = [_sku_edit(form, s) for s in current["skus"]]
    line = (form.get("new_sku") or "").strip()
    if line:
        skus.append(_new_sku(line))
    body = {"title": form.get("title", ""), "skus": skus, "commission": current["commission"],
            "active": current["active"], "freight_template_id": _freight(form, current), **_content(form, current)}
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


# -- categories: the two-level tree ------------------------------------------------------------------

@console_page("/console/categories")
def category_list(ctx):
    return ctx.page("categories.html", tree=wiring.categories().tree()["items"])


def _category_input(form: dict) -> schemas.CategoryInput:
    return schemas.CategoryInput.model_validate({
        "name": (form.get("name") or "").strip(), "parent_id": (form.get("parent_id") or "").strip() or None,
        "sort_weight": _int(form.get("sort_weight")) or 0, "image_url": (form.get("image_url") or "").strip() or None})


@console_page("/console/categories", methods=("POST",))
def category_create(ctx):
    wiring.categories().create(_category_input(_form()))
    return redirect("/console/categories", flash="created")


@console_page("/console/categories/{category_id}", methods=("POST",))
def category_update(ctx, category_id):
    wiring.categories().update(category_id, _category_input(_form()))
    return redirect("/console/categories", flash="saved")


@console_page("/console/categories/{category_id}/delete", methods=("POST",))
def category_delete(ctx, category_id):
    """A category that products or children still name stays (409): said on the tree's page,
    where the operator sees which one it was."""
    service = wiring.categories()
    try:
        service.delete(category_id)
    except errors.InUse:
        from functions.console.messages import BY_CODE

        return ctx.page("categories.html", 409, tree=service.tree()["items"], refused=category_id,
                        error=BY_CODE["IN_USE"])
    return redirect("/console/categories", flash="deleted")


# -- image uploads: a slot from the console, the file straight from the browser to the bucket -------

@console_page("/console/uploads", methods=("POST",))
def upload_slot(ctx):
    """The presigned POST of `POST /admin/uploads` (the same ImageService) for the page's
    script (static/console.js), which then posts the file itself to the bucket."""
    import json

    from chalice import Response

    form = _form()
    body = schemas.UploadInput.model_validate({"content_type": form.get("content_type", ""),
                                               "size": _int(form.get("size"))})
    slot = wiring.images().new_upload(body.content_type, body.size)
    return Response(body=json.dumps(slot), status_code=201,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store"})
