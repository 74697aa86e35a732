"""What a verified WeChat Pay notification does. The checks that no SDK makes (merchant,
app, order, amount) are in `OrderService.mark_paid`; here each kind of notification is
routed to the one service that owns its state change."""

from __future__ import annotations

from layers.domain.members import is_top_up
from layers.observability import logger
from layers.services.orders import PaymentMismatch


class PaymentNotifications:
    def __init__(self, *, orders, refunds, settlement, mchid: str | None, top_ups=None):
        self.top_ups = top_ups  # () -> TopUpService; top-ups' out_trade_no start with "t"
        self.orders = orders
        self.refunds = refunds
        self.settlement = settlement  # () -> SettlementService: only transfer notifications need it
        self.mchid = mchid

    def on_payment(self, notification) -> None:
        if notification.event_type != "TRANSACTION.SUCCESS":
            logger.info("payment notification ignored", extra={"event_type": notification.event_type})
            return
        trade = notification.resource
        logger.append_keys(order_id=trade.get("out_trade_no"))
        if self.top_ups is not None and is_top_up(trade.get("out_trade_no", "")):
            self.top_ups().on_paid(trade)
            return
        try:
            self.orders.mark_paid(trade.get("out_trade_no", ""), trade)
        except PaymentMismatch as exc:
            # Recorded and alarmed inside mark_paid; retrying cannot make it match.
            logger.error("payment notification rejected", extra={"reason": str(exc)})

    def on_refund(self, notification) -> None:
        resource = notification.resource
        refund_id = resource.get("out_refund_no", "")
        logger.append_keys(order_id=resource.get("out_trade_no"), refund_id=refund_id)
        if resource.get("mchid") not in (None, self.mchid):
            logger.error("refund notification for another merchant", extra={"alarm": "REFUND_MISMATCH"})
            return
        if self.top_ups is not None and is_top_up(refund_id):
            try:
                self.top_ups().on_refund_result(refund_id, resource.get("refund_status"), resource)
            except LookupError:
                logger.error("refund notification for an unknown top-up", extra={"alarm": "REFUND_MISMATCH"})
            return
        try:
            self.refunds.on_refund_result(refund_id, resource.get("refund_status"), resource=resource,
                                          event_type=notification.event_type)
        except LookupError:
            logger.error("refund notification for an unknown refund", extra={"alarm": "REFUND_MISMATCH"})

    def on_transfer(self, notification) -> None:
        self.settlement().on_transfer_result(notification.resource)
