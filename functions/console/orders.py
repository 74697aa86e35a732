"""Orders in the console: find, ship (with the WeChat upload status and a retry), refund."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from chalice import Response

from functions import schemas, wiring
from functions.console._kit import (
    _back,
    _fen,
    _form,
    _int,
    _query,
    console_page,
    money_action,
    redirect,
)
from layers.domain import errors

# -- orders -------------------------------------------------------------------------------------

@console_page("/console/orders")
def order_list(ctx):
    """Orders by the buyer's phone (placed in the range), else those paid in the range
    (Beijing days, at most 31), of one status if asked; "more" (htmx) loads the next rows."""
    from functions._api import decode_cursor, encode_cursor
    from functions.console._kit import bp

    order_id = _query("order_id")
    if order_id:
        return redirect("/console/orders/" + quote(order_id.strip(), safe=""))
    first, last = _query("from") or _query("day"), _query("to") or _query("day")
    status, phone = _query("status"), (_query("phone") or "").strip()
    scope = f"console-orders\x00{first}\x00{last}\x00{status}\x00{phone}".encode()
    limit = min(max(_int(_query("limit")) or 20, 1), 100)
    found = wiring.order_search().find(first=first, last=last, status=status, phone=phone or None,
                                       cursor=decode_cursor(_query("cursor"), scope), limit=limit)
    next_cursor = encode_cursor(found["next_cursor"], scope)
    more = None
    if next_cursor:
        query = {"from": first or "", "to": last or "", "status": status or "", "phone": phone,
                 "limit": str(limit) if limit != 20 else "", "cursor": next_cursor}
        more = "/console/orders?" + urlencode({k: v for k, v in query.items() if v})
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_order_rows.html" if partial else "orders.html", orders=found["items"], more=more,
                    by=found["by"], first=found["from"], last=found["to"], status_filter=status or "",
                    phone=phone)


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
    from layers.domain.order import REFUNDABLE
    from layers.domain.paid_shares import line_paid

    return ctx.page("order.html", status, order=wiring.orders().view(order), upload=upload, freight=order.freight,
                    line_paid=line_paid(order.items, order.amounts), gifts=[bool(i.get("gift")) for i in order.items],
                    titles={i["sku_id"]: i.get("title") or i["sku_id"] for i in order.items},
                    couriers=wiring.couriers().all(), courier_names=wiring.couriers().names(),
                    refunds=wiring.refunds().for_order(order_id), notice=notice,
                    after_sales=wiring.after_sales().for_order(order_id),
                    refundable=int(order.refund_room or 0) if order.status in REFUNDABLE else 0,
                    form_key=secrets.token_urlsafe(12))


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
    return ctx.page("_shipping.html", upload=upload, order_id=order_id,
                    courier_names=wiring.couriers().names())


@console_page("/console/orders/{order_id}/ship", methods=("POST",))
def order_ship(ctx, order_id):
    from layers.domain.shipping import shipping_info

    form = _form()
    company = (form.get("express_company") or "").strip()
    if company and (form.get("logistics_type") or "express") == "express" and wiring.couriers().checked(company) is None:
        raise errors.InvalidRequest("快递公司:请从列表中选择(微信只接受其快递公司编号)")
    body = schemas.ShipInput.model_validate({"logistics_type": form.get("logistics_type") or "express",
                                             "express_company": form.get("express_company") or None,
                                             "tracking_no": form.get("tracking_no") or None})
    wiring.shipping().ship(order_id, shipping_info(body.logistics_type, body.express_company, body.tracking_no))
    return redirect(f"/console/orders/{quote(order_id, safe='')}", flash="shipped")


@console_page("/console/orders/{order_id}/shipping/retry", methods=("POST",))
def order_shipping_retry(ctx, order_id):
    wiring.shipping().retry(order_id)
    return redirect(f"/console/orders/{quote(order_id, safe='')}", flash="retry")


REFUND_QUEUES = ("REQUESTED", "PROCESSING", "ABNORMAL")


@console_page("/console/refunds")
def refund_queue(ctx):
    status = _query("status") or "REQUESTED"
    if status not in REFUND_QUEUES:
        raise errors.InvalidRequest("没有这个退款队列(待审核、退款中、退款异常)")
    return ctx.page("refunds.html", refunds=wiring.refunds().waiting(status), status_filter=status,
                    queues=REFUND_QUEUES, back=f"/console/refunds?status={status}")


@console_page("/console/refunds/{refund_id}/reject", methods=("POST",))
def refund_reject(ctx, refund_id):
    with money_action(ctx, "refund.reject", refund_id) as line:
        refund = wiring.refunds().reject(refund_id)
        line.update(amount=refund.get("amount"), detail=f"order {refund.get('order_id')} -> {refund.get('status')}")
    return redirect(_back(f"/console/orders/{quote(refund['order_id'], safe='')}"), flash="rejected")


@console_page("/console/refunds/{refund_id}/approve", methods=("POST",))
def refund_approve(ctx, refund_id):
    with money_action(ctx, "refund.approve", refund_id) as line:
        refund = wiring.refunds().approve(refund_id)
        line.update(amount=refund.get("amount"), detail=f"order {refund.get('order_id')} -> {refund.get('status')}")
    return redirect(_back(f"/console/orders/{quote(refund['order_id'], safe='')}"), flash="approved")


def _picked_lines(order_id: str, form: dict) -> list[dict]:
    """The lines picked on the refund form (`qty_<line index>`: units of that line) as a
    refund's items; the SKU comes from the order, never from the form."""
    order = wiring.orders().get(order_id, consistent=True)
    if order is None:
        raise errors.NotFound("没有这个订单")
    items = []
    for index, line in enumerate(order.items):
        raw = (form.get(f"qty_{index}") or "").strip()
        if not raw or raw == "0":
            continue
        if not (raw.isascii() and raw.isdigit()) or int(raw) > 999:
            raise errors.InvalidRequest(f"{line.get('title') or line['sku_id']}:退款件数请填写整数")
        items.append({"sku_id": line["sku_id"], "quantity": int(raw)})
    return items


@console_page("/console/orders/{order_id}/refunds", methods=("POST",))
def order_refund(ctx, order_id):
    """The merchant refunds a paid order, all (amount blank), an amount, or picked lines'
    units (for what they paid), with a reason: the refund service's own refund, approved
    at once; audited with the operator. The form's one-time key makes a double submission
    the same refund."""
    form = _form()
    key = (form.get("key") or "").strip()
    if not 8 <= len(key) <= 64:
        raise errors.InvalidRequest("表单已失效,请刷新页面重试")
    amount = _fen(form.get("amount"), "退款金额")
    items = _picked_lines(order_id, form)
    if amount is not None and items:
        raise errors.InvalidRequest("退款金额和退款商品二选一:按商品退款时请把金额留空")
    body = schemas.RefundInput.model_validate({"amount": amount, "reason": (form.get("reason") or "").strip(),
                                               **({"items": items} if items else {})})
    with money_action(ctx, "refund.create", order_id, body.amount, f"order {order_id}: {body.reason}") as line:
        try:
            refund = wiring.refunds().refund_by_merchant(order_id, body, f"{ctx.session.name}:{key}")
        except errors.NotAcceptable as exc:
            if items:
                raise errors.NotAcceptable("所选商品不能这样退款:件数超过可退件数、赠品不能单独退款、"
                                           "所选件数分摊的实付不足一分,或超过订单可退金额") from exc
            raise errors.NotAcceptable("退款金额超过订单可退金额") from exc
        except errors.InvalidState as exc:
            raise errors.InvalidState("该订单当前状态不能退款") from exc
        picked = "".join(f" {i['sku_id']}×{i['quantity']}" for i in items)
        line.update(amount=refund.get("amount"),
                    detail=f"order {order_id} -> refund {refund['id']} {refund.get('status')}:{picked} {body.reason}")
    return redirect(f"/console/orders/{quote(order_id, safe='')}", flash="refunded")


@console_page("/console/refunds/{refund_id}/abnormal-refund", methods=("POST",))
def refund_abnormal(ctx, refund_id):
    """The owner sends an ABNORMAL refund to a bank card (the payer's, or the merchant's),
    as `POST /admin/refunds/{id}/abnormal-refund` does; audited."""
    if not ctx.session.is_owner:
        raise errors.Forbidden("only an owner may do this")
    form = _form()
    kind = form.get("type") or ""
    fields = {"type": kind}
    if kind == "USER_BANK_CARD":
        fields.update({k: (form.get(k) or "").strip() or None for k in ("bank_type", "bank_account", "real_name")})
        if fields["bank_account"]:
            fields["bank_account"] = fields["bank_account"].replace(" ", "")
    body = schemas.AbnormalRefundInput.model_validate(fields)
    card = f" ****{body.bank_account[-4:]}" if body.bank_account else ""
    with money_action(ctx, "refund.abnormal", refund_id, None, f"{body.type}{card}") as line:
        try:
            refund = wiring.refunds().apply_abnormal(refund_id, body)
        except errors.NotAcceptable as exc:
            raise errors.NotAcceptable("微信支付拒绝了这笔异常退款,请核对银行卡信息") from exc
        except errors.InvalidState as exc:
            raise errors.InvalidState("只有“退款异常”的退款单可以发起异常退款") from exc
        line.update(amount=refund.get("amount"),
                    detail=f"order {refund.get('order_id')} -> {body.type}{card} -> {refund.get('status')}")
    return redirect(_back(f"/console/orders/{quote(refund['order_id'], safe='')}"), flash="refunded")
