"""Orders in the console: find, ship (with the WeChat upload status and a retry), refund."""

from __future__ import annotations

from urllib.parse import quote

from chalice import Response

from functions import schemas, wiring
from functions.console._kit import _back, _form, _query, console_page, redirect
from layers.domain import errors

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
