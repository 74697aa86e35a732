"""The day's numbers, the shop rules and the operators (the last two: the owner only),
and `POST /admin/operators` (JSON, by the owner: the ADMIN_API_KEY is the first owner's key)."""

from __future__ import annotations

from functions import schemas, wiring
from functions._api import created, parse_body, require_admin, route
from functions.console._kit import _INT, _form, _query, bp, console_page, redirect

# -- the day's numbers --------------------------------------------------------------------------

@console_page("/console/dashboard")
def dashboard(ctx):
    from datetime import timedelta

    from layers.clock import iso
    from layers.domain.analytics import day_of

    today = wiring.clock().now()
    last = _query("to") or day_of(iso(today))
    first = _query("from") or day_of(iso(today - timedelta(days=6)))
    rows = wiring.analytics().daily(first, last)["items"]
    return ctx.page("dashboard.html", rows=rows, first=first, last=last)


# -- settings (owner only) ----------------------------------------------------------------------

@console_page("/console/settings", area="settings")
def settings_page(ctx):
    return ctx.page("settings.html", settings=wiring.shop_settings().get())


@console_page("/console/settings", methods=("POST",), area="settings")
def settings_save(ctx):
    form = _form()
    partial = {}
    for key, value in form.items():
        if key == "csrf" or value == "":
            continue
        partial[key] = int(value) if _INT.fullmatch(value.strip()) else value
    from functions._audit import settings_change

    before = wiring.shop_settings().get()
    after = wiring.shop_settings().update(partial)
    wiring.operators().audit(ctx.session, "settings.update", "SETTINGS", detail=settings_change(before, after))
    return redirect("/console/settings")


# -- operators and the audit log (owner only) ---------------------------------------------------

@console_page("/console/operators", area="operators")
def operators_page(ctx):
    service = wiring.operators()
    return ctx.page("operators.html", operators=service.list(ctx.session), audit=service.audit_log(_query("day")))


@console_page("/console/operators", methods=("POST",), area="operators")
def operators_create(ctx):
    form = _form()
    wiring.operators().create(ctx.session, form.get("name", ""), form.get("password", ""),
                              form.get("role", "operator"))
    return redirect("/console/operators")


# -- the JSON API: operators, by the owner --------------------------------------------------------

@route(bp, "/admin/operators", methods=["POST"])
def create_operator():
    require_admin(bp)
    from layers.services.operators import Session

    body = parse_body(bp, schemas.OperatorInput)
    return created(wiring.operators().create(Session("owner", "owner"), body.name, body.password, body.role))


@route(bp, "/admin/operators/{name}/unlock", methods=["POST"])
def unlock_operator(name):
    """The owner lifts a name's sign-in locks (the console's unlock button, as JSON)."""
    require_admin(bp)
    from layers.services.operators import Session

    owner = Session("owner", "owner")
    service = wiring.operators()
    cleared = service.unlock(owner, name)
    service.audit(owner, "operator.unlock", name, detail=f"{cleared} counters")
    return {"name": name, "cleared": cleared}
