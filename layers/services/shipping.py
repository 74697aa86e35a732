"""Shipping an order, and uploading its shipping information to WeChat (发货信息管理).

`ship` moves the order PAID -> SHIPPED with the operator's shipping information and
creates its upload in the same transaction, with the `order.shipped` event (outbox). The
events consumer then uploads (`on_order_shipped`): the upload is claimed first (a
conditional write), so a duplicate delivery never uploads twice. WeChat's "busy" (-1) and
"payment not booked yet" (10060001) are retried with backoff through a delayed SQS
message (`shipping.upload`), and by the sweep of due uploads (a lost message), for 48
hours; then, or at once for any other errcode, it is FAILED: an anomaly the operators see,
logged with `alarm`, which they can retry.

The rules are `layers/domain/shipping.py` and `layers/domain/order.py`.
"""

from __future__ import annotations

from datetime import timedelta

from layers.clock import iso
from layers.domain import errors
from layers.domain import order as order_rules
from layers.domain import shipping as rules
from layers.domain.members import is_top_up
from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable
from layers.domain.order import PAID, SHIPPED
from layers.domain.shipping import ShippingInfo, ShippingUpload, UploadStatus
from layers.observability import logger

ATTEMPTS = 8
TRADE_MANAGED_MAX_AGE = timedelta(days=1)


class _Stale(Exception):
    pass


class ShippingService:
    def __init__(self, *, orders, uploads, trade_managed, api, order_view, shop, outbox, publisher, anomalies,
                 send_retry, clock, new_tx, mchid, ship_guard=None):
        # `ship_guard(order)` refuses (a domain error) an order that may not ship
        # yet: a group order before its group SUCCEEDED.
        self.ship_guard = ship_guard
        self.orders = orders
        self.uploads = uploads
        self.trade_managed_cache = trade_managed
        self.api = api  # layers.domain.miniprogram.ShippingApi
        self.order_view = order_view  # Order -> the contract's order body
        self.shop = shop  # .load_settings().auto_confirm_receipt_s
        self.outbox = outbox
        self.publisher = publisher
        self.anomalies = anomalies
        self.send_retry = send_retry  # (order_id, delay_s): a delayed `shipping.upload` message
        self.clock = clock
        self.new_tx = new_tx
        self.mchid = mchid

    # -- the operator ships ---------------------------------------------------------------

    def ship(self, order_id: str, info: ShippingInfo) -> dict:
        """PAID -> SHIPPED with `info`; on a SHIPPED order, the same info again is a retry
        (nothing changes) and other info is the one change WeChat allows."""
        for _ in range(ATTEMPTS):
            order = self.orders.get(order_id, consistent=True)
            if order is None:
                raise errors.NotFound("no such order")
            if order.status != PAID and order.shipping == info.as_dict():
                return self.order_view(order)  # already shipped with this information
            now_dt = self.clock.now()
            now = iso(now_dt)
            tx = self.new_tx()
            if order.status == PAID:
                if self.ship_guard is not None:
                    self.ship_guard(order)
                confirm_at = iso(now_dt + timedelta(seconds=self.shop.load_settings().auto_confirm_receipt_s))
                upload = rules.new_upload(order, info, self.mchid, now)
                change = order_rules.ship(order, now, confirm_at, info.as_dict(), upload.status)
                self.uploads.stage_create(tx, upload, on_exists=_Stale)
            elif order.status == SHIPPED:
                before = self.uploads.get(order_id)
                if before is None:  # shipped without information (before uploads existed)
                    upload = rules.new_upload(order, info, self.mchid, now)
                    change = order_rules.change_shipping(order, info.as_dict(), 0, upload.status)
                    self.uploads.stage_create(tx, upload, on_exists=_Stale)
                else:
                    after = rules.change(before, info, now)  # refuses a second change
                    change = order_rules.change_shipping(order, info.as_dict(), after.revision, after.status)
                    self.uploads.stage_change(tx, before, after, on_stale=_Stale)
            else:
                raise errors.InvalidState(f"only a {PAID} order can be shipped; it is {order.status}")
            self.orders.stage_change(tx, change.before, change.after, on_stale=_Stale)
            for event in change.events:
                self.outbox.stage(tx, event, now)
            try:
                tx.commit()
            except _Stale:
                continue
            for event in change.events:
                self.publisher.publish(event.event_id)
            logger.info("order shipped", extra={"order_id": order_id, "logistics_type": info.logistics_type})
            return self.order_view(change.after)
        raise errors.RateLimited("the order is busy; try again in a moment")

    # -- a pickup order handed over (OrderService.redeem) -----------------------------------

    def pickup_upload(self, order, now: str) -> ShippingUpload:
        """The 用户自提 upload a redemption creates: logistics_type 4, no courier, no
        tracking number (NOT_REQUIRED without a WeChat Pay transaction)."""
        return rules.new_upload(order, ShippingInfo("pickup"), self.mchid, now)

    def stage_upload(self, tx, upload: ShippingUpload, on_exists) -> None:
        self.uploads.stage_create(tx, upload, on_exists=on_exists)

    def get_upload(self, order_id: str) -> dict:
        upload = self.uploads.get(order_id)
        if upload is None:
            raise errors.NotFound("this order has no shipping information")
        return rules.view(upload)

    # -- the upload -------------------------------------------------------------------------

    def on_order_shipped(self, event_id: str, payload: dict) -> None:
        """`order.shipped` (and the delayed `shipping.upload`): upload if it is due."""
        self.upload(payload["order_id"])

    def upload(self, order_id: str) -> str:
        """Upload the order's shipping information if it is PENDING and due. Returns the
        status it is left in (or `NOT_DUE`)."""
        upload = self.uploads.get(order_id)
        if upload is None or upload.status != UploadStatus.PENDING:
            return upload.status if upload else "NONE"
        if not rules.needs_upload(upload):  # written PENDING before balance payments were known
            self._write(upload, rules.not_required(upload))
            return UploadStatus.NOT_REQUIRED.value
        if not self.is_trade_managed():
            self._write(upload, rules.not_required(upload))
            logger.info("shipping upload not required: not under trade management", extra={"order_id": order_id})
            return UploadStatus.NOT_REQUIRED.value
        now_dt = self.clock.now()
        try:
            claimed = rules.claim(upload, now_dt)
        except errors.InvalidState:
            return "NOT_DUE"
        if not self._write(upload, claimed):
            return "NOT_DUE"  # another caller claimed it first
        try:
            self.api.upload_shipping_info(rules.request_body(claimed, now_dt))
            after = rules.uploaded(claimed, iso(self.clock.now()))
        except WeChatApiError as exc:
            after = rules.refused(claimed, int(exc.errcode), str(exc.errmsg), self.clock.now())
        except WeChatUnavailable as exc:
            after = rules.unreachable(claimed, str(exc), self.clock.now())
        if not self._write(claimed, after):
            # Changed meanwhile (the operator's change): its own event uploads it again. If
            # WeChat took this one, that still counts against its one change.
            if after.status == UploadStatus.UPLOADED:
                self._note_accepted(order_id)
            return "CHANGED"
        if after.status == UploadStatus.PENDING:
            delay = rules.backoff_s(after.attempts)
            logger.warning("shipping upload will be retried",
                           extra={"order_id": order_id, "errcode": after.error_code, "delay_s": delay})
            try:
                self.send_retry(order_id, delay)
            except Exception:  # noqa: BLE001 - the sweep of due uploads finds it anyway
                logger.exception("could not schedule the shipping upload retry", extra={"order_id": order_id})
        elif after.status == UploadStatus.FAILED:
            logger.error("shipping upload failed", extra={
                "order_id": order_id, "errcode": after.error_code, "alarm": "SHIPPING_UPLOAD_FAILED"})
            self.anomalies.record(order_id, "SHIPPING_UPLOAD_FAILED", {
                "errcode": after.error_code, "errmsg": after.error_message, "revision": after.revision})
        else:
            logger.info("shipping uploaded", extra={"order_id": order_id, "revision": after.revision})
        return after.status

    def _note_accepted(self, order_id: str) -> None:
        for _ in range(ATTEMPTS):
            current = self.uploads.get(order_id)
            if current is None or self._write(current, rules.accepted_meanwhile(current)):
                return
        logger.error("could not count an accepted shipping upload",
                     extra={"order_id": order_id, "alarm": "SHIPPING_UPLOAD_UNCOUNTED"})

    def retry(self, order_id: str) -> dict:
        """The operator asks again after WeChat refused the upload: it is tried now."""
        for _ in range(ATTEMPTS):
            upload = self.uploads.get(order_id)
            if upload is None:
                raise errors.NotFound("this order has no shipping information")
            if upload.status == UploadStatus.PENDING:
                break
            if self._write(upload, rules.retry(upload, iso(self.clock.now()))):
                break
        self.upload(order_id)
        return self.get_upload(order_id)

    def retry_due(self, limit: int = 200) -> dict:
        """The sweep: every PENDING upload whose time has come (a lost retry message)."""
        results: dict[str, int] = {}
        for upload in self.uploads.due(iso(self.clock.now()), limit=limit):
            status = self.upload(upload.order_id)
            results[status] = results.get(status, 0) + 1
        return {"shipping_uploads": results}

    def _write(self, before: ShippingUpload, after: ShippingUpload) -> bool:
        tx = self.new_tx()
        self.uploads.stage_change(tx, before, after, on_stale=_Stale)
        if after.status != before.status and not is_top_up(before.order_id):  # a top-up has no order
            self.orders.stage_upload_status(tx, before.order_id, after.status)
        try:
            tx.commit()
        except _Stale:
            return False
        return True

    # -- trade management ---------------------------------------------------------------

    def is_trade_managed(self) -> bool:
        """As last checked (at most a day ago); asked now if never checked or too old."""
        cached = self.trade_managed_cache.get()
        if cached is not None:
            managed, checked_at = cached
            if checked_at >= iso(self.clock.now() - TRADE_MANAGED_MAX_AGE):
                return managed
        return self.check_trade_management()["trade_managed"]

    def check_trade_management(self) -> dict:
        """The daily job (and WeChat's `trade_manage_remind_access_api` push): ask WeChat and
        keep the answer; once managed, upload what was skipped while it was not. Only an
        answer with errcode 0 is an answer: anything else is not known, nothing is kept, and
        uploads go ahead (an upload WeChat does not need costs nothing; one it needs and
        never gets holds the merchant's money)."""
        try:
            managed = bool(self.api.is_trade_managed())
        except (WeChatApiError, WeChatUnavailable) as exc:
            logger.warning("is_trade_managed could not be asked", extra={"error": str(exc)})
            return {"trade_managed": True, "checked": False}
        self.trade_managed_cache.put(managed, iso(self.clock.now()))
        result = {"trade_managed": managed, "checked": True}
        if managed:
            result["resumed"] = self._resume_unmanaged()
        return result

    def _resume_unmanaged(self, limit: int = 500) -> int:
        """Every upload skipped while not trade-managed becomes due now, and its upload is
        sent to the events queue (not made here: a push must be answered within 5 seconds);
        the sweep of due uploads finds any whose message is lost."""
        resumed = 0
        for upload in self.uploads.unmanaged(limit=limit):
            current = self.uploads.get(upload.order_id)
            if current is None or current.status != UploadStatus.NOT_REQUIRED or not rules.needs_upload(current):
                continue
            if self._write(current, rules.resume(current, iso(self.clock.now()))):
                resumed += 1
                try:
                    self.send_retry(current.order_id, 0)
                except Exception:  # noqa: BLE001 - due now: the sweep of due uploads takes it
                    logger.exception("could not send the resumed upload", extra={"order_id": current.order_id})
        if resumed:
            logger.info("uploads skipped while not trade-managed resumed", extra={"resumed": resumed})
        return resumed
