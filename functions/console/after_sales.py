"""After-sales (售后) in the console: the queue by status and kind, oldest first; an
after-sale's page (its order, units, photos, the shopper's words, the return shipment,
the history); and the merchant's answers: approve, reject, receive the goods back (with
or without restocking them) and ship an exchange's replacement. Every answer is the
after-sales service's own (the same as the admin API's), audited with the operator."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote, urlencode

from functions import schemas, wiring
from functions.console._kit import (
    AFTER_SALE_NAMES,
    KIND_NAMES,
    _form,
    _int,
    _query,
    console_page,
    money_action,
    redirect,
)
from layers.domain import errors

# The queue's tabs, in the order an after-sale moves through them.
QUEUES = tuple(AFTER_SALE_NAMES)
STATE_MESSAGE = "这笔售后当前的状态不能这样处理,请刷新页面查看最新状态"


@console_page("/console/after-sales")
def after_sale_queue(ctx):
    """The after-sales of one status (待审核 by default), of one kind if asked, oldest
    first (the one waiting longest is answered first); "more" (htmx) loads the next rows."""
    from functions._api import decode_cursor, encode_cursor
    from functions.console._kit import bp

    status = _query("status") or "REQUESTED"
    kind = _query("kind")
    if status not in AFTER_SALE_NAMES:
        raise errors.InvalidRequest("没有这个售后状态")
    if kind is not None and kind not in KIND_NAMES:
        raise errors.InvalidRequest("没有这种售后类型(仅退款、退货退款、换货)")
    scope = f"console-after-sales\x00{status}\x00{kind}".encode()
    limit = min(max(_int(_query("limit")) or 20, 1), 100)
    items, next_key = wiring.after_sales().listed(status, kind, limit, decode_cursor(_query("cursor"), scope))
    next_cursor = encode_cursor(next_key, scope)
    more = None
    if next_cursor:
        query = {"status": status, "kind": kind or "", "limit": str(limit) if limit != 20 else "",
                 "cursor": next_cursor}
        more = "/console/after-sales?" + urlencode({k: v for k, v in query.items() if v})
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_after_sale_rows.html" if partial else "after_sales.html", after_sales=items, more=more,
                    status_filter=status, kind_filter=kind or "", queues=QUEUES)


def _units(after_sale: dict) -> int:
    return sum(int(i["quantity"]) for i in after_sale.get("items") or ())


@console_page("/console/after-sales/{after_sale_id}")
def after_sale_detail(ctx, after_sale_id):
    a = wiring.after_sales().detail(after_sale_id)
    order = a.get("order") or {}
    from layers.domain.paid_shares import line_paid

    stored = wiring.orders().get(a["order_id"], consistent=True)
    paid = line_paid(stored.items, stored.amounts) if stored is not None else []
    address = None
    if a["kind"] != "refund_only" and a["status"] == "REQUESTED":
        address = wiring.shop_settings().get().get("return_address")  # where the goods will go
    return ctx.page("after_sale.html", a=a, order=order, units=_units(a), return_address=address,
                    line_paid={int(ln["line"]): paid[int(ln["line"])] for ln in a.get("lines") or ()
                               if int(ln["line"]) < len(paid)},
                    couriers=wiring.couriers().all() if a["kind"] == "exchange" else [],
                    courier_names=wiring.couriers().names())


def _back(after_sale_id: str) -> str:
    return f"/console/after-sales/{quote(after_sale_id, safe='')}"


def _who(ctx) -> str:
    """Who the history names: the operator's name (`owner` is the shop's owner, as the
    admin API writes it)."""
    return ctx.session.name


def _current(after_sale_id: str) -> dict:
    return wiring.after_sales().detail(after_sale_id)


@console_page("/console/after-sales/{after_sale_id}/approve", methods=("POST",))
def after_sale_approve(ctx, after_sale_id):
    """A refund_only is refunded at once (money moves: the form asks first); a return or an
    exchange waits for the goods at the shop's return address, which must be set."""
    body = schemas.AfterSaleNoteInput.model_validate({"note": (_form().get("note") or "").strip() or None})
    a = _current(after_sale_id)
    if a["kind"] != "refund_only" and not wiring.shop_settings().get().get("return_address"):
        raise errors.InvalidState("还没有设置退货地址:请店主先在店铺设置里填写退货地址,再同意退货或换货")
    amount = a["amount"] if a["kind"] == "refund_only" else None
    with money_action(ctx, "after_sale.approve", after_sale_id, amount) as line:
        try:
            done = wiring.after_sales().approve(after_sale_id, body.note, who=_who(ctx))
        except errors.InvalidState as exc:
            raise errors.InvalidState(STATE_MESSAGE) from exc
        except errors.NotAcceptable as exc:
            raise errors.NotAcceptable("退款金额超过订单可退金额,不能同意") from exc
        line.update(detail=f"订单 {done['order_id']} {KIND_NAMES[done['kind']]}:"
                           f"{AFTER_SALE_NAMES.get(done['status'], done['status'])}")
    return redirect(_back(after_sale_id), flash="as_approved")


@console_page("/console/after-sales/{after_sale_id}/reject", methods=("POST",))
def after_sale_reject(ctx, after_sale_id):
    """Refused, with the reason the shopper is told (required)."""
    body = schemas.AfterSaleRejectInput.model_validate({"reason": (_form().get("reason") or "").strip()})
    with money_action(ctx, "after_sale.reject", after_sale_id) as line:
        try:
            done = wiring.after_sales().reject(after_sale_id, body.reason, who=_who(ctx))
        except errors.InvalidState as exc:
            raise errors.InvalidState(STATE_MESSAGE) from exc
        line.update(detail=f"订单 {done['order_id']}:{body.reason}")
    return redirect(_back(after_sale_id), flash="as_rejected")


@console_page("/console/after-sales/{after_sale_id}/receive", methods=("POST",))
def after_sale_receive(ctx, after_sale_id):
    """The goods came back: back in stock only if 入库 is ticked; a return is then refunded
    (money moves: the form asks first), an exchange waits for its replacement."""
    form = _form()
    if form.get("restock") not in (None, "1"):  # the checkbox sends "1" or nothing
        raise errors.InvalidRequest("是否入库:请勾选或不勾选")
    restock = form.get("restock") == "1"
    a = _current(after_sale_id)
    amount = a["amount"] if a["kind"] == "return_refund" else None
    with money_action(ctx, "after_sale.receive", after_sale_id, amount) as line:
        try:
            done = wiring.after_sales().receive(after_sale_id, restock, who=_who(ctx))
        except errors.InvalidState as exc:
            raise errors.InvalidState(STATE_MESSAGE + (";若商品已不再销售,请不勾选入库" if restock else "")) from exc
        except errors.NotAcceptable as exc:
            raise errors.NotAcceptable("退款金额超过订单可退金额,请核对订单") from exc
        line.update(detail=f"订单 {done['order_id']} 收到退货,{'已入库' if restock else '未入库'}:"
                           f"{AFTER_SALE_NAMES.get(done['status'], done['status'])}")
    return redirect(_back(after_sale_id), flash="as_received")


@console_page("/console/after-sales/{after_sale_id}/ship", methods=("POST",))
def after_sale_ship(ctx, after_sale_id):
    """An exchange's replacement leaves by courier (chosen from WeChat's list, as an order's)."""
    from layers.domain.shipping import shipping_info

    form = _form()
    company = (form.get("express_company") or "").strip()
    if company and wiring.couriers().checked(company) is None:
        raise errors.InvalidRequest("快递公司:请从列表中选择(微信只接受其快递公司编号)")
    body = schemas.ShipInput.model_validate({"logistics_type": "express", "express_company": company or None,
                                             "tracking_no": (form.get("tracking_no") or "").strip() or None})
    info = shipping_info(body.logistics_type, body.express_company, body.tracking_no)
    with money_action(ctx, "after_sale.ship", after_sale_id) as line:
        try:
            done = wiring.after_sales().ship(after_sale_id, {k: v for k, v in asdict(info).items() if v is not None},
                                             who=_who(ctx))
        except errors.InvalidState as exc:
            raise errors.InvalidState("换货的商品退回并确认收货后才能寄出新商品") from exc
        line.update(detail=f"订单 {done['order_id']} 换货寄出:{body.express_company} {body.tracking_no}")
    return redirect(_back(after_sale_id), flash="as_shipped")
