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
GROUP_NAMES = {"PENDING": "待开团", "OPEN": "拼团中", "SUCCEEDED": "已成团", "FAILED": "未成团"}
LOGISTICS_NAMES = {"express": "快递", "same_city": "同城配送", "virtual": "虚拟商品", "pickup": "到店自提"}
# An after-sale's status and kind (layers/domain/after_sale.py) as the shopper's app says them.
AFTER_SALE_NAMES = {"REQUESTED": "待审核", "AWAITING_RETURN": "待买家寄回", "RETURNING": "退货寄回中",
                    "REFUNDING": "退款中", "REFUNDED": "已退款", "EXCHANGED": "已换货", "REJECTED": "已拒绝",
                    "CANCELLED": "买家已撤销", "CLOSED": "已关闭(超时未寄回)"}
KIND_NAMES = {"refund_only": "仅退款", "return_refund": "退货退款", "exchange": "换货"}
SALE_NAMES = {"ACTIVE": "进行中", "STOPPED": "已停止", "ENDED": "已结束"}
# How each part of an order's freight was charged (layers/domain/freight.py `RULES`).
FREIGHT_RULES = {"default": "按默认", "region": "按地区", "free": "包邮", "flat": "统一运费", "flat_free": "满额包邮"}
PAYOUT_NAMES = {"CLAIMING": "待领取", "PAYING": "打款中", "READY": "待打款", "TRANSFERRING": "转账中",
                "WAIT_USER_CONFIRM": "待分销员确认收款", "SUCCESS": "已到账", "FAIL": "失败",
                "AWAITING_MANUAL": "待线下打款", "PAID_MANUALLY": "已线下打款", "DEDUCTED": "全额抵扣欠款"}
# The audit log's actions as an owner reads them (a new audited action adds its name here;
# an unknown one shows as written).
ACTION_NAMES = {"refund.create": "退款", "refund.approve": "同意退款", "refund.reject": "拒绝退款",
                "refund.abnormal": "异常退款", "payout.mark_paid": "标记已打款", "balance.adjust": "调整余额",
                "points.adjust": "调整积分", "stock.adjust": "调整库存", "product.edit": "编辑商品",
                "product.on_sale": "上架", "product.off_sale": "下架", "group_buy.create": "创建拼团",
                "group_buy.stop": "停止拼团", "bargain.create": "创建砍价", "assist.create": "创建助力",
                "operator.disable": "停用操作员", "operator.enable": "启用操作员",
                "operator.reset_password": "重置密码", "settings.update": "修改店铺设置",
                "freight.create": "新建运费模板", "freight.edit": "修改运费模板",
                "promotion.create": "新建促销活动", "promotion.stop": "停止促销活动",
                "after_sale.approve": "同意售后", "after_sale.reject": "拒绝售后",
                "after_sale.receive": "确认收到退货", "after_sale.ship": "换货寄出"}
STATIC_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The sidebar: one group per area a manager thinks in; a new page is one line here (and its
# `owner_only` flag matches its `console_page(area=...)`). A group with no page is not shown.
NAV = (
    ("订单", (("/console/orders", "订单", False), ("/console/refunds", "退款", False),
            ("/console/after-sales", "售后", False))),
    ("商品", (("/console/products", "商品与库存", False), ("/console/categories", "分类", False),
             ("/console/freight-templates", "运费模板", False))),
    ("营销", (("/console/coupons", "优惠券", False), ("/console/flash-sales", "秒杀", False),
              ("/console/group-buys", "拼团", False), ("/console/bargains", "砍价", False),
              ("/console/assist-campaigns", "助力", False), ("/console/promotions", "促销活动", False),
              ("/console/coupon-grants", "定向发券", False), ("/console/links", "推广链接", False))),
    ("分销", (("/console/distributors", "分销员", False), ("/console/distributor-applications", "分销员申请", False),
              ("/console/tiers", "佣金方案", False),
              ("/console/managers", "团队长", False), ("/console/distribution-pool", "推广商品池", False),
              ("/console/guide-numbers", "业绩", False),
              ("/console/payouts", "结算与打款", True))),
    ("会员与客户", (("/console/members", "会员", False), ("/console/customers", "客户", False),
                ("/console/tags", "标签", False))),
    ("数据", (("/console/dashboard", "经营数据", False), ("/console/channels", "渠道", False),
              ("/console/product-ranking", "商品排行", False), ("/console/distributor-ranking", "分销员排行", False),
              ("/console/coupon-ranking", "优惠券效果", False))),
    ("门店", (("/console/stores", "门店", False), ("/console/store-figures", "门店业绩", False),
             ("/console/pickup", "自提订单", False))),
    ("设置", (("/console/settings", "店铺设置", True), ("/console/operators", "操作员与审计", True))),
)


# What a store's staff (role `store`) sees instead: their own store's pages only, `{store_id}`
# filled in; a store page added for them is one line here (and `console_page(store=True)`).
STORE_NAV = (("/console/stores/{store_id}", "我的门店"), ("/console/stores/{store_id}/redeem", "核销"),
             ("/console/stores/{store_id}/pickup", "自提订单"))


def nav_for(is_owner: bool, my_store: str | None = None, is_store: bool = False) -> list:
    """The sidebar's groups this operator may open (an empty group is left out); a store's
    staff get their store's pages, or none before they are placed in a store."""
    if is_store:
        links = [(href.replace("{store_id}", quote(my_store, safe="")), label, False)
                 for href, label in STORE_NAV] if my_store else []
        return [("门店", links)] if links else []
    groups = [(name, [link for link in links if is_owner or not link[2]]) for name, links in NAV]
    return [(name, links) for name, links in groups if links]


_DETAIL_CODES = re.compile(r"\b(?:" + "|".join(sorted({*REFUND_NAMES, *STATUS_NAMES, *PAYOUT_NAMES}, key=len,
                                                             reverse=True)) + r"|USER_BANK_CARD)\b")


def audit_detail(text: str | None) -> str:
    """An audit line's detail for people: the statuses it names in Chinese, as the pages show them."""
    names = {**PAYOUT_NAMES, **STATUS_NAMES, **REFUND_NAMES, "USER_BANK_CARD": "银行卡"}
    return _DETAIL_CODES.sub(lambda m: names[m.group(0)], text or "")


HTTP_STATUS = {"invalid": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
               "unprocessable": 422, "rate_limited": 429, "unavailable": 503}


@functools.cache
def _templates():
    from functions.console.render import environment

    return environment({"yuan": yuan, "yuan_plain": yuan_plain, "bj": beijing, "bj_day": beijing_day, "weight": weight,
                        "outcome": _outcome_name, "audit_detail": audit_detail, "actor": actor},
                       {"STATUS_NAMES": STATUS_NAMES, "UPLOAD_NAMES": UPLOAD_NAMES,
                        "PAID_STATUSES": ("PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED"),
                        "REFUND_NAMES": REFUND_NAMES, "nav_for": nav_for, "SALE_NAMES": SALE_NAMES, "GROUP_NAMES": GROUP_NAMES, "LOGISTICS_NAMES": LOGISTICS_NAMES,
                        "PAYOUT_NAMES": PAYOUT_NAMES, "ACTION_NAMES": ACTION_NAMES, "FREIGHT_RULES": FREIGHT_RULES,
                        "AFTER_SALE_NAMES": AFTER_SALE_NAMES, "KIND_NAMES": KIND_NAMES})


# -- what a person reads: Beijing time, yuan ---------------------------------------------------------
# The API keeps UTC (RFC 3339) and fen; every time and amount a person reads or types goes
# through these, so a page never shows `2026-12-05T07:31:14Z` or `1990`.

BEIJING_OFFSET_S = 8 * 3600  # China has had no daylight saving time since 1991


def _utc(value):
    from datetime import UTC, datetime

    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def beijing(value, default: str = "") -> str:
    """An RFC 3339 time -> `2026-12-05 15:31` in Beijing time (blank: `default`)."""
    from datetime import timedelta, timezone

    moment = _utc(value)
    if moment is None:
        return default if value in (None, "") else str(value)
    return moment.astimezone(timezone(timedelta(seconds=BEIJING_OFFSET_S))).strftime("%Y-%m-%d %H:%M")


def beijing_day(value) -> str:
    """The Beijing day of an RFC 3339 time (`2026-12-05`)."""
    return beijing(value)[:10]


def beijing_input(value) -> str:
    """A time as a `datetime-local` field's value, in Beijing time (`2026-12-05T15:31`)."""
    return beijing(value).replace(" ", "T")


def yuan(fen) -> str:
    return "" if fen is None else f"¥{yuan_plain(fen)}"


def yuan_plain(fen) -> str:
    """Fen as yuan with two decimals, exactly (integer arithmetic, no float)."""
    if fen is None:
        return ""
    fen = int(fen)
    sign, fen = ("-" if fen < 0 else ""), abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def weight(grams) -> str:
    """Grams as a person reads them: `350 克` below a kilogram, `1.45 千克` from one."""
    if grams is None:
        return ""
    grams = int(grams)
    if grams < 1000:
        return f"{grams} 克"
    kilos, rest = divmod(grams, 1000)
    return f"{kilos}.{rest:03d}".rstrip("0").rstrip(".") + " 千克"


def actor(who: str | None) -> str:
    """Who acted on an after-sale, as its history names them: the shopper (`user:<id>`,
    never shown: a user id means nothing to an operator), the timers, or the operator."""
    if not who:
        return ""
    if who.startswith("user:"):
        return "买家"
    if who == "system":
        return "系统(自动)"
    return f"操作员 {who}"


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


def content_security_policy(image_origins=()) -> str:
    """Our origin only, but for the product images: shown from the image base (`img-src`)
    and posted by the browser straight to the bucket (`connect-src`), never through us."""
    extra = "".join(f" {o}" for o in image_origins)
    return (f"default-src 'self'; img-src 'self'{extra}; connect-src 'self'{extra}; "
            "frame-ancestors 'none'")


def html(body: str, status: int = 200, headers: dict | None = None, cookies: list[str] | None = None) -> Response:
    base = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "Content-Security-Policy": content_security_policy(wiring.image_origins())}
    out = Response(body=body, status_code=status, headers={**base, **(headers or {})})
    if cookies:
        out.headers["Set-Cookie"] = cookies[0]
    return out


# A flash message: the redirect after an action sets a short cookie with one of these keys
# (never free text, so a crafted link cannot make the console say anything), the next page
# shows it once and clears it. A cookie, not a query parameter: the page's address stays the
# one the operator bookmarks.
FLASH_COOKIE = "console_flash"
FLASH = {"done": "操作已完成", "saved": "已保存", "created": "已创建", "shipped": "已发货,正在向微信上传发货信息",
         "refunded": "退款已提交", "approved": "已同意退款", "rejected": "已拒绝退款", "stopped": "已停止",
         "adjusted": "已调整", "paid": "已标记为已打款", "stock": "库存已调整", "retry": "已重新排队上传",
         "deleted": "已删除", "as_approved": "已同意售后申请", "as_rejected": "已拒绝售后申请",
         "as_received": "已确认收到退货", "as_shipped": "换货商品已寄出",
         "app_approved": "已通过申请,申请人已成为分销员", "app_rejected": "已拒绝申请,申请人会看到原因",
         "link_created": "推广链接已生成", "staff_added": "已加入门店",
         "staff_moved": "已加入本门店(已从原门店移出:一人只属于一家门店)"}


def redirect(to: str, cookies: list[str] | None = None, flash: str | None = None) -> Response:
    if flash and not cookies:
        cookies = [_cookie(FLASH_COOKIE, flash if flash in FLASH else "done", 60)]
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

    _UNREAD = object()

    def __init__(self, session, cookie: str):
        self.session = session
        self.csrf = wiring.operators().csrf_token(cookie)
        self._store_id = self._UNREAD

    @property
    def store_id(self) -> str | None:
        """The store a store's staff member (role `store`) belongs to, None before they are
        placed in one; always None for owners and operators, who see every store. Read once
        per request (consistently: a removal takes effect at once)."""
        if not getattr(self.session, "is_store", False):
            return None
        if self._store_id is self._UNREAD:
            self._store_id = wiring.store_repository().staff_of_operator(self.session.name)
        return self._store_id  # type: ignore[return-value]

    def page(self, name: str, status: int = 200, **context) -> Response:
        flash = None
        if not name.startswith("_") and bp.current_request.method == "GET":  # a whole page, not a fragment
            flash = FLASH.get(_cookies().get(FLASH_COOKIE, ""))
        out = render(name, status, me=self.session, csrf=self.csrf, flash=flash,
                     here=bp.current_request.path, my_store=self.store_id, **context)
        if flash:
            out.headers["Set-Cookie"] = _cookie(FLASH_COOKIE, "", 0)
        return out


def require_store(ctx, store_id: str) -> None:
    """A page of store `store_id`: a store's staff member of another store (or of none) is
    told 404, as for any resource of someone else's; owners and operators see every store."""
    if getattr(ctx.session, "is_store", False) and ctx.store_id != store_id:
        raise errors.NotFound("no such store")


def console_page(path: str, methods=("GET",), area: str | None = None, store: bool = False):
    """A console view: signed in (else to the sign-in page), CSRF-checked on POST, the
    owner-only `area` refused to an operator, domain errors rendered as a page.

    `store=True`: a page a store's staff (role `store`) may open too; the view itself calls
    `require_store(ctx, store_id)` for the store it shows. Every other page is closed to
    them: a GET goes to their own store's page, anything else is 403."""

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
                    if request.query_params:  # back to the same filters after signing in
                        from urllib.parse import urlencode

                        where += "?" + urlencode(dict(request.query_params))
                    return redirect("/console/login?next=" + quote(where, safe=""))
                return render("error.html", 401, message="请先登录", me=None)
            ctx = _Ctx(session, cookie)
            # pages speak Chinese: a domain error's text is chosen by its code (messages.py)
            from functions.console.messages import BY_CODE, field_message, message_for

            if request.method == "POST":
                try:
                    service.check_csrf(cookie, request.headers.get("x-csrf-token") or _form().get("csrf"))
                except errors.Forbidden:
                    return ctx.page("error.html", 403, message=BY_CODE["CSRF"], code="FORBIDDEN")
            try:
                if getattr(session, "is_store", False) and not store:
                    if request.method == "GET":
                        return redirect("/console/my-store")
                    raise errors.Forbidden("a store's staff may only use their store's pages")
                if area is not None:
                    from layers.domain.operators import require

                    require(session.role, area)
                if request.method != "POST":
                    return view(ctx, *args, **kwargs)
                from functions import _audit

                _audit.begin()
                out = view(ctx, *args, **kwargs)
                if out.status_code < 400:
                    _audit.record(session, request, list(_form()))
                if out.status_code == 303 and "Set-Cookie" not in out.headers:
                    out.headers["Set-Cookie"] = _cookie(FLASH_COOKIE, "done", 60)  # every action says it happened
                return out
            except errors.DomainError as exc:
                return ctx.page("error.html", HTTP_STATUS.get(exc.kind, 400), code=exc.code,
                                message=message_for(exc.code, exc.kind, exc.message))
            except Exception as exc:
                if not is_validation_error(exc):
                    raise
                # a field's name, not the index of a list item (`tags`, not `0`, for ("tags", 0))
                fields = [next((str(p) for p in reversed(e.get("loc") or ()) if isinstance(p, str)), "")
                          for e in exc.errors()]
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
    """Yuan as typed (`12.5`, `-3`, `¥1,200`) -> fen exactly, in integers; blank -> None.
    More than two decimals, exponents, `NaN` or `Infinity` are refused, not rounded."""
    if value is None or value.strip() == "":
        return None
    text = value.strip().replace(",", "").removeprefix("¥").removeprefix("+")
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


