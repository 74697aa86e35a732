"""分销 → 推广商品池: which products guides may share. The same service as
`PUT /admin/distribution/pool`; products are chosen with the product picker (a SKU names
its product), never typed. Not owner-only: the pool decides what may be shared, not who
is paid or how much (a share made before a product left the pool still earns)."""

from __future__ import annotations

import re

from functions import schemas, wiring
from functions.console._kit import _form, console_page, redirect
from layers.domain import errors

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # as functions/schemas.py's Id


@console_page("/console/distribution-pool")
def pool_page(ctx):
    return ctx.page("distribution_pool.html", pool=wiring.distribution_pool().get_pool())


@console_page("/console/distribution-pool", methods=("POST",))
def pool_all(ctx):
    """Every product again (the default), as `PUT /admin/distribution/pool {"all": true}`."""
    wiring.distribution_pool().set_pool(schemas.DistributionPoolInput.model_validate({"all": True}))
    return redirect("/console/distribution-pool", flash="saved")


@console_page("/console/distribution-pool/add", methods=("POST",))
def pool_add(ctx):
    sku_id = (_form().get("sku_id") or "").strip()
    if not ID.match(sku_id):  # the picker's value; anything else is a forged form
        raise errors.InvalidRequest("请先搜索并选择一个商品")
    sku = wiring.catalog_repository().get_skus([sku_id]).get(sku_id)
    if sku is None:
        raise errors.NotFound("没有这个商品")
    wiring.distribution_pool().add_product(sku.product_id)
    return redirect("/console/distribution-pool", flash="saved")


@console_page("/console/distribution-pool/remove", methods=("POST",))
def pool_remove(ctx):
    product_id = (_form().get("product_id") or "").strip()
    if not product_id:
        raise errors.InvalidRequest("请选择要移出的商品")
    wiring.distribution_pool().remove_product(product_id)
    return redirect("/console/distribution-pool", flash="saved")
