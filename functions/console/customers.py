"""Customers and tags in the console (客户, 标签): the list with the API's filters, a
customer's page (orders, after-sales, coupons, balance, points, tags editable) and the tags
with their rules. Thin views over `wiring.customers()`, the service the admin API uses.

The phone number: masked for operators; owners see it whole (opened from its sealed form
for the rows on screen only). Nothing here logs it."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from functions import schemas, wiring
from functions.console._kit import _beijing, _fen, _form, _int, _query, console_page, redirect
from layers.domain import errors

PAGE = 20
FILTERS = ("q", "tag", "level", "min_spent", "min_orders", "last_order_after", "last_order_before")
AFTER_SALE_NAMES = {"REQUESTED": "待处理", "AWAITING_RETURN": "待退货", "RETURNING": "退货中", "REFUNDING": "退款中",
                    "REFUNDED": "已退款", "EXCHANGED": "已换货", "REJECTED": "已拒绝", "CANCELLED": "已撤销",
                    "CLOSED": "已关闭", "refund_only": "仅退款", "return_refund": "退货退款", "exchange": "换货"}
COUPON_NAMES = {"UNUSED": "未使用", "HELD": "下单占用", "USED": "已使用", "EXPIRED": "已过期"}
RULE_NAMES = {"min_orders": "订单数至少", "min_spent": "消费至少(元)", "last_order_within_days": "最近下单在 N 天内",
              "no_order_for_days": "N 天未下单", "level": "会员等级"}


def _utc(value: str | None, field: str) -> str | None:
    """A datetime-local value read as Beijing time, as the API's UTC `...Z`."""
    from datetime import UTC, datetime

    text = _beijing(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (ValueError, OverflowError):
        raise errors.InvalidRequest(f"{field}:请选择时间") from None


def _query_of(raw: dict):
    # imported here, not at the top: the app imports every console module at a cold start
    from layers.domain.customers import Filters
    from layers.services.customers import CustomerQuery

    min_orders = _int(raw.get("min_orders"))
    min_spent = _fen(raw.get("min_spent"), "消费至少")
    if (min_orders is not None and min_orders < 0) or (min_spent is not None and min_spent < 0):
        raise errors.InvalidRequest("订单数和消费金额不能为负")
    return CustomerQuery(q=(raw.get("q") or "").strip() or None, filters=Filters(
        tag=raw.get("tag") or None, level=(raw.get("level") or "").strip() or None, min_spent=min_spent,
        min_orders=min_orders, last_order_before=_utc(raw.get("last_order_before"), "最后下单早于"),
        last_order_after=_utc(raw.get("last_order_after"), "最后下单晚于")))


@console_page("/console/customers")
def customers_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    raw = {name: _query(name) or "" for name in FILTERS}
    query = _query_of(raw)
    scope = ("customers:" + urlencode(sorted(raw.items()))).encode()  # a cursor pages its own filters only
    items, next_key = wiring.customers().page(query, PAGE, decode_cursor(_query("cursor"), scope))
    phones = wiring.customer_repository().phones([c["user_id"] for c in items]) if ctx.session.role == "owner" else {}
    next_cursor = encode_cursor(next_key, scope)
    more = f"/console/customers?{urlencode({**raw, 'cursor': next_cursor})}" if next_cursor else None
    return ctx.page("customers.html", customers=items, raw=raw, tags=wiring.customers().tags()["items"],
                    phones=phones, more=more, SEGMENT_NAMES=_segment_names())


@console_page("/console/customers/{user_id}")
def customer_page(ctx, user_id):
    detail = wiring.customers().detail(user_id)
    phone = wiring.customer_repository().phone(user_id) if ctx.session.role == "owner" else None
    manual = [t for t in wiring.customers().tags()["items"] if t["kind"] == "manual"]
    return ctx.page("customer.html", c=detail, phone=phone, manual_tags=manual, SEGMENT_NAMES=_segment_names(),
                    AFTER_SALE_NAMES=AFTER_SALE_NAMES, COUPON_NAMES=COUPON_NAMES)


@console_page("/console/customers/{user_id}/tags", methods=("POST",))
def customer_tags(ctx, user_id):
    """The manual tags ticked on the customer's page, through the admin API's request model."""
    names = [n for n in bp_form_list("tags") if n]
    body = schemas.CustomerTagsInput(tags=names)
    wiring.customers().set_manual_tags(user_id, body.tags)
    return redirect("/console/customers/" + quote(user_id, safe=""))


def bp_form_list(name: str) -> list[str]:
    """Every value of a repeated form field (checkboxes), in order."""
    from urllib.parse import parse_qs

    from functions.console._kit import bp

    raw = bp.current_request.raw_body or b""
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=False).get(name, [])


@console_page("/console/tags")
def tags_page(ctx):
    return ctx.page("tags.html", tags=wiring.customers().tags()["items"], RULE_NAMES=RULE_NAMES)


@console_page("/console/tags", methods=("POST",))
def create_tag(ctx):
    form = _form()
    rule = {}
    for name in ("min_orders", "last_order_within_days", "no_order_for_days"):
        value = _int(form.get(name))
        if value is not None:
            rule[name] = value
    spent = _fen(form.get("min_spent"), "消费至少")
    if spent is not None:
        rule["min_spent"] = spent
    if (form.get("level") or "").strip():
        rule["level"] = form["level"].strip()
    if form.get("kind") == "rule" and not rule:
        raise errors.InvalidRequest("规则标签至少填写一个条件")
    body = schemas.TagInput(name=(form.get("name") or "").strip(), rule=rule if form.get("kind") == "rule" else None)
    wiring.customers().create_tag(body)
    return redirect("/console/tags")


def _segment_names() -> dict:
    from layers.domain.customers import SEGMENT_NAMES

    return SEGMENT_NAMES
