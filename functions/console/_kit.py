"""What the console's views share: the blueprint, the signed-in `console_page` view, the
request and response helpers, and the parsing of form fields (yuan, Beijing times, specs)."""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path
from urllib.parse import parse_qs, quote

from chalice import Blueprint, Response

from functions import wiring
from functions._api import is_validation_error
from layers.domain import errors

bp = Blueprint(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
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
    from functions.console.render import environment

    return environment({"yuan": lambda fen: "" if fen is None else f"¥{int(fen) / 100:.2f}",
                        "outcome": _outcome_name},
                       {"STATUS_NAMES": STATUS_NAMES, "UPLOAD_NAMES": UPLOAD_NAMES,
                        "PAID_STATUSES": ("PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED"),
                        "REFUND_NAMES": REFUND_NAMES})


def _outcome_name(outcome: str | None) -> str:
    """An audit line's outcome in Chinese (None: a line written after its action)."""
    if not outcome or outcome == "DONE":
        return "完成"
    if outcome == "PENDING":
        return "未完成(结果未知,请核对)"
    if outcome == "DUPLICATE":
        return "重复提交,未再执行"
    return f"被拒绝({outcome.removeprefix('REFUSED ')})"


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
    # A path built from an id or a name (a CR/LF or 张三 in a URL's path parameter) is
    # percent-encoded: a header takes printable ASCII only (Chalice answers 500 otherwise).
    to = quote(to, safe="/?&=%#:+,;@-._~")
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
                    if request.query_params:  # issue 21: back to the same filters after signing in
                        from urllib.parse import urlencode

                        where += "?" + urlencode(dict(request.query_params))
                    return redirect("/console/login?next=" + quote(where, safe=""))
                return render("error.html", 401, message="请先登录", me=None)
            ctx = _Ctx(session, cookie)
            # issue 21: pages speak Chinese: a domain error's text is chosen by its code (messages.py)
            from functions.console.messages import BY_CODE, field_message, message_for

            if request.method == "POST":
                try:
                    service.check_csrf(cookie, request.headers.get("x-csrf-token") or _form().get("csrf"))
                except errors.Forbidden:
                    return ctx.page("error.html", 403, message=BY_CODE["CSRF"], code="FORBIDDEN")
            try:
                if area is not None:
                    from layers.domain.operators import require

                    require(session.role, area)
                if request.method != "POST":
                    return view(ctx, *args, **kwargs)
                from functions import _audit

                _audit.begin()
                answer = view(ctx, *args, **kwargs)
                if answer.status_code < 400:
                    _audit.record(session, request, list(_form()))
                return answer
            except errors.DomainError as exc:
                return ctx.page("error.html", HTTP_STATUS.get(exc.kind, 400), code=exc.code,
                                message=message_for(exc.code, exc.kind, exc.message))
            except Exception as exc:
                if not is_validation_error(exc):
                    raise
                fields = [str(e.get("loc", ("",))[-1] if e.get("loc") else "") for e in exc.errors()]
                return ctx.page("error.html", 400, message=field_message(fields), code="INVALID_REQUEST")

        options = {"content_types": FORM} if "POST" in methods else {}
        return bp.route(path, methods=list(methods), **options)(wrapped)

    return decorator



# -- money actions -----------------------------------------------------------------------------

@contextlib.contextmanager
def money_action(ctx, action: str, target: str, amount: int | None = None, detail: str | None = None):
    """A money action's audit line (refunds, payouts, balances): written with the operator
    before the action (PENDING), finished after it (DONE, or REFUSED and the code). A crash
    in between leaves a PENDING line, never money moved without one. The view may fill in
    the amount, the detail and the outcome from what the action answered."""
    from layers.domain.operators import DONE, refused

    service = wiring.operators()
    entry_id = service.begin_audit(ctx.session, action, target, amount, detail)
    line = {"amount": amount, "detail": detail, "outcome": DONE}

    def finish(outcome: str) -> None:
        # The action has happened (or was refused): an answer about it must not become a
        # 5xx because its line could not be finished; the line stays PENDING, and alarms.
        try:
            service.end_audit(entry_id, outcome, line["amount"], line["detail"])
        except Exception:  # noqa: BLE001
            from layers.observability import logger

            logger.exception("audit line left PENDING", extra={"audit_id": entry_id, "action": action,
                                                               "alarm": "AUDIT_UNFINISHED"})

    try:
        yield line
    except errors.DomainError as exc:
        finish(refused(exc.code))
        raise
    finish(line["outcome"])


# -- form fields -------------------------------------------------------------------------------

# What a hand types in a number field: ASCII digits only. int() and Decimal() also take
# `²`-less but odd forms (`١٢`, `1_000`, `Infinity`, `1e999999`, which overflows Decimal's
# context): none of them is a number an operator meant, and some raised a 5xx.
_YUAN = re.compile(r"-?[0-9]{1,10}(?:\.[0-9]+)?")
_INT = re.compile(r"-?[0-9]{1,12}")


def _fen(value: str | None, field: str) -> int | None:
    """Yuan as typed (`12.5`) -> fen; blank -> None."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not _YUAN.fullmatch(text):
        raise errors.InvalidRequest(f"{field}:请填写金额(元)")
    whole, _, cents = text.partition(".")
    if len(cents.rstrip("0")) > 2:
        raise errors.InvalidRequest(f"{field}:金额最多两位小数")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((cents + "00")[:2]))


def _beijing(value: str | None) -> str | None:
    """A datetime-local value (`2026-11-29T10:00`), read as Beijing time, in RFC 3339."""
    return f"{value}:00+08:00" if value and len(value) == 16 else (value or None)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not _INT.fullmatch(value):
        raise errors.InvalidRequest(f"请填写整数:{value[:20]}")
    return int(value)


def _spec(text: str | None) -> dict | None:
    """`颜色:黑 尺码:L` -> {"颜色": "黑", "尺码": "L"}."""
    spec = {}
    for part in (text or "").replace(",", " ").replace(",", " ").split():
        key, sep, value = part.replace(":", ":").partition(":")
        if not sep or not key or not value:
            raise errors.InvalidRequest(f"规格写作 名称:值,以空格分隔:{part}")
        spec[key] = value
    return spec or None


def _back(default: str) -> str:
    """Where a refund decision returns to: the form's `back` when it is a console page."""
    back = _form().get("back") or ""
    return back if back.startswith("/console/") and is_local_path(back) else default


def is_local_path(value: str) -> bool:
    """A path of this site to put in `Location`: printable ASCII only (a CR/LF would split
    the header; a backslash or `//` leads browsers to another host)."""
    return value.startswith("/") and all(" " < c < "\x7f" for c in value) and "//" not in value \
        and "\\" not in value


