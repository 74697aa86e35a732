"""The merchant console (issue 21): server-rendered pages at /console, in Chinese.

Jinja2 templates (functions/console_templates/) and htmx for partial updates, both
vendored (functions/console_static/, from npm, never a CDN). Every view parses, checks
the session (and the CSRF token on a POST), calls the same services as the JSON API
through functions.wiring, and renders: no business rule lives here or in a template.

Also `POST /admin/operators` (JSON, by the owner: the ADMIN_API_KEY is the first owner's key).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path
from urllib.parse import parse_qs, quote

from chalice import Blueprint, Response
from pydantic import ValidationError

from functions import schemas, wiring
from functions._api import _describe, created, error_response, parse_body, require_admin, route
from layers.domain import errors

bp = Blueprint(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "console_static"
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
FORM = ["application/x-www-form-urlencoded"]
STATUS_NAMES = {"PENDING_PAYMENT": "待付款", "PAID": "待发货", "SHIPPED": "已发货", "COMPLETED": "已完成",
                "CLOSED": "已关闭", "REFUNDING": "退款中", "REFUNDED": "已退款"}
REFUND_NAMES = {"REQUESTED": "待审核", "PROCESSING": "退款中", "SUCCESS": "已退款", "ABNORMAL": "退款异常",
                "CLOSED": "已关闭", "REJECTED": "已拒绝", "FAILED": "失败"}
UPLOAD_NAMES = {"PENDING": "排队上传中", "UPLOADED": "已上传", "FAILED": "上传失败", "NOT_REQUIRED": "无需上传"}
STATIC_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
HTTP_STATUS = {"invalid": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
               "unprocessable": 422, "rate_limited": 429, "unavailable": 503}


@functools.cache
def _templates():
    from functions.console_render import environment

    return environment({"yuan": lambda fen: "" if fen is None else f"¥{int(fen) / 100:.2f}"},
                       {"STATUS_NAMES": STATUS_NAMES, "UPLOAD_NAMES": UPLOAD_NAMES,
                        "PAID_STATUSES": ("PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED"),
                        "REFUND_NAMES": REFUND_NAMES})


# -- request helpers ---------------------------------------------------------------------------

def _cookies() -> dict[str, str]:
    out = {}
    for part in (bp.current_request.headers.get("cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def _form() -> dict[str, str]:
    raw = bp.current_request.raw_body or b""
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _query(name: str) -> str | None:
    value = (bp.current_request.query_params or {}).get(name)
    return value or None


def _secure() -> str:
    """`Secure` everywhere but a plain-HTTP loopback (make dev, the browser tests)."""
    host = (bp.current_request.headers.get("host") or "").split(":")[0]
    return "" if host in ("127.0.0.1", "localhost") else "; Secure"


def _cookie(name: str, value: str, max_age: int) -> str:
    return f"{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{_secure()}"


def html(body: str, status: int = 200, headers: dict | None = None, cookies: list[str] | None = None) -> Response:
    base = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
            "X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}
    out = Response(body=body, status_code=status, headers={**base, **(headers or {})})
    if cookies:
        out.headers["Set-Cookie"] = cookies[0]
    return out


def redirect(to: str, cookies: list[str] | None = None) -> Response:
    out = html("", 303, {"Location": to}, cookies)
    if bp.current_request.headers.get("hx-request"):
        out.headers["HX-Redirect"] = to
    return out


def render(name: str, status: int = 200, **context) -> Response:
    return html(_templates().get_template(name).render(**context), status)


class _Ctx:
    """The signed-in operator of this request, with the CSRF token its forms carry."""

    def __init__(self, session, cookie: str):
        self.session = session
        self.csrf = wiring.operators().csrf_token(cookie)

    def page(self, name: str, status: int = 200, **context) -> Response:
        return render(name, status, me=self.session, csrf=self.csrf, **context)


def console_page(path: str, methods=("GET",), area: str | None = None):
    """A console view: signed in (else to the sign-in page), CSRF-checked on POST, the
    owner-only `area` refused to an operator, domain errors rendered as a page."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            request = bp.current_request
            cookie = _cookies().get(SESSION_COOKIE)
            service = wiring.operators()
            session = service.session_of(cookie)
            if session is None:
                if request.method == "GET":
                    where = request.path  # the route's template: fill in its parameters
                    for key, value in (request.uri_params or {}).items():
                        where = where.replace("{" + key + "}", quote(value, safe=""))
                    return redirect("/console/login?next=" + quote(where, safe=""))
                return render("error.html", 401, message="请先登录", me=None)
            ctx = _Ctx(session, cookie)
            try:
                if request.method == "POST":
                    token = request.headers.get("x-csrf-token") or _form().get("csrf")
                    service.check_csrf(cookie, token)
                if area is not None:
                    from layers.domain.operators import require

                    require(session.role, area)
                return view(ctx, *args, **kwargs)
            except errors.DomainError as exc:
                return ctx.page("error.html", HTTP_STATUS.get(exc.kind, 400), message=exc.message,
                                code=exc.code)
            except ValidationError as exc:
                return ctx.page("error.html", 400, message=_describe(exc), code="INVALID_REQUEST")

        options = {"content_types": FORM} if "POST" in methods else {}
        return bp.route(path, methods=list(methods), **options)(wrapped)

    return decorator


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
    return value if value and value.startswith("/console") and "//" not in value else "/console/orders"


@bp.route("/console/login", methods=["POST"], content_types=FORM)
def login():
    form = _form()
    expected = _cookies().get(LOGIN_CSRF_COOKIE)
    got = form.get("csrf") or ""
    if not expected or not hmac.compare_digest(got, expected):
        return render("error.html", 403, message="表单已失效(CSRF 校验失败),请刷新页面重试", me=None)
    service = wiring.operators()
    try:
        session = service.sign_in(form.get("name", ""), form.get("password", ""))
    except errors.DomainError as exc:
        message = "尝试次数过多,请几分钟后再试" if exc.kind == "rate_limited" else "用户名或密码错误"
        body = _templates().get_template("login.html").render(csrf=expected, next=_safe_next(form.get("next")),
                                                             error=message, me=None)
        return html(body, HTTP_STATUS.get(exc.kind, 400))
    value = service.issue_session(session)
    from layers.services.operators import SESSION_TTL_S

    return redirect(_safe_next(form.get("next")), cookies=[_cookie(SESSION_COOKIE, value, SESSION_TTL_S)])


@console_page("/console/logout", methods=("POST",))
def logout(ctx):
    return redirect("/console/login", cookies=[_cookie(SESSION_COOKIE, "", 0)])


@bp.route("/console/static/{name}", methods=["GET"])
def static(name):
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        return error_response(404, "NOT_FOUND", "no such file")
    return Response(body=path.read_text(encoding="utf-8"), status_code=200,
                    headers={"Content-Type": STATIC_TYPES[path.suffix], "Cache-Control": "public, max-age=86400"})


# -- orders -------------------------------------------------------------------------------------

@console_page("/console/orders")
def order_list(ctx):
    order_id = _query("order_id")
    if order_id:
        return redirect("/console/orders/" + quote(order_id.strip(), safe=""))
    day, status = _query("day"), _query("status")
    orders = wiring.operators().orders_paid_on(day, status)
    return ctx.page("orders.html", orders=orders, day=day or "", status_filter=status or "")


def _order_page(ctx, order_id: str, status: int = 200, notice: str | None = None) -> Response:
    order = wiring.orders().get(order_id, consistent=True)
    if order is None:
        raise errors.NotFound("没有这个订单")
    upload = None
    if order.shipping is not None:
        try:
            upload = wiring.shipping().get_upload(order_id)
        except errors.NotFound:
            upload = None
    return ctx.page("order.html", status, order=wiring.orders().view(order), upload=upload,
                    refunds=wiring.refunds().for_order(order_id), notice=notice)


@console_page("/console/orders/{order_id}")
def order_detail(ctx, order_id):
    return _order_page(ctx, order_id)


@console_page("/console/orders/{order_id}/shipping")
def order_shipping(ctx, order_id):
    """The shipping panel alone (htmx polls it while the upload is pending)."""
    try:
        upload = wiring.shipping().get_upload(order_id)
    except errors.NotFound:
        upload = None
    return ctx.page("_shipping.html", upload=upload, order_id=order_id)


@console_page("/console/orders/{order_id}/ship", methods=("POST",))
def order_ship(ctx, order_id):
    from layers.domain.shipping import shipping_info

    form = _form()
    body = schemas.ShipInput.model_validate({"logistics_type": form.get("logistics_type") or "express",
                                             "express_company": form.get("express_company") or None,
                                             "tracking_no": form.get("tracking_no") or None})
    wiring.shipping().ship(order_id, shipping_info(body.logistics_type, body.express_company, body.tracking_no))
    return redirect(f"/console/orders/{quote(order_id, safe='')}")


@console_page("/console/orders/{order_id}/shipping/retry", methods=("POST",))
def order_shipping_retry(ctx, order_id):
    wiring.shipping().retry(order_id)
    return redirect(f"/console/orders/{quote(order_id, safe='')}")


REFUND_QUEUES = ("REQUESTED", "PROCESSING", "ABNORMAL")


@console_page("/console/refunds")
def refund_queue(ctx):
    status = _query("status") or "REQUESTED"
    if status not in REFUND_QUEUES:
        raise errors.InvalidRequest("status: REQUESTED, PROCESSING or ABNORMAL")
    return ctx.page("refunds.html", refunds=wiring.refunds().waiting(status), status_filter=status,
                    queues=REFUND_QUEUES, back=f"/console/refunds?status={status}")


def _back(default: str) -> str:
    """Where a refund decision returns to: the form's `back` when it is a console page."""
    back = _form().get("back") or ""
    return back if back.startswith("/console/") and "//" not in back else default


@console_page("/console/refunds/{refund_id}/reject", methods=("POST",))
def refund_reject(ctx, refund_id):
    refund = wiring.refunds().reject(refund_id)
    wiring.operators().audit(ctx.session, "refund.reject", refund_id, refund.get("amount"),
                             f"order {refund.get('order_id')} -> {refund.get('status')}")
    return redirect(_back(f"/console/orders/{quote(refund['order_id'], safe='')}"))


@console_page("/console/refunds/{refund_id}/approve", methods=("POST",))
def refund_approve(ctx, refund_id):
    refund = wiring.refunds().approve(refund_id)
    wiring.operators().audit(ctx.session, "refund.approve", refund_id, refund.get("amount"),
                             f"order {refund.get('order_id')} -> {refund.get('status')}")
    return redirect(_back(f"/console/orders/{quote(refund['order_id'], safe='')}"))


# -- products and stock ---------------------------------------------------------------------------

@console_page("/console/products")
def product_list(ctx):
    from functions._api import decode_cursor, encode_cursor

    products, next_key = wiring.catalog().list_products_admin(20, decode_cursor(_query("cursor")))
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_product_rows.html" if partial else "products.html", products=products,
                    next_cursor=encode_cursor(next_key))


def _spec(text: str | None) -> dict | None:
    """`颜色:黑 尺码:L` -> {"颜色": "黑", "尺码": "L"}."""
    spec = {}
    for part in (text or "").replace(",", " ").replace(",", " ").split():
        key, sep, value = part.replace(":", ":").partition(":")
        if not sep or not key or not value:
            raise errors.InvalidRequest(f"规格写作 名称:值,以空格分隔:{part}")
        spec[key] = value
    return spec or None


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


# -- coupons and flash sales ------------------------------------------------------------------------

def _fen(value: str | None, field: str) -> int | None:
    """Yuan as typed (`12.5`) -> fen; blank -> None."""
    from decimal import Decimal, InvalidOperation

    if value is None or value.strip() == "":
        return None
    try:
        fen = Decimal(value.strip()) * 100
    except InvalidOperation as exc:
        raise errors.InvalidRequest(f"{field}:请填写金额(元)") from exc
    if fen != fen.to_integral_value():
        raise errors.InvalidRequest(f"{field}:金额最多两位小数")
    return int(fen)


def _beijing(value: str | None) -> str | None:
    """A datetime-local value (`2026-11-29T10:00`), read as Beijing time, in RFC 3339."""
    return f"{value}:00+08:00" if value and len(value) == 16 else (value or None)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise errors.InvalidRequest(f"请填写整数:{value}")
    return int(value)


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
    return redirect("/console/coupons")


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
    return redirect("/console/flash-sales")


@console_page("/console/flash-sales/{sale_id}/stop", methods=("POST",))
def flash_sales_stop(ctx, sale_id):
    wiring.flash_sales().stop_sale(sale_id)
    return redirect("/console/flash-sales")


# -- distributors ---------------------------------------------------------------------------------

@console_page("/console/distributors")
def distributors_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    items, next_key = wiring.distribution().list_all(20, decode_cursor(_query("cursor")))
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_distributor_rows.html" if partial else "distributors.html", distributors=items,
                    next_cursor=encode_cursor(next_key))


@console_page("/console/distributors.csv")
def distributors_csv(ctx):
    svc = wiring.distribution()
    return Response(body=svc.to_csv(svc.all_rows(svc.list_all)), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": 'attachment; filename="distributors.csv"'})


# -- members ---------------------------------------------------------------------------------------

@console_page("/console/members")
def members_page(ctx):
    user_id = (_query("user_id") or "").strip()
    if not user_id:
        return ctx.page("members.html", user_id="", member=None)
    service = wiring.members()
    balance, _ = service.entries(user_id, "balance", 50, None)
    points, _ = service.entries(user_id, "points", 50, None)
    return ctx.page("members.html", user_id=user_id, member=service.membership(user_id),
                    balance_entries=balance, points_entries=points)


# -- settlements and payouts (owner only) ---------------------------------------------------------

@console_page("/console/payouts", area="payouts")
def payouts_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    batches, next_key = wiring.settlement().batches(10, decode_cursor(_query("cursor")))
    return ctx.page("payouts.html", batches=batches, next_cursor=encode_cursor(next_key))


@console_page("/console/payouts/{payout_id}/mark-paid", methods=("POST",), area="payouts")
def payout_mark_paid(ctx, payout_id):
    payout = wiring.settlement().mark_paid_manually(payout_id)
    wiring.operators().audit(ctx.session, "payout.mark_paid", payout_id, payout.get("amount"),
                             f"{payout.get('distributor_id')} -> {payout.get('status')}")
    return redirect("/console/payouts")


@console_page("/console/settlements/{batch_id}/payouts.csv", area="payouts")
def payouts_csv(ctx, batch_id):
    return Response(body=wiring.settlement().batch_csv(batch_id), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{batch_id}-payouts.csv"'})


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
        partial[key] = int(value) if value.lstrip("-").isdigit() else value
    wiring.shop_settings().update(partial)
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
