"""门店: the shop's stores (list, create, edit), a store's page with its staff (console
operators and guides), and the stores' monthly figures as a chart.

A store's staff (operator role `store`) open only their own store's pages: every view
here that shows one store is `console_page(..., store=True)` and calls
`require_store(ctx, store_id)`; `/console/my-store` takes them to theirs. They read their
store; editing it, and placing staff (who may work where is a permission, as operators
are), are for owners (staff) and operators (the store's details)."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import _form, _query, console_page, redirect, require_store
from layers.domain import errors

HOME = "/console/stores"


@console_page("/console/my-store", store=True)
def my_store(ctx):
    """A store's staff member's home: their store's page (owners and operators: the list)."""
    if not ctx.session.is_store:
        return redirect(HOME)
    if ctx.store_id is None:
        return ctx.page("error.html", 200, code="NO_STORE", message="你还没有被分配到门店,请联系店主把你加为门店店员。")
    return redirect(f"{HOME}/{ctx.store_id}")


def _store_input(form: dict, version: int | None = None) -> schemas.StoreInput:
    def number(name: str, label: str):
        text = (form.get(name) or "").strip()
        try:
            return float(text) if text.replace(".", "", 1).lstrip("-").isdigit() and text.isascii() else None
        except ValueError:
            return None

    lat, lng = number("lat", "纬度"), number("lng", "经度")
    if lat is None or lng is None or not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise errors.InvalidRequest("经纬度不对:纬度 -90 到 90、经度 -180 到 180,用小数填写(例如 31.2335、121.4752)")
    return schemas.StoreInput.model_validate({
        "name": (form.get("name") or "").strip(), "address": (form.get("address") or "").strip(),
        "location": {"lat": lat, "lng": lng}, "phone": (form.get("phone") or "").strip(),
        "hours": (form.get("hours") or "").strip(), "pickup": form.get("pickup") == "1", "version": version})


@console_page(HOME)
def stores_page(ctx):
    stores = sorted(_all(), key=lambda s: (s["name"], s["id"]))
    return ctx.page("stores.html", stores=stores)


def _all() -> list[dict]:
    rows, cursor = [], None
    while True:
        items, cursor = wiring.stores().list(100, cursor)
        rows += items
        if not cursor:
            return rows


@console_page(HOME, methods=("POST",))
def store_create(ctx):
    made = wiring.stores().create(_store_input(_form()))
    return redirect(f"{HOME}/{made['id']}", flash="created")


@console_page(HOME + "/{store_id}", store=True)
def store_page(ctx, store_id):
    require_store(ctx, store_id)
    service = wiring.stores()
    store = service.get(store_id)
    staff = service.staff(store_id)
    operators = []
    if ctx.session.is_owner:  # the operators to choose from: not yet staff here
        here = {s.get("operator_id") for s in staff}
        operators = [o for o in wiring.operators().list(ctx.session)
                     if o["name"] not in here and not o.get("disabled")]
    return ctx.page("store.html", store=store, staff=staff, operators=operators)


@console_page(HOME + "/{store_id}", methods=("POST",))
def store_edit(ctx, store_id):
    form = _form()
    version = form.get("version") or ""
    if not version.isdigit() or not version.isascii():
        raise errors.InvalidRequest("表单已过期,请刷新页面后重新编辑")
    wiring.stores().edit(store_id, _store_input(form, int(version)))
    return redirect(f"{HOME}/{store_id}", flash="saved")


@console_page(HOME + "/{store_id}/staff", methods=("POST",), area="operators")
def staff_add(ctx, store_id):
    form = _form()
    body = schemas.StaffInput.model_validate({"operator_id": (form.get("operator_id") or "").strip() or None,
                                             "user_id": (form.get("user_id") or "").strip() or None})
    if not body.operator_id and not body.user_id:
        raise errors.InvalidRequest("请选择一位操作员,或找到一位分销员")
    added = wiring.stores().add_staff(store_id, operator_id=body.operator_id, user_id=body.user_id,
                                      by=ctx.session.name)
    return redirect(f"{HOME}/{store_id}", flash="staff_moved" if added.get("moved_from") else "staff_added")


@console_page(HOME + "/{store_id}/staff/{kind}/{staff_id}/remove", methods=("POST",), area="operators")
def staff_remove(ctx, store_id, kind, staff_id):
    wiring.stores().remove_staff(store_id, kind, staff_id)
    return redirect(f"{HOME}/{store_id}", flash="deleted")


# -- 门店业绩: a month's figures per store ---------------------------------------------------------

@console_page("/console/store-figures")
def store_figures(ctx):
    from functions.console.figures import _bars
    from layers.clock import iso
    from layers.domain.analytics import month_of

    month = _query("month") or month_of(iso(wiring.clock().now()))
    try:
        figures = wiring.analytics().stores(month)["items"]
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest("月份不对:请选择一个月(例如 2026-12)") from exc
    names = wiring.stores().names()
    counted = {r["store_id"] for r in figures}
    # every store, the counted first (best gmv first), then the others by name with zeros
    rows = [{**r, "name": names.get(r["store_id"], r["store_id"])} for r in figures]
    rows += [{"store_id": sid, "name": name, "pickup_orders": 0, "guide_sales": 0, "gmv": 0}
             for sid, name in names.items() if sid not in counted]
    chart = _bars([r["name"] for r in rows], [("成交额(元)", "元", [r["gmv"] / 100 for r in rows]),
                                              ("导购成交(元)", "元", [r["guide_sales"] / 100 for r in rows])])
    return ctx.page("store_figures.html", rows=rows, month=month, chart=chart)
