"""WeChat Pay's callbacks (payment, refund, transfer notifications) and refunds.

WeChat Pay is a client of ours that retries for about a day until it gets a 2xx. We
answer 204 only after the state change is durable; anything else is a 4xx/5xx with
`{"code": "FAIL", "message"}` so that it retries. A notification that does not verify
changes nothing.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_id,
)
from layers.domain.payment_gateway import NotificationError, SignatureProbe
from layers.observability import logger

bp = Blueprint(__name__)


def _fail(status: int, message: str) -> Response:
    return Response(body={"code": "FAIL", "message": message}, status_code=status,
                    headers={"Content-Type": "application/json"})


def _verified():
    """The verified, decrypted notification, or the answer to send back instead."""
    request = bp.current_request
    try:  # -- a body that is not UTF-8 is refused before anything parses it
        (request.raw_body or b"").decode("utf-8")
    except UnicodeDecodeError:
        return None, _fail(400, "the body is not UTF-8")
    try:
        return wiring.notification_verifier().verify(dict(request.headers), request.raw_body or b""), None
    except SignatureProbe:
        # WeChat Pay's probes check that we refuse bad signatures: refuse, quietly.
        return None, _fail(401, "signature probe refused")
    except NotificationError as exc:
        logger.warning("notification refused", extra={"reason": type(exc).__name__})
        return None, _fail(401, f"notification refused: {type(exc).__name__}")


def _handle(process) -> Response:
    notification, refusal = _verified()
    if refusal is not None:
        return refusal
    try:
        process(notification)
    except Exception:  # noqa: BLE001 - not durable: WeChat Pay must retry
        # WeChat retries, but a 500 that repeats is money nobody records: the `alarm` field
        # feeds the alarm metric (infra/), since Chalice's 500s count as no Lambda error.
        logger.exception("notification not handled", extra={"notification_id": notification.id,
                                                            "event_type": notification.event_type,
                                                            "alarm": "NOTIFICATION_FAILED"})
        return _fail(500, "not handled; retry")
    return Response(body="", status_code=204)


@bp.route("/wechatpay/notify", methods=["POST"])
def payment_notify():
    return _handle(wiring.payment_notifications().on_payment)


@bp.route("/wechatpay/refund-notify", methods=["POST"])
def refund_notify():
    return _handle(wiring.payment_notifications().on_refund)


@bp.route("/wechatpay/transfer-notify", methods=["POST"])
def transfer_notify():
    return _handle(wiring.payment_notifications().on_transfer)


# -- refunds -------------------------------------------------------------------------

@route(bp, "/orders/{order_id}/refunds", methods=["POST"])
def request_refund(order_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.RefundInput)
    return created(wiring.refunds().request_refund(user, order_id, body, key))


@route(bp, "/orders/{order_id}/refunds", methods=["GET"])
def list_refunds(order_id):
    user = shopper_id(bp)
    wiring.orders().owned(user, order_id)  # 404 unless it is the caller's order
    return {"items": wiring.refunds().for_order(order_id), "next_cursor": None}


@route(bp, "/admin/refunds", methods=["GET"])
def admin_list_refunds():
    require_admin(bp)
    return {"items": wiring.refunds().waiting(query_param(bp, "status", "REQUESTED")), "next_cursor": None}


@route(bp, "/admin/refunds/{refund_id}/approve", methods=["POST"])
def approve_refund(refund_id):
    require_admin(bp)
    return wiring.refunds().approve(refund_id)


@route(bp, "/admin/refunds/{refund_id}/abnormal-refund", methods=["POST"])
def abnormal_refund(refund_id):
    require_admin(bp)
    return wiring.refunds().apply_abnormal(refund_id, parse_body(bp, schemas.AbnormalRefundInput))


@route(bp, "/admin/refunds/{refund_id}/reject", methods=["POST"])
def reject_refund(refund_id):
    require_admin(bp)
    return wiring.refunds().reject(refund_id)
