"""推广链接 in the console (营销): links and codes by channel. The list (channel, kind in
Chinese, page, expiry in Beijing time), filtered by channel; a form that makes one (as
POST /admin/links, under the form's own Idempotency-Key, so a double click or a resend is
one link); a copy button for a link and a download for a code's image. A refused form is
shown again with what was typed and why, in Chinese."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs

from chalice import Response

from functions import schemas, wiring
from functions.console._kit import bp, console_page, redirect
from layers.domain import errors

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KIND_NAMES = {"url_link": "URL Link(短信、网页)", "url_scheme": "URL Scheme(App、短信)", "qrcode": "小程序码(海报、门店)"}
SHORT_KIND_NAMES = {"url_link": "URL Link", "url_scheme": "URL Scheme", "qrcode": "小程序码"}


def _posted() -> dict[str, str]:
    raw = bp.current_request.raw_body or b""
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _page(ctx, values: dict, status: int = 200, refused: str | None = None, field: str | None = None):
    from functions._api import decode_cursor, encode_cursor
    from functions.console._kit import _query
    from layers.domain.links import CHANNEL_RE, EXAMPLE_CHANNELS, EXAMPLE_PAGES

    channel = (_query("channel") or "").strip() or None
    if channel is not None and not CHANNEL_RE.fullmatch(channel):
        channel = None
    items, next_key = wiring.links().page(channel, 20, decode_cursor(_query("cursor")))
    return ctx.page("links.html", status, links=items, next_cursor=encode_cursor(next_key), channel=channel,
                    values=values, refused=refused, field=field, KINDS=KIND_NAMES, SHORT_KINDS=SHORT_KIND_NAMES,
                    pages=EXAMPLE_PAGES, channels=EXAMPLE_CHANNELS, made=_query("made"))


def _blank() -> dict:
    from layers.domain.links import DAYS_DEFAULT, EXAMPLE_PAGES

    return {"kind": "url_link", "path": EXAMPLE_PAGES[0], "query": "", "channel": "", "days": str(DAYS_DEFAULT),
            "form_key": uuid.uuid4().hex}


@console_page("/console/links")
def links_page(ctx):
    return _page(ctx, _blank())


@console_page("/console/links", methods=("POST",))
def links_create(ctx):
    from functions.console.messages import FIELD_NAMES, message_for

    form = _posted()
    values = {k: (form.get(k) or "").strip() for k in ("kind", "path", "query", "channel", "days")}
    values["form_key"] = form.get("form_key") if _ID.fullmatch(form.get("form_key") or "") else uuid.uuid4().hex
    kind = values["kind"]
    days = None
    if kind != "qrcode" and values["days"]:
        days = int(values["days"]) if values["days"].isascii() and values["days"].isdigit() else -1
    try:
        body = schemas.LinkInput.model_validate({"kind": kind, "path": values["path"], "query": values["query"] or None,
                                                 "channel": values["channel"], "expires_in_days": days})
        link = wiring.links().create(body, f"console:{values['form_key']}", by=ctx.session.name)
    except errors.DomainError as exc:
        if exc.kind not in ("invalid", "unprocessable", "conflict", "rate_limited", "unavailable", "forbidden"):
            raise
        field = exc.details.get("field")
        text = message_for(exc.code, exc.kind, exc.message)
        if exc.code == "INVALID_REQUEST" and field:
            text = f"{FIELD_NAMES.get(field, field)}有误:{_why(field)}"
        from functions.console._kit import HTTP_STATUS

        return _page(ctx, values, HTTP_STATUS.get(exc.kind, 400), refused=text, field=field)
    except Exception as exc:
        from functions._api import is_validation_error

        if not is_validation_error(exc):
            raise
        field = next((str(p) for e in exc.errors() for p in reversed(e.get("loc") or ()) if isinstance(p, str)), "")
        return _page(ctx, values, 400, refused=f"{FIELD_NAMES.get(field, field or '表单')}有误:{_why(field)}",
                     field=field)
    return redirect(f"/console/links?made={link['id']}", flash="link_created")


def _why(field: str) -> str:
    return {
        "channel": "只能用 1 到 24 个小写英文字母、数字、下划线或减号(例如 moments、sms_1212),不能用中文:"
                   "微信链接和小程序码的参数只接受这些字符",
        "path": "填小程序里已发布的页面路径,不带问号和参数,例如 pages/product/index",
        "query": "写成 键=值,多个用 & 连接(例如 id=p1&from=1212),只能用英文字母、数字和 !#$&'()*+,/:;=?@-._~%,"
                 "不要写 channel(渠道会自动加上);小程序码的参数连同 c=渠道 最多 32 个字符",
        "expires_in_days": "填 1 到 30 天(微信的链接最长 30 天有效);小程序码长期有效,不用填",
        "kind": "请选择链接类型",
    }.get(field, "请检查后重试")


@console_page("/console/links/{link_id}/image")
def link_image(ctx, link_id):
    """The code's image as a download (`<channel>-<id>.png`)."""
    service = wiring.links()
    link = service.get(link_id)
    image, content_type = service.image(link_id)
    extension = "png" if content_type == "image/png" else "jpg"
    return Response(body=image, status_code=200, headers={
        "Content-Type": content_type, "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'attachment; filename="{link["channel"]}-{link_id}.{extension}"'})
