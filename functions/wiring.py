"""The composition root: every service, built once per container from its
repositories, WeChat clients, clock and publisher, on first use.

Routes, SQS consumers and jobs ask here for a service; nothing else builds one. Tests
build services from the in-memory fakes instead (tests/fakes/), or call `reset()`
after changing settings so the next call builds from the new ones.

Imports sit inside the builders on purpose: a Lambda handler imports only what the
services it serves need (cold starts), and this module imports every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

_builders: list = []


def _once(fn):
    """`functools.cache` that `reset()` can clear."""
    cached = cache(fn)
    _builders.append(cached)
    return cached


def reset() -> None:
    for fn in _builders:
        fn.cache_clear()


# -- shared collaborators ----------------------------------------------------------------

@_once
def new_tx() -> Callable:
    from layers.storage.tx import Tx

    return Tx


@_once
def clock():
    # The module itself: `now()` read at call time, so tests can move time with monkeypatch.
    from layers import clock as module

    return module


@_once
def settings():
    from layers.config import settings as read

    return read()


@_once
def pay_keys():
    from layers.wechat.pay_notify import WeChatPayKeys

    s = settings()
    keys = WeChatPayKeys(public_key_id=s.wechatpay_public_key_id, public_key_pem=s.wechatpay_public_key)
    if s.platform_certificate_mode:
        # Certificates come from /v3/certificates, through the (verified) client.
        keys.set_refresh(lambda: pay_client().download_certificates())
    return keys


@_once
def pay_client():
    from layers.wechat.pay_client import WeChatPayClient

    s = settings()
    return WeChatPayClient(mchid=s.wechatpay_mchid, appid=s.wechat_appid,
                           merchant_serial=s.wechatpay_merchant_serial,
                           merchant_private_key_pem=s.wechatpay_merchant_private_key,
                           apiv3_key=s.wechatpay_apiv3_key, api_base=s.wechatpay_api_base, keys=pay_keys())


@_once
def notification_verifier():
    from layers.wechat.pay_notify import NotificationVerifier

    return NotificationVerifier(pay_keys(), settings().wechatpay_apiv3_key)


@_once
def merchant_private_key():
    from layers.wechat.paycrypto import load_private_key

    return load_private_key(settings().wechatpay_merchant_private_key)


def notify_url(path: str) -> str:
    return settings().wechatpay_notify_base_url.rstrip("/") + path


@_once
def sqs():
    from layers.sqs import SqsSender

    return SqsSender(settings().aws_region)


# -- orders, refunds, payments (lead) ------------------------------------------------------

@_once
def order_repository():
    from layers.storage.orders import DynamoOrderRepository

    return DynamoOrderRepository(unpaid_cap=settings().unpaid_orders_cap)  # issue 15: the unpaid orders cap


@_once
def refund_repository():
    from layers.storage.refunds import DynamoRefundRepository

    return DynamoRefundRepository()


@_once
def outbox_repository():
    from layers.storage.outbox import DynamoOutbox

    return DynamoOutbox()


@_once
def publisher():
    from layers.services.outbox import OutboxPublisher

    return OutboxPublisher(outbox=outbox_repository(), send=sqs().send, queue_url=settings().events_queue_url)


@_once
def ledger():
    from layers.storage.ledger import DynamoLedgerRepository

    return DynamoLedgerRepository()


@_once
def anomalies():
    from layers.storage.anomalies import DynamoAnomalyRepository

    return DynamoAnomalyRepository(clock())


@_once
def reservations():
    from layers.services.reservations import Reservations

    return Reservations({"sku": stock_repository(), "flash": flash_sale_repository()})


@_once
def expiry():
    from layers.services.expiry import ExpiryScheduler

    return ExpiryScheduler(send=sqs().send, queue_url=settings().order_expiry_queue_url, clock=clock())


@_once
def orders():
    from layers.services.orders import OrderService

    return OrderService(
        orders=order_repository(), catalog=stock_repository(), users=user_repository(), coupons=coupons(),
        reservations=reservations(), attribution=distribution().distributor_for_order, ledger=ledger(),
        outbox=outbox_repository(), publisher=publisher(), anomalies=anomalies(), pay=pay_client(),
        expiry=expiry(), refunds=refunds(), clock=clock(), new_tx=new_tx(), settings=settings(),
        notify_url=notify_url)


@_once
def refunds():
    from layers.services.refunds import RefundService

    return RefundService(
        orders=order_repository(), refunds=refund_repository(), reservations=reservations(), coupons=coupons(),
        ledger=ledger(), outbox=outbox_repository(), publisher=publisher(), anomalies=anomalies(),
        pay=pay_client(), clock=clock(), new_tx=new_tx(), notify_url=notify_url)


@_once
def payment_notifications():
    from layers.services.payments import PaymentNotifications

    return PaymentNotifications(orders=orders(), refunds=refunds(), settlement=settlement,
                                mchid=settings().wechatpay_mchid)


# -- what consumes which event, and the scheduled jobs: declared here, once ----------------------

def event_handlers() -> dict:
    """Event type -> the handlers that consume it, each `(event_id, payload)` and
    idempotent per event. Building it imports every consumer: a broken one fails here
    (and in tests/unit/test_wiring.py), never silently at run time."""
    return {
        "order.paid": [distribution().on_order_paid, coupons().give_post_payment_coupons,
                       reminders().on_order_paid],
        "order.completed": [distribution().on_order_completed],
        "order.refunded": [distribution().on_order_refunded],
    }


def jobs() -> dict[str, list[tuple[Callable, str, str | None]]]:
    """Job name -> its steps: (service builder, method, the key its result goes under, or
    None to merge it into the job's result). Each is safe to run twice, late, or after
    dying halfway. Only a job's own services are built when it runs."""
    return {
        "close-expired-orders": [(orders, "close_expired", None), (orders, "auto_confirm_receipts", None),
                                 (refunds, "sweep", "refunds")],
        "relay-outbox": [(publisher, "relay", None)],
        "settle-commissions": [(settlement, "settle_commissions", None)],
        "send-reminders": [(reminders, "send_reminders", None)],
        "reconcile": [(reconciliation, "reconcile", None)],
    }

# -- coupons, flash sales (helper: coupons) ----------------------------------------------------

@_once
def coupon_template_repository():
    from layers.storage.coupons import DynamoCouponTemplates

    return DynamoCouponTemplates()


@_once
def user_coupon_repository():
    from layers.storage.coupons import DynamoUserCoupons

    return DynamoUserCoupons()


@_once
def coupons():
    from layers.services.coupons import CouponService

    return CouponService(templates=coupon_template_repository(), coupons=user_coupon_repository(),
                         new_tx=new_tx(), clock=clock())


@_once
def flash_sale_repository():
    """The sale's repository, and the reservation handler of kind "flash"."""
    from layers.storage.flash_sales import DynamoFlashSales

    return DynamoFlashSales()


@_once
def flash_sales():
    # Its caches (sale copy, sold-out flag, empty shards) live as long as this container.
    from layers.services.flash_sales import FlashSaleService

    return FlashSaleService(sales=flash_sale_repository(), orders=orders(), catalog=stock_repository(),
                            new_tx=new_tx(), clock=clock())

# -- distribution, settlement (helper: distribution) -------------------------------------------

@_once
def distributor_repository():
    from layers.storage.distribution import DynamoDistributorRepository

    return DynamoDistributorRepository()


@_once
def commission_repository():
    from layers.storage.distribution import DynamoCommissionRepository

    return DynamoCommissionRepository()


@_once
def payout_repository():
    from layers.storage.settlement import DynamoPayoutRepository

    return DynamoPayoutRepository()


@_once
def distribution():
    from layers.services.distribution import DistributionService

    return DistributionService(
        distributors=distributor_repository(), commissions=commission_repository(), orders=order_repository(),
        users=user_repository(), products=catalog_repository(), shop_settings=shop_settings_repository(),
        clock=clock(), new_tx=new_tx())


@_once
def settlement():
    # Its transfer pacer (50/s) is this container's.
    from layers.services.settlement import SettlementService

    return SettlementService(
        payouts=payout_repository(), commissions=commission_repository(), distribution=distribution(),
        pay=pay_client(), send=sqs().send, users=user_repository(), shop_settings=shop_settings_repository(),
        settings=settings(), clock=clock(), new_tx=new_tx())


# -- catalog, cart, auth, reminders, reconciliation (helper: small services) ---------------------

@_once
def shop_settings_repository():
    """The shop's rules; its few-seconds cache is this instance's, cleared by its own save."""
    from layers.storage.catalog import DynamoSettingsRepository

    return DynamoSettingsRepository()


@_once
def stock_repository():
    from layers.storage.catalog import DynamoStockRepository

    return DynamoStockRepository(shop_settings_repository())


@_once
def catalog_repository():
    from layers.storage.catalog import DynamoCatalogRepository

    return DynamoCatalogRepository(shop_settings_repository())


@_once
def user_repository():
    from layers.storage.users import DynamoUserRepository

    return DynamoUserRepository()


@_once
def mini_program():
    # The access token is shared by every container through the table (not per process).
    from layers.storage.kv import DynamoSessionStorage
    from layers.wechat.miniprogram import MiniProgram

    s = settings()
    return MiniProgram(appid=s.wechat_appid, secret=s.wechat_app_secret, api_base=s.wechat_api_base,
                       session=DynamoSessionStorage())


@_once
def table_probe():
    from layers.storage.catalog import DynamoTableProbe

    return DynamoTableProbe()


@_once
def catalog():
    from layers.services.catalog import CatalogService

    return CatalogService(catalog=catalog_repository(), new_tx=new_tx(), clock=clock())


@_once
def shop_settings():
    from layers.services.catalog import ShopSettingsService

    return ShopSettingsService(settings=shop_settings_repository(), clock=clock())


@_once
def cart():
    from layers.services.cart import CartService
    from layers.storage.cart import DynamoCartRepository

    return CartService(carts=DynamoCartRepository(), stock=stock_repository(), clock=clock())


@_once
def auth():
    # -- issue 15: login rate limits, token versions --
    from layers.auth import issue_shopper_token
    from layers.services.auth import AuthService
    from layers.storage.rate_limits import DynamoRateLimiter

    s = settings()
    return AuthService(users=user_repository(), mini_program=mini_program(), issue_token=issue_shopper_token,
                       clock=clock(), rate_limiter=DynamoRateLimiter(),
                       login_limit_per_address=s.login_limit_per_address,
                       login_limit_per_openid=s.login_limit_per_openid)


@_once
def reminders():
    from layers.services.reminders import ReminderService
    from layers.storage.reminders import DynamoReminderRepository

    return ReminderService(reminders=DynamoReminderRepository(), users=user_repository(),
                           shop=shop_settings_repository(), mini_program=mini_program(),
                           orders=order_repository(), coupons=coupons(), flash_sales=flash_sales(),
                           clock=clock(), new_tx=new_tx())


@_once
def reconciliation():
    from layers.services.reconcile import ReconcileService

    return ReconcileService(pay=pay_client(), orders=order_repository(), refunds=refund_repository(),
                            ledger=ledger(), anomalies=anomalies(), order_service=orders(),
                            refund_service=refunds(), clock=clock())
