"""The mini-program message push: WeChat's URL check, and its events.

- `trade_manage_order_settlement`: sent twice. The push WeChat sends when it accepts the
  shipping information (only `estimated_settlement_time`) is acknowledged and changes
  nothing. The one at settlement (the shopper confirmed receipt in WeChat, or WeChat
  settled the order) makes a SHIPPED order COMPLETED through the same conditional
  transition as the shopper's own confirmation and the automatic one
  (`OrderService.confirm_receipt`), which emits `order.completed` (the commission
  freeze starts). A duplicate push finds it COMPLETED and changes nothing.
- `trade_manage_remind_shipping`: WeChat reminds the merchant of an unshipped order: an
  anomaly (once per order) and a log line with `alarm`, which infra/ alarms on.
- `trade_manage_remind_access_api`: WeChat says shipping information is not being
  uploaded through the API (sent when it enrols the merchant in trade management, among
  others): logged with `alarm`, and trade management is asked again at once, so a "not
  managed" answer kept from earlier does not hold uploads back for up to a day; what was
  skipped is uploaded.

A push whose signature does not verify (or whose safe-mode body does not decrypt)
changes nothing and is refused (401). In plaintext mode the signature covers only the
token, timestamp and nonce, not the body: whoever saw one signed push could post any body
under its query. Such a push is refused unless its timestamp is within 5 minutes of ours
(`PLAINTEXT_SKEW_S`), which bounds that replay (WeChat sends the time it pushes).
"""

from __future__ import annotations

import json

from layers.domain import errors
from layers.domain import message_push as push
from layers.domain.message_push import InvalidPush, PushCrypto
from layers.domain.order import COMPLETED, SHIPPED
from layers.observability import logger

SUCCESS = "success"
PLAINTEXT_SKEW_S = 300


class MessagePushService:
    def __init__(self, *, crypto: PushCrypto, orders, anomalies, mchid: str | None, clock,
                 recheck_trade_management=None):
        self.clock = clock
        # () -> dict: ShippingService.check_trade_management (asks WeChat, uploads what waited)
        self.recheck_trade_management = recheck_trade_management
        self.crypto = crypto
        self.orders = orders  # OrderService: .get(order_id, consistent), .confirm_receipt(None, order_id, automatic)
        self.anomalies = anomalies
        self.mchid = mchid

    def url_check(self, query: dict) -> str:
        """GET: the echostr, when the signature holds."""
        self._check(query)
        echostr = query.get("echostr")
        if not echostr:
            raise errors.InvalidRequest("echostr is required")
        return echostr

    def _check(self, query: dict) -> None:
        try:
            self.crypto.check_signature(query.get("signature", ""), query.get("timestamp", ""),
                                        query.get("nonce", ""))
        except InvalidPush as exc:
            logger.warning("message push refused", extra={"reason": str(exc)})
            raise errors.Unauthorized("the signature does not verify") from exc

    def receive(self, query: dict, raw_body: bytes | str | None) -> str:
        """POST: verify, decrypt, handle; answers `success`."""
        self._check(query)
        message = self._json(raw_body)
        if "Encrypt" in message or query.get("encrypt_type") == "aes":
            try:
                plain = self.crypto.decrypt(str(message.get("Encrypt", "")), query.get("msg_signature", ""),
                                            query.get("timestamp", ""), query.get("nonce", ""))
            except InvalidPush as exc:
                logger.warning("message push refused", extra={"reason": str(exc)})
                raise errors.Unauthorized("the message signature does not verify") from exc
            message = self._json(plain)
        elif self.crypto.safe_mode_required:
            raise errors.Unauthorized("plaintext pushes are not accepted: the message push is in safe mode")
        else:
            self._check_fresh(query.get("timestamp", ""))
        self.handle(message)
        return SUCCESS

    def _check_fresh(self, timestamp: str) -> None:
        try:
            skew = abs(self.clock.now().timestamp() - int(timestamp))
        except ValueError:
            skew = None
        if skew is None or skew > PLAINTEXT_SKEW_S:
            logger.warning("message push refused", extra={"reason": "timestamp out of window",
                                                          "timestamp": timestamp[:20]})
            raise errors.Unauthorized("the push's timestamp is more than 5 minutes away")

    @staticmethod
    def _json(raw) -> dict:
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.InvalidRequest("the push is not JSON") from exc
        if not isinstance(data, dict):
            raise errors.InvalidRequest("the push is not a JSON object")
        return data

    # -- events -------------------------------------------------------------------------------

    def handle(self, message: dict) -> str:
        event = message.get("Event")
        logger.info("message push", extra={"push_event": event})
        if event == push.SETTLEMENT:
            return self._settled(message)
        if event == push.REMIND_SHIPPING:
            return self._remind_shipping(message)
        if event == push.REMIND_ACCESS_API:
            # ("msg" is a reserved attribute of a log record: it cannot be an extra key.)
            logger.error("WeChat: shipping information is not uploaded through the API",
                         extra={"alarm": "REMIND_ACCESS_API", "wechat_msg": str(message.get("msg", ""))[:200]})
            if self.recheck_trade_management is not None:
                self.recheck_trade_management()
            return "ALARM"
        return "IGNORED"

    def _ours(self, message: dict) -> str | None:
        """The order a trade-management event names, if it is one of ours."""
        order_id = message.get("merchant_trade_no")
        if not order_id or (self.mchid and str(message.get("merchant_id", self.mchid)) != self.mchid):
            logger.warning("message push for another merchant or no order", extra={"order_id": order_id})
            return None
        return str(order_id)

    def _settled(self, message: dict) -> str:
        order_id = self._ours(message)
        if order_id is None:
            return "IGNORED"
        if not push.settles(message):
            logger.info("WeChat accepted the shipping information; settlement estimated",
                        extra={"order_id": order_id,
                               "estimated_settlement_time": message.get("estimated_settlement_time")})
            return "ESTIMATED"
        order = self.orders.get(order_id, consistent=True)
        if order is None:
            logger.warning("settlement push for an unknown order", extra={"order_id": order_id})
            return "UNKNOWN_ORDER"
        if order.status == COMPLETED:
            return COMPLETED  # a duplicate, or confirmed here first
        if order.status != SHIPPED:
            logger.error("WeChat settled an order that is not shipped here",
                         extra={"order_id": order_id, "status": order.status, "alarm": "SETTLED_NOT_SHIPPED"})
            self._anomaly_once(order_id, "SETTLED_NOT_SHIPPED", {"status": order.status,
                                                                 "transaction_id": message.get("transaction_id")})
            return order.status
        # confirm_receive_method: 1 automatic, 2 by the shopper (as documented).
        automatic = str(message.get("confirm_receive_method", "1")) != "2"
        try:
            result = self.orders.confirm_receipt(None, order_id, automatic=automatic)
        except errors.InvalidState:
            return "INVALID_STATE"  # moved meanwhile (refunded): nothing to complete
        logger.info("order completed by WeChat's settlement", extra={"order_id": order_id})
        return result["status"]

    def _remind_shipping(self, message: dict) -> str:
        order_id = self._ours(message)
        if order_id is None:
            return "IGNORED"
        logger.error("WeChat reminds: an order is not shipped",
                     extra={"order_id": order_id, "alarm": "REMIND_SHIPPING"})
        self._anomaly_once(order_id, "REMIND_SHIPPING", {"transaction_id": message.get("transaction_id"),
                                                         "msg": str(message.get("msg", ""))[:200]})
        return "ALARM"

    def _anomaly_once(self, order_id: str, kind: str, detail: dict) -> None:
        if any(a.kind == kind for a in self.anomalies.for_order(order_id)):
            return  # a duplicate push
        self.anomalies.record(order_id, kind, detail)
