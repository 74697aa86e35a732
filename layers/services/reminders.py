"""订阅消息 reminders: an unpaid order about to close, a coupon about to expire, a flash
sale about to start, and the `order_paid` message after payment. Only to shoppers who
accepted that template, each reminder at most once; a refusal from WeChat (43101)
consumes the consent like a sent message does.

The send-reminders job runs every few minutes; a reminder is claimed (marker + credit,
one transaction) before it is sent, so a job that runs twice or dies halfway never
sends one twice, and a duplicate `order.paid` event sends nothing. The price of
at-most-once: a send that fails after its claim is not retried (it is recorded as FAILED)."""

from __future__ import annotations

from typing import Any

from layers.clock import iso, parse_iso
from layers.domain import errors, subscription
from layers.domain import pickup as pickup_rules
from layers.domain.catalog import SettingsRepository
from layers.domain.group_buy import OPEN as GROUP_OPEN
from layers.domain.group_buy import REMIND_LEAD as GROUP_EXPIRING_LEAD
from layers.domain.miniprogram import MiniProgramClient, SubscriptionRefused, WeChatApiError
from layers.domain.order import OPEN_ORDERS, PAID, PENDING, OrderRepository
from layers.domain.reminders import (
    COUPON_EXPIRING_LEAD,
    FLASH_START_LEAD,
    ORDER_UNPAID_LEAD,
    Claim,
    FlashReminderRequest,
    ReminderRepository,
    ReminderStatus,
)
from layers.domain.users import UserRepository
from layers.observability import logger

# `body` below is the route's ConsentInput (functions/schemas.py), validated there.


class _Skip(Exception):
    pass


class ReminderService:
    def __init__(self, *, reminders: ReminderRepository, users: UserRepository, shop: SettingsRepository,
                 mini_program: MiniProgramClient, orders: OrderRepository, coupons, flash_sales,
                 clock, new_tx, groups=None):
        # `groups` (layers.domain.group_buy.GroupRepository): OPEN groups by expiry, for group_expiring.
        self.groups = groups
        self.reminders = reminders
        self.users = users
        self.shop = shop
        self.mini_program = mini_program
        self.orders = orders
        self.coupons = coupons  # .expiring_coupons(from_iso, until_iso) -> (user_id, coupon_id, name, valid_until)
        self.flash_sales = flash_sales  # .get_sale_view(sale_id) -> {"starts_at", ...}; raises NotFound
        self.clock = clock
        self.new_tx = new_tx

    # -- consents (POST/GET /me/subscriptions) --------------------------------------------

    def record_consent(self, user_id: str, body: Any) -> dict:
        now = iso(self.clock.now())
        flash = self.shop.load_settings().subscription_templates.get("flash_sale_start")
        accepted = [t for t, answer in body.results.items() if answer == "accept"]
        self.reminders.add_credits(user_id, accepted, now)
        if body.flash_sale_id and flash is not None and flash.template_id in accepted:
            starts_at = self._flash_sale_start(body.flash_sale_id)
            self.reminders.request_flash_reminder(FlashReminderRequest(body.flash_sale_id, user_id, starts_at))
        return self.consents_view(user_id)

    def consents_view(self, user_id: str) -> dict:
        return {"items": [{"template_id": c.template_id, "credits": c.credits}
                          for c in self.reminders.consents(user_id)],
                "next_cursor": None}

    def _flash_sale_start(self, sale_id: str) -> str:
        sale = self.flash_sales.get_sale_view(sale_id)  # raises NotFound
        if parse_iso(sale["starts_at"]) <= self.clock.now():
            raise errors.InvalidState("this flash sale has already started")
        return sale["starts_at"]

    # -- one reminder ---------------------------------------------------------------------

    def remind(self, user_id: str, kind: str, subject_id: str, values: dict, page: str | None = None) -> str:
        """Send one reminder if the shopper consented and it was never sent. Returns what
        happened. `values` are the message's, by name (layers/domain/subscription.MESSAGES);
        the template's layout in the settings says which keyword carries each."""
        template = self.shop.load_settings().subscription_templates.get(kind)
        if template is None:
            return "NO_TEMPLATE"
        template_id = template.template_id
        data = subscription.message_data(kind, template.fields, values)
        user = self.users.get_user(user_id)
        if user is None:
            return "NO_USER"
        claim = Claim(kind, subject_id, user_id, template_id)
        tx = self.new_tx()
        self.reminders.stage_claim(tx, claim, iso(self.clock.now()),
                                   on_already_sent=lambda: _Skip("already reminded"),
                                   on_no_consent=lambda: _Skip("no consent"))
        try:
            tx.commit()
        except _Skip as skip:
            return "SKIPPED:" + str(skip)
        try:
            self.mini_program.send_subscribe_message(user.openid, template_id, data, page=page)
            status = ReminderStatus.SENT
        except SubscriptionRefused:
            status = ReminderStatus.REFUSED
        except WeChatApiError as exc:
            if exc.errcode != subscription.DATA_REFUSED:
                logger.exception("reminder not sent", extra={"kind": kind, "subject_id": subject_id})
                self.reminders.finish(claim, ReminderStatus.FAILED.value)
                return ReminderStatus.FAILED.value
            # Refused for its data (47003: a value, or a layout that is not the template's): nothing
            # reached the shopper, so the credit stays; the settings' layout needs fixing.
            logger.error("reminder data refused by WeChat",
                         extra={"kind": kind, "subject_id": subject_id, "alarm": "SUBSCRIPTION_DATA_REFUSED"})
            self.reminders.finish_returning_credit(claim, ReminderStatus.DATA_REFUSED.value)
            return ReminderStatus.DATA_REFUSED.value
        except Exception:  # noqa: BLE001 - at most once: whatever went wrong is recorded, not retried
            logger.exception("reminder not sent", extra={"kind": kind, "subject_id": subject_id})
            status = ReminderStatus.FAILED
        self.reminders.finish(claim, status.value)
        return status.value

    # -- event: order.paid ----------------------------------------------------------------

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`: the `order_paid` subscription message, once per order."""
        self.remind(payload["user_id"], "order_paid", payload["order_id"], {
            "order_id": payload["order_id"], "amount": int(payload.get("payable", 0)),
            "note": "支付成功，我们会尽快为您发货"},
            page=f"pages/order/detail?id={payload['order_id']}")

    # -- events: after-sales --------------------------------------------------------------

    def on_after_sale_approved(self, event_id: str, payload: dict) -> None:
        """`after_sale.approved`: a return or an exchange tells where the goods go back."""
        address = payload.get("return_address")
        values = {"order_id": payload["order_id"],
                  "note": "售后申请已通过，请寄回商品" if address else "售后申请已通过，正在退款"}
        if address:
            values["address"] = f"{address.get('name', '')} {address.get('phone', '')} {address.get('detail', '')}"
        self.remind(payload["user_id"], "after_sale_approved", payload["after_sale_id"], values,
                    page=f"pages/after-sale/detail?id={payload['after_sale_id']}")

    def on_after_sale_refunded(self, event_id: str, payload: dict) -> None:
        self.remind(payload["user_id"], "after_sale_refunded", payload["after_sale_id"], {
            "order_id": payload["order_id"], "amount": int(payload.get("amount") or 0), "note": "售后退款已退回"},
            page=f"pages/after-sale/detail?id={payload['after_sale_id']}")

    def on_after_sale_rejected(self, event_id: str, payload: dict) -> None:
        self.remind(payload["user_id"], "after_sale_rejected", payload["after_sale_id"], {
            "order_id": payload["order_id"], "reason": payload.get("reason") or "不符合售后条件"},
            page=f"pages/after-sale/detail?id={payload['after_sale_id']}")

    # -- job: send-reminders --------------------------------------------------------------

    def send_reminders(self) -> dict:
        now = self.clock.now()
        counts: dict[str, int] = {}

        def count(result: str) -> None:
            key = result.split(":")[0]
            counts[key] = counts.get(key, 0) + 1

        # Unpaid orders that close within the lead time.
        for order in self.orders.due(OPEN_ORDERS, iso(now + ORDER_UNPAID_LEAD), 1000):
            if order.status != PENDING or parse_iso(order.expires_at) <= now:
                continue
            count(self.remind(order.user_id, "order_unpaid", order.order_id, {
                "order_id": order.order_id, "amount": order.payable, "expires_at": order.expires_at},
                page=f"pages/order/detail?id={order.order_id}"))

        # Flash sales about to start, for those who asked.
        for request in self.reminders.flash_requests_starting(iso(now + FLASH_START_LEAD)):
            count(self.remind(request.user_id, "flash_sale_start", request.sale_id, {
                "title": "秒杀即将开始", "starts_at": request.starts_at},
                page=f"pages/flash/index?id={request.sale_id}"))
            self.reminders.flash_request_done(request)

        # Coupons that expire within the lead time.
        for user_id, coupon_id, name, valid_until in self.coupons.expiring_coupons(
                iso(now), iso(now + COUPON_EXPIRING_LEAD)):
            count(self.remind(user_id, "coupon_expiring", coupon_id, {
                "coupon_name": name, "valid_until": valid_until}, page="pages/me/coupons"))

        # A paid pickup order not collected, the day before its window ends (then refunded).
        for order in self.orders.due(pickup_rules.PICKUP_ORDERS, iso(now + pickup_rules.REMIND_LEAD), 1000):
            due_at = (order.pickup or {}).get("due_at")
            if order.status != PAID or not due_at or parse_iso(due_at) <= now:
                continue
            count(self.remind(order.user_id, "pickup_expiring", order.order_id, {
                "order_id": order.order_id, "note": "您的自提订单尚未取货,逾期将自动退款", "expires_at": due_at},
                page=f"pages/order/detail?id={order.order_id}"))

        # A leader whose group expires within the lead time, still short of members.
        if self.groups is not None:
            for group in self.groups.due(iso(now + GROUP_EXPIRING_LEAD), 1000):
                if group.status != GROUP_OPEN or parse_iso(group.expires_at) <= now:
                    continue
                count(self.remind(group.leader_id, "group_expiring", group.group_id, {
                    "note": f"拼团还差{group.group_size - group.paid_count}人成团", "expires_at": group.expires_at},
                    page=f"pages/group/detail?id={group.group_id}"))
        return counts
