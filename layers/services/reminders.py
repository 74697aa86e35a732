"""订阅消息 reminders: an unpaid order about to close, a coupon about to expire, a flash
sale about to start. Only to shoppers who accepted that template, each reminder at most
once; a refusal from WeChat (43101) consumes the consent like a sent message does.

The send-reminders job runs every few minutes; a reminder is claimed (marker + credit,
one transaction) before it is sent, so a job that runs twice or dies halfway never
sends one twice. The price of at-most-once: a send that fails after its claim is not
retried (it is recorded as FAILED)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from layers import clock
from layers.domain import errors
from layers.observability import logger
from layers.storage import catalog
from layers.storage import reminders as store
from layers.storage.reminders import ConsentItem, FlashReminderRequest, ReminderSent
from layers.storage.tx import Tx
from layers.storage.users import get_user

ORDER_UNPAID_LEAD = timedelta(minutes=5)
COUPON_EXPIRING_LEAD = timedelta(hours=24)
FLASH_START_LEAD = timedelta(minutes=10)


class ConsentInput(BaseModel):
    """What wx.requestSubscribeMessage answered, passed on as it is."""

    model_config = ConfigDict(extra="forbid")
    results: dict[str, str] = Field(min_length=1, max_length=20)
    flash_sale_id: str | None = Field(None, max_length=64)


class _Skip(Exception):
    pass


def record_consent(user_id: str, body: ConsentInput) -> dict:
    now = clock.now_iso()
    templates = catalog.load_settings().subscription_templates
    accepted = [t for t, answer in body.results.items() if answer == "accept"]
    for template_id in accepted:
        ConsentItem(*store.consent_key(user_id, template_id)).update(actions=[
            ConsentItem.template_id.set(template_id), ConsentItem.credits.add(1),
            ConsentItem.updated_at.set(now)])
    if body.flash_sale_id and templates.get("flash_sale_start") in accepted:
        starts_at = _flash_sale_start(body.flash_sale_id)
        FlashReminderRequest(f"REMIND#FLASH#{body.flash_sale_id}", f"USER#{user_id}",
                             sale_id=body.flash_sale_id, user_id=user_id, starts_at=starts_at,
                             gsi2pk="FLASH_REMINDERS",
                             gsi2sk=f"{starts_at}#{body.flash_sale_id}#{user_id}").save()
    return consents_view(user_id)


def consents_view(user_id: str) -> dict:
    return {"items": [{"template_id": c.template_id, "credits": int(c.credits)} for c in store.consents(user_id)],
            "next_cursor": None}


def _flash_sale_start(sale_id: str) -> str:
    from layers.services import flash_sales

    sale = flash_sales.get_sale_view(sale_id)  # raises NotFound
    if clock.parse_iso(sale["starts_at"]) <= clock.now():
        raise errors.InvalidState("this flash sale has already started")
    return sale["starts_at"]


def remind(user_id: str, kind: str, subject_id: str, data: dict, page: str | None = None) -> str:
    """Send one reminder if the shopper consented and it was never sent. Returns what happened."""
    from layers.services.miniprogram import mini_program
    from layers.wechat.miniprogram import SubscriptionRefused

    template_id = catalog.load_settings().subscription_templates.get(kind)
    if not template_id:
        return "NO_TEMPLATE"
    user = get_user(user_id)
    if user is None:
        return "NO_USER"
    now = clock.now_iso()
    marker = ReminderSent(*store.sent_key(kind, subject_id, user_id), kind=kind, status="SENDING", at=now)
    tx = Tx()
    tx.put(marker, condition=ReminderSent.pk.does_not_exist(), on_fail=lambda: _Skip("already reminded"))
    tx.update(ConsentItem(*store.consent_key(user_id, template_id)), actions=[ConsentItem.credits.add(-1)],
              condition=ConsentItem.credits > 0, on_fail=lambda: _Skip("no consent"))
    try:
        tx.commit()
    except _Skip as skip:
        return "SKIPPED:" + str(skip)
    try:
        mini_program().send_subscribe_message(user.openid, template_id, data, page=page)
        status = "SENT"
    except SubscriptionRefused:
        status = "REFUSED"
    except Exception:  # noqa: BLE001 - at most once: recorded, not retried
        logger.exception("reminder not sent", extra={"kind": kind, "subject_id": subject_id})
        status = "FAILED"
    marker.update(actions=[ReminderSent.status.set(status)])
    return status


def send_reminders() -> dict:
    now = clock.now()
    counts: dict[str, int] = {}

    def count(result: str) -> None:
        key = result.split(":")[0]
        counts[key] = counts.get(key, 0) + 1

    # Unpaid orders that close within the lead time.
    from layers.storage import orders as order_store

    for order in order_store.due(order_store.OPEN_ORDERS, clock.iso(now + ORDER_UNPAID_LEAD), limit=1000):
        if order.status != "PENDING_PAYMENT" or clock.parse_iso(order.expires_at) <= now:
            continue
        count(remind(order.user_id, "order_unpaid", order.order_id, {
            "character_string1": {"value": order.order_id},
            "amount2": {"value": f"{int(order.amounts['payable']) / 100:.2f}元"},
            "time3": {"value": order.expires_at}}, page=f"pages/order/detail?id={order.order_id}"))

    # Flash sales about to start, for those who asked.
    for request in store.flash_requests_starting(clock.iso(now + FLASH_START_LEAD)):
        count(remind(request.user_id, "flash_sale_start", request.sale_id, {
            "thing1": {"value": "秒杀即将开始"}, "time2": {"value": request.starts_at}},
            page=f"pages/flash/index?id={request.sale_id}"))
        request.update(actions=[FlashReminderRequest.gsi2pk.remove(), FlashReminderRequest.gsi2sk.remove()])

    # Coupons that expire within the lead time.
    try:
        from layers.services import coupons
    except ImportError:
        coupons = None
    if coupons is not None and hasattr(coupons, "expiring_coupons"):
        for user_id, coupon_id, name, valid_until in coupons.expiring_coupons(
                clock.iso(now), clock.iso(now + COUPON_EXPIRING_LEAD)):
            count(remind(user_id, "coupon_expiring", coupon_id, {
                "thing1": {"value": name[:20]}, "time2": {"value": valid_until}}, page="pages/me/coupons"))
    return counts
