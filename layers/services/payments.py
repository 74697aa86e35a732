"""What a verified WeChat Pay notification does. The checks that no SDK makes (merchant,
app, order, amount) are in `orders.mark_paid`; here each kind of notification is routed
to the one service that owns its state change."""

from __future__ import annotations

from layers.observability import logger


def on_payment_notification(notification) -> None:
    from layers.services import orders

    if notification.event_type != "TRANSACTION.SUCCESS":
        logger.info("payment notification ignored", extra={"event_type": notification.event_type})
        return
    trade = notification.resource
    logger.append_keys(order_id=trade.get("out_trade_no"))
    try:
        orders.mark_paid(trade.get("out_trade_no", ""), trade)
    except orders.PaymentMismatch as exc:
        # Recorded and alarmed inside mark_paid; retrying cannot make it match.
        logger.error("payment notification rejected", extra={"reason": str(exc)})


def on_refund_notification(notification) -> None:
    from layers.services import refunds

    resource = notification.resource
    status = resource.get("refund_status")
    refund_id = resource.get("out_refund_no", "")
    logger.append_keys(order_id=resource.get("out_trade_no"), refund_id=refund_id)
    if resource.get("mchid") not in (None, _mchid()):
        logger.error("refund notification for another merchant", extra={"alarm": "REFUND_MISMATCH"})
        return
    try:
        refunds.on_refund_result(refund_id, status)
    except LookupError:
        logger.error("refund notification for an unknown refund", extra={"alarm": "REFUND_MISMATCH"})


def on_transfer_notification(notification) -> None:
    from layers.services import settlement

    settlement.on_transfer_result(notification.resource)


def _mchid() -> str | None:
    from layers.config import settings

    return settings().wechatpay_mchid
