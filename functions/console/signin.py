"""Signing in and out of the console, and its vendored static files."""

from __future__ import annotations

import hmac
import secrets

from chalice import Response

from functions import wiring
from functions._api import error_response, source_address
from functions.console._kit import (
    FORM,
    HTTP_STATUS,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    STATIC,
    STATIC_TYPES,
    _cookie,
    _cookies,
    _form,
    _query,
    _templates,
    bp,
    console_page,
    html,
    is_local_path,
    redirect,
    render,
)
from layers.domain import errors

# -- signing in ---------------------------------------------------------------------------------

@bp.route("/console", methods=["GET"])
def console_home():
    return redirect("/console/orders")


@bp.route("/console/login", methods=["GET"])
def login_page():
    token = secrets.token_urlsafe(24)
    body = _templates().get_template("login.html").render(csrf=token, next=_safe_next(_query("next")),
                                                         error=None, me=None)
    return html(body, cookies=[_cookie(LOGIN_CSRF_COOKIE, token, 3600)])


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/console") and is_local_path(value) else "/console/orders"


@bp.route("/console/login", methods=["POST"], content_types=FORM)
def login():
    form = _form()
    expected = _cookies().get(LOGIN_CSRF_COOKIE)
    got = form.get("csrf") or ""
    if not expected or not hmac.compare_digest(got, expected):
        return render("error.html", 403, message="表单已失效(CSRF 校验失败),请刷新页面重试", me=None)
    service = wiring.operators()
    try:
        session = service.sign_in(form.get("name", ""), form.get("password", ""), source_address(bp))
    except errors.DomainError as exc:
        message = {"rate_limited": "尝试次数过多,请几分钟后再试",
                   "forbidden": "该账号已被停用,请联系店主"}.get(exc.kind, "用户名或密码错误")
        body = _templates().get_template("login.html").render(csrf=expected, next=_safe_next(form.get("next")),
                                                             error=message, me=None)
        return html(body, HTTP_STATUS.get(exc.kind, 400))
    value = service.issue_session(session)
    from layers.services.operators import SESSION_TTL_S

    return redirect(_safe_next(form.get("next")), cookies=[_cookie(SESSION_COOKIE, value, SESSION_TTL_S)])


@console_page("/console/logout", methods=("POST",))
def logout(ctx):
    """Ends the session server-side: a copy of the cookie no longer signs anyone in."""
    wiring.operators().sign_out(_cookies().get(SESSION_COOKIE))
    return redirect("/console/login", cookies=[_cookie(SESSION_COOKIE, "", 0)])


# -- the owner manages operators' access (the operators page lists them) -------------------------

@console_page("/console/operators/{name}/disable", methods=("POST",), area="operators")
def operator_disable(ctx, name):
    wiring.operators().set_disabled(ctx.session, name, True)
    wiring.operators().audit(ctx.session, "operator.disable", name)
    return redirect("/console/operators")


@console_page("/console/operators/{name}/enable", methods=("POST",), area="operators")
def operator_enable(ctx, name):
    wiring.operators().set_disabled(ctx.session, name, False)
    wiring.operators().audit(ctx.session, "operator.enable", name)
    return redirect("/console/operators")


@console_page("/console/operators/{name}/password", methods=("POST",), area="operators")
def operator_password(ctx, name):
    wiring.operators().reset_password(ctx.session, name, _form().get("password", ""))
    wiring.operators().audit(ctx.session, "operator.reset_password", name)
    return redirect("/console/operators")


@console_page("/console/operators/{name}/unlock", methods=("POST",), area="operators")
def operator_unlock(ctx, name):
    """Lifts the name's sign-in locks before their window ends (a guesser locked it)."""
    cleared = wiring.operators().unlock(ctx.session, name)
    wiring.operators().audit(ctx.session, "operator.unlock", name, detail=f"{cleared} counters")
    return redirect("/console/operators")


@bp.route("/console/static/{name}", methods=["GET"])
def static(name):
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        return error_response(404, "NOT_FOUND", "no such file")
    return Response(body=path.read_text(encoding="utf-8"), status_code=200,
                    headers={"Content-Type": STATIC_TYPES[path.suffix], "Cache-Control": "public, max-age=86400"})
