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


class _Deferred:
    """A collaborator built on its first use. Placing an order needs its stock,
    users and orders; refunds, the ledger, members, coupons and the campaign reservations
    only on some paths. Building them all imports ~50 modules of dataclasses and models,
    about a third of a cold POST /orders."""

    __slots__ = ("_build",)

    def __init__(self, build: Callable):
        self._build = build

    def __getattr__(self, name: str):
        return getattr(self._build(), name)  # the builders are cached: built once


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
    # Certificates come from /v3/certificates, through the client (decrypted with our APIv3
    # key). In public-key mode too: while a merchant migrates, WeChat signs callbacks with
    # either, so a certificate serial is looked up (rate-limited) rather than refused.
    keys.set_refresh(lambda: pay_client().download_certificates())
    return keys


@_once
def pay_client():
    from layers.wechat.pay_client import WeChatPayClient

    s = settings()
    return WeChatPayClient(mchid=s.wechatpay_mchid, appid=s.wechat_appid,
                           merchant_serial=s.wechatpay_merchant_serial,
                           merchant_private_key_pem=s.wechatpay_merchant_private_key,
                           apiv3_key=s.wechatpay_apiv3_key, api_base=s.wechatpay_api_base, keys=pay_keys(),
                           public_key_id=s.wechatpay_public_key_id, public_key_pem=s.wechatpay_public_key)


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

    return DynamoOrderRepository(unpaid_cap=settings().unpaid_orders_cap)  # the unpaid orders cap


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

    return OutboxPublisher(outbox=outbox_repository(), send=sqs().send, queue_url=settings().events_queue_url,
                           new_tx=new_tx(), clock=clock())


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

    return Reservations({"sku": stock_repository(), "flash": _Deferred(flash_sale_repository),
                         "bargain": _Deferred(bargain_reservation),  # an order holds a bargain instance
                         "group": _Deferred(group_reservation),  # a seat in a group
                         "points": _Deferred(members)})  # an order holds the points it spends


@_once
def expiry():
    from layers.services.expiry import ExpiryScheduler

    return ExpiryScheduler(send=sqs().send, queue_url=settings().order_expiry_queue_url, clock=clock())


@_once
def orders():
    from layers.services.orders import OrderService

    # What only some paths use is deferred: a cold POST /orders builds the rest.
    return OrderService(
        orders=order_repository(), catalog=stock_repository(), users=user_repository(),
        coupons=_Deferred(coupons), reservations=reservations(),
        attribution=lambda *args, **kwargs: distribution().distributor_for_order(*args, **kwargs),
        ledger=_Deferred(ledger), outbox=_Deferred(outbox_repository), publisher=_Deferred(publisher),
        anomalies=_Deferred(anomalies), pay=pay_client(), expiry=expiry(), refunds=_Deferred(refunds),
        clock=clock(), new_tx=new_tx(), settings=settings(), notify_url=notify_url, reads=placement_reader(),
        members=_Deferred(members), rate_limiter=rate_limiter(),
        after_sales=_Deferred(after_sale_repository),  # open after-sales in the my-orders row
        pickup_codes=_Deferred(pickup_code_repository), upload_pickup=_Deferred(shipping))


# -- 门店自提: pickup codes and their redemption --
@_once
def pickup_code_repository():
    from layers.storage.pickup import DynamoPickupCodeRepository

    return DynamoPickupCodeRepository()


@_once
def pickup():
    from layers.services.pickup import PickupService

    return PickupService(orders=orders(), order_repository=order_repository(), codes=pickup_code_repository(),
                         stores=store_repository(), rate_limiter=rate_limiter(), refunds=refunds(), clock=clock())


@_once
def rate_limiter():
    from layers.storage.rate_limits import DynamoRateLimiter

    return DynamoRateLimiter()


# -- placement reads everything it needs in one round trip --
@_once
def placement_reader():
    from layers.storage.placement import DynamoPlacementReader

    return DynamoPlacementReader(shop_settings_repository())


@_once
def refunds():
    from layers.services.refunds import RefundService

    return RefundService(
        orders=order_repository(), refunds=refund_repository(), reservations=reservations(), coupons=coupons(),
        ledger=ledger(), outbox=outbox_repository(), publisher=publisher(), anomalies=anomalies(),
        pay=pay_client(), clock=clock(), new_tx=new_tx(), notify_url=notify_url,
        members=members(),  # refunds of balance orders
        after_sales=after_sale_repository())  # an after-sale's refund moves it


# -- after-sales --
@_once
def after_sale_repository():
    from layers.storage.after_sales import DynamoAfterSaleRepository

    return DynamoAfterSaleRepository()


@_once
def after_sales():
    from layers.services.after_sales import AfterSaleService

    return AfterSaleService(after_sales=after_sale_repository(), orders=order_repository(), refunds=refunds(),
                            catalog=catalog_repository(), shop=shop_settings_repository(),
                            outbox=outbox_repository(), publisher=publisher(), clock=clock(), new_tx=new_tx(),
                            images=_Deferred(images), order_view=orders().view)


@_once
def payment_notifications():
    from layers.services.payments import PaymentNotifications

    return PaymentNotifications(orders=orders(), refunds=refunds(), settlement=settlement,
                                mchid=settings().wechatpay_mchid, top_ups=top_ups)


@_once
def order_counts_backfill():
    """The one-off job that counts in the orders stored before the shoppers' order counts."""
    from layers.services.order_counts import OrderCountsBackfill
    from layers.storage.catalog import first_product_day
    from layers.storage.kv import DynamoSessionStorage

    return OrderCountsBackfill(orders=order_repository(), refunds=refund_repository(),
                               progress=DynamoSessionStorage(), first_day=first_product_day, clock=clock(),
                               new_tx=new_tx())


# -- what consumes which event, and the scheduled jobs: declared here, once ----------------------

def event_handlers() -> dict:
    """Event type -> the handlers that consume it, each `(event_id, payload)` and
    idempotent per event. Building it imports every consumer: a broken one fails here
    (and in tests/unit/test_wiring.py), never silently at run time."""
    from layers.domain import campaign_events

    return {
        "order.paid": [distribution().on_order_paid, coupons().give_post_payment_coupons,
                       reminders().on_order_paid, bargains().on_order_paid,
                       analytics().on_order_paid,  # after distribution (its commission)
                       group_buys().on_order_paid,  # a group payment counted (or refunded)
                       members().on_order_paid,  # points earned, growth
                       customers().on_order_paid],  # after members: the level the growth reached
        "order.completed": [distribution().on_order_completed,
                            members().on_order_completed],
        "order.refunded": [distribution().on_order_refunded,
                           analytics().on_order_refunded,
                           members().on_order_refunded,
                           customers().on_order_refunded],
        # -- points earned by a paid order; a top-up paid --
        "top_up.paid": [analytics().on_top_up_paid],
        # -- a campaign's orders and own steps, counted in its review --
        "order.placed": [analytics().on_order_placed],
        **{kind: [analytics().on_campaign_step] for kind in campaign_events.FIGURES},
        # -- a guide's shares and their visits, counted by analytics --
        "share.created": [analytics().on_share_created],
        "share.visited": [analytics().on_share_visited],
        # -- the mini-program opened through a channel (POST /visits) --
        "channel.visited": [analytics().on_channel_visited],
        # -- exact-time expiry of bargain and assistance instances --
        "bargain_instance.expiry_due": [bargains().on_expiry_due],
        "assist_instance.expiry_due": [assistance().on_expiry_due],
        # -- shipping information to WeChat (and its delayed retries) --
        "order.shipped": [shipping().on_order_shipped],
        "shipping.upload": [shipping().on_order_shipped],
        "group.expiry_due": [group_buys().on_expiry_due],
        "catalog.changed": [listing().on_catalog_changed],
        # -- the shopper's after-sale messages --
        "after_sale.approved": [reminders().on_after_sale_approved],
        "after_sale.refunded": [reminders().on_after_sale_refunded],
        "after_sale.rejected": [reminders().on_after_sale_rejected],
        # -- a coupon grant's next batches (and a duplicate of that message does nothing) --
        "coupon_grant.run": [coupon_grants().on_run_due],
    }


def jobs() -> dict[str, list[tuple[Callable, str, str | None]]]:
    """Job name -> its steps: (service builder, method, the key its result goes under, or
    None to merge it into the job's result). Each is safe to run twice, late, or after
    dying halfway. Only a job's own services are built when it runs."""
    return {
        "close-expired-orders": [(orders, "close_expired", None), (orders, "auto_confirm_receipts", None),
                                 (refunds, "sweep", "refunds"),
                                 (top_ups, "sweep", "top_up_refunds"),
                                 (top_ups, "close_expired", "top_ups_closed")],
        "relay-outbox": [(publisher, "relay", None)],
        "settle-commissions": [(settlement, "settle_commissions", None)],
        "send-reminders": [(reminders, "send_reminders", None)],
        "reconcile": [(reconciliation, "reconcile_due", None)],
        "expire-campaigns": [(bargains, "expire_due", None), (assistance, "expire_due", None),
                             (assistance, "retry_rewards", None)],
        # -- uploads whose retry message was lost; WeChat's trade management, daily --
        "retry-shipping-uploads": [(shipping, "retry_due", None)],
        "check-trade-management": [(shipping, "check_trade_management", None)],
        # -- analytics --
        "fetch-visitors": [(analytics, "fetch_visitors", None)],
        "recount-analytics": [(analytics, "recount", None)],
        "expire-groups": [(group_buys, "expire_due", None)],
        "rebuild-listing": [(listing, "rebuild", None)],
        # -- customers: rule tags recomputed, nightly --
        "retag-customers": [(customers, "retag", None)],
        # -- after-sales: unanswered requests approved, returns not sent back closed --
        "approve-after-sales": [(after_sales, "auto_approve_due", None)],
        "close-unreturned-after-sales": [(after_sales, "close_unreturned", None)],
        # -- pickup orders not collected within the shop's pickup window: refunded --
        "expire-pickups": [(pickup, "refund_expired", None)],
        # -- coupon grants whose runner stopped (a lost message, a crash) --
        "run-coupon-grants": [(coupon_grants, "run_stalled", None)],
        # -- one-off, not scheduled: run by hand after the deploy that brought the counts --
        "backfill-order-counts": [(order_counts_backfill, "run", None)],
        "backfill-customers": [(customers_backfill, "run", None)],
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

# -- coupon grants (定向发券) --------------------------------------------------------------------

@_once
def coupon_grant_repository():
    from layers.storage.coupon_grants import DynamoCouponGrants

    return DynamoCouponGrants()


def tag_members():
    """Who carries a customer tag, for grants to a tag (an unknown tag: 404)."""
    from layers.storage.customers import DynamoTagMembers

    return DynamoTagMembers(customer_repository())


def _send_grant_run(grant_id: str, step: int) -> None:
    from layers.services.coupon_grants import RUN_EVENT

    sqs().send(settings().events_queue_url, {"event_id": f"{RUN_EVENT}:{grant_id}:{step}", "type": RUN_EVENT,
                                             "payload": {"grant_id": grant_id, "step": step}})


def _coupon_received(coupon) -> None:
    reminders().remind(coupon.user_id, "coupon_received", coupon.coupon_id,
                       {"coupon_name": coupon.name, "valid_until": coupon.valid_until}, page="pages/me/coupons")


@_once
def coupon_grants():
    from layers.services.coupon_grants import CouponGrantService

    return CouponGrantService(grants=coupon_grant_repository(), templates=coupon_template_repository(),
                              coupons=coupons(), user_coupons=user_coupon_repository(), users=user_repository(),
                              tags=tag_members(), clock=clock(), schedule=_send_grant_run, notify=_coupon_received,
                              workers=8)

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
        clock=clock(), new_tx=new_tx(), pool=_Deferred(distribution_pool),
        events=lambda event: publisher().emit(event),
        reach=lambda ids: analytics().guide_figures(ids))


@_once
def last_visits():
    from layers.storage.channels import DynamoLastVisits

    return DynamoLastVisits()


@_once
def channels():
    from layers.services.channels import ChannelService

    return ChannelService(last_visits=last_visits(), emit=lambda event: publisher().emit(event),
                          share_visit=lambda *args: distribution().visit(*args), clock=clock())


@_once
def distribution_pool_repository():
    """The promotion pool; its few-seconds memo is this instance's, cleared by its own write."""
    from layers.storage.distribution_pool import DynamoPoolRepository

    return DynamoPoolRepository()


@_once
def distribution_pool():
    from layers.services.distribution_pool import DistributionPoolService

    return DistributionPoolService(pool=distribution_pool_repository(), catalog=catalog_repository(),
                                   distributors=distributor_repository(), commissions=commission_repository(),
                                   clock=clock())


@_once
def application_repository():
    from layers.storage.distributor_applications import DynamoApplicationRepository

    return DynamoApplicationRepository()


@_once
def recruitment():
    from layers.services.recruitment import RecruitmentService

    return RecruitmentService(applications=application_repository(), distributors=distributor_repository(),
                              users=user_repository(), shop_settings=shop_settings_repository(),
                              distribution=distribution(), clock=clock(), new_tx=new_tx())


@_once
def store_repository():
    from layers.storage.stores import DynamoStoreRepository

    return DynamoStoreRepository()


@_once
def stores():
    from layers.services.stores import StoreService

    return StoreService(stores=store_repository(), operators=operator_repository(),
                        distributors=distributor_repository(), clock=clock(), new_tx=new_tx())


@_once
def guide_customers():
    from layers.services.guide_customers import GuideCustomerService
    from layers.storage.guide_customers import DynamoGuideCustomerReader

    return GuideCustomerService(distributors=distributor_repository(), reader=DynamoGuideCustomerReader(),
                                clock=clock())


@_once
def settlement():
    # Its transfer pacer (50/s) is this container's.
    from layers.services.settlement import SettlementService
    from layers.storage.transfer_authorizations import DynamoTransferAuthorizations

    return SettlementService(
        payouts=payout_repository(), commissions=commission_repository(), distribution=distribution(),
        pay=pay_client(), send=sqs().send, users=user_repository(), shop_settings=shop_settings_repository(),
        settings=settings(), clock=clock(), new_tx=new_tx(), authorizations=DynamoTransferAuthorizations())


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
    from layers.storage.tokens import DynamoTokenStore

    return MiniProgram(appid=s.wechat_appid, secret=s.wechat_app_secret, api_base=s.wechat_api_base,
                       session=DynamoSessionStorage(), token_store=DynamoTokenStore(s.wechat_appid))


@_once
def table_probe():
    from layers.storage.catalog import DynamoTableProbe

    return DynamoTableProbe()


@_once
def catalog():
    from layers.services.catalog import CatalogService

    return CatalogService(catalog=catalog_repository(), new_tx=new_tx(), clock=clock(),
                          categories=_Deferred(category_repository), images=_Deferred(images),
                          listing=_Deferred(listing), campaigns=_Deferred(campaign_directory),
                          outbox=_Deferred(outbox_repository), publisher=_Deferred(publisher),
                          freight=_Deferred(freight_repository))


# -- freight templates ------------------------------------------------------------------------

@_once
def freight_repository():
    from layers.storage.freight import DynamoFreightRepository

    return DynamoFreightRepository()


@_once
def freight_templates():
    from layers.services.freight import FreightService

    return FreightService(freight=freight_repository(), clock=clock(), new_id=catalog_repository().new_id)


# -- promotions ------------------------------------------------------------------------------

@_once
def promotion_repository():
    from layers.storage.promotions import DynamoPromotionRepository

    return DynamoPromotionRepository()


@_once
def promotions():
    from layers.services.promotions import PromotionService

    return PromotionService(promotions=promotion_repository(),
                            figures=lambda ids: analytics_repository().promotions(ids),
                            clock=clock(), new_id=_promotion_id)


def _promotion_id(prefix: str) -> str:
    from layers.storage.promotions import new_promotion_id

    return new_promotion_id(prefix)


# -- the storefront: categories, the listing, campaigns to find, image uploads ----------------

@_once
def category_repository():
    from layers.storage.storefront import DynamoCategoryRepository

    return DynamoCategoryRepository()


@_once
def categories():
    from layers.services.storefront import CategoryService

    return CategoryService(categories=category_repository(), outbox=outbox_repository(), publisher=publisher(),
                           images=images(), clock=clock(), new_tx=new_tx(), new_id=catalog_repository().new_id,
                           listing=listing())


def _image_signer(message: str) -> str:
    import hashlib
    import hmac

    from layers.auth import derived_key

    return hmac.new(derived_key("image"), message.encode(), hashlib.sha256).hexdigest()


@_once
def images():
    from layers.services.storefront import ImageService
    from layers.storage.images import S3Uploads

    s = settings()
    return ImageService(uploads=S3Uploads(s.image_bucket, s.aws_region), base_url=s.image_base_url,
                        sign=_image_signer)


@_once
def image_origins() -> tuple[str, ...]:
    """The origins a console page shows images from (the CDN; moto's S3 locally) and posts
    uploads to (the bucket's endpoint): its Content-Security-Policy allows exactly these."""
    import os
    from urllib.parse import urlsplit

    from layers.storage.images import upload_endpoint

    s = settings()
    found = []
    for url in (s.image_base_url, upload_endpoint(s.aws_region, os.environ.get("S3_ENDPOINT"))):
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            found.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(dict.fromkeys(found))


@_once
def listing():
    from layers.services.storefront import ListingService
    from layers.storage.images import S3BlobStore
    from layers.storage.storefront import DynamoListingVersions

    s = settings()
    return ListingService(catalog=catalog_repository(), categories=category_repository(),
                          versions=DynamoListingVersions(), snapshots=S3BlobStore(s.code_bucket, s.aws_region),
                          sales=lambda: analytics().units_sold())


@_once
def distributor_check() -> Callable[[str], bool]:
    """`is_distributor(user_id)`, remembered a minute per container: a product page asks it
    on every view with a token, and becoming a distributor is rare."""
    import time

    known: dict[str, tuple[float, bool]] = {}

    def check(user_id: str) -> bool:
        hit = known.get(user_id)
        if hit is not None and time.monotonic() - hit[0] < 60:
            return hit[1]
        answer = distributor_repository().get(user_id) is not None
        if len(known) > 10_000:
            known.clear()
        known[user_id] = (time.monotonic(), answer)
        return answer

    return check


def _flash_sale_page(limit: int, cursor: dict | None):
    from layers.services.flash_sales import sale_view

    sales, next_key = flash_sale_repository().list_sales(limit, cursor)
    # The list leaves out `remaining` (one query per sale); GET /flash-sales/{id} has it.
    return [{k: v for k, v in sale_view(sale, 0).items() if k != "remaining"} for sale in sales], next_key


@_once
def campaign_directory():
    from layers.services.storefront import CampaignDirectory

    return CampaignDirectory(
        listers={"flash_sale": _flash_sale_page,
                 "group_buy": lambda limit, cursor: group_buys().list_group_buys(limit, cursor),
                 "bargain": lambda limit, cursor: bargains().list_bargains(limit, cursor),
                 "assist": lambda limit, cursor: assistance().list_campaigns(limit, cursor)},
        catalog=catalog_repository(), groups=group_repository(), clock=clock())


@_once
def shop_settings():
    from layers.services.catalog import ShopSettingsService

    return ShopSettingsService(settings=shop_settings_repository(), clock=clock(),
                               templates=_Deferred(distributor_repository))


@_once
def cart():
    from layers.services.cart import CartService
    from layers.storage.cart import DynamoCartRepository

    return CartService(carts=DynamoCartRepository(), stock=stock_repository(), clock=clock())


@_once
def address_books():
    """The shoppers' address books (sealed at rest: layers/storage/pii.py, PII_KEY)."""
    from layers.storage.addresses import DynamoAddressBookRepository

    return DynamoAddressBookRepository()


@_once
def addresses():
    from layers.services.addresses import AddressService

    return AddressService(books=address_books(), clock=clock())


@_once
def auth():
    # -- login rate limits, token versions --
    from layers.auth import issue_shopper_token
    from layers.services.auth import AuthService
    from layers.storage.rate_limits import DynamoRateLimiter

    s = settings()
    return AuthService(users=user_repository(), mini_program=mini_program(), issue_token=issue_shopper_token,
                       clock=clock(), rate_limiter=DynamoRateLimiter(),
                       login_limit_per_address=s.login_limit_per_address,
                       login_limit_per_openid=s.login_limit_per_openid, versions=token_versions())


@_once
def token_versions():
    """Every shopper call checks its token's version here (without the login's
    WeChat client and rate limiter, which a cold shopper call would otherwise load)."""
    from layers.services.auth import TokenVersions

    return TokenVersions(users=user_repository())


@_once
def reminders():
    from layers.services.reminders import ReminderService
    from layers.storage.reminders import DynamoReminderRepository

    return ReminderService(reminders=DynamoReminderRepository(), users=user_repository(),
                           shop=shop_settings_repository(), mini_program=mini_program(),
                           orders=order_repository(), coupons=coupons(), flash_sales=flash_sales(),
                           clock=clock(), new_tx=new_tx(),
                           groups=group_repository())  # leaders of groups about to expire


@_once
def reconciliation():
    from layers.services.reconcile import ReconcileService

    return ReconcileService(pay=pay_client(), orders=order_repository(), refunds=refund_repository(),
                            ledger=ledger(), anomalies=anomalies(), order_service=orders(),
                            refund_service=refunds(), clock=clock(), top_ups=top_ups)


# -- bargains (砍价) and friend assistance (助力) ------------------------------------

@_once
def help_repository():
    from layers.storage.helps import DynamoHelpRepository

    return DynamoHelpRepository()


@_once
def bargain_repository():
    from layers.storage.bargains import DynamoBargainRepository

    return DynamoBargainRepository()


@_once
def bargain_instance_repository():
    from layers.storage.bargains import DynamoBargainInstanceRepository

    return DynamoBargainInstanceRepository()


@_once
def bargain_reservation():
    """The reservation handler of kind "bargain" (the order's placement and closing transactions)."""
    from layers.services.bargains import BargainReservation

    return BargainReservation(bargains=bargain_repository(), instances=bargain_instance_repository(), clock=clock())


def _expiry_timer(event_type: str):
    from layers.services.campaign_timer import ExpiryTimer

    return ExpiryTimer(send=sqs().send, queue_url=settings().events_queue_url, clock=clock(), event_type=event_type)


@_once
def bargains():
    from layers.services.bargains import BargainService

    return BargainService(bargains=bargain_repository(), instances=bargain_instance_repository(),
                          helps=help_repository(), orders=orders(), catalog=stock_repository(),
                          timer=_expiry_timer("bargain_instance.expiry_due"), clock=clock(), new_tx=new_tx(),
                          outbox=outbox_repository(), publisher=publisher())


@_once
def assistance():
    from layers.services.assistance import AssistService
    from layers.storage.assistance import (
        DynamoAssistCampaignRepository,
        DynamoAssistInstanceRepository,
    )

    return AssistService(campaigns=DynamoAssistCampaignRepository(), instances=DynamoAssistInstanceRepository(),
                         helps=help_repository(), users=user_repository(), coupons=coupons(),
                         templates=coupon_template_repository(),
                         timer=_expiry_timer("assist_instance.expiry_due"), clock=clock(), new_tx=new_tx(),
                         outbox=outbox_repository(), publisher=publisher())


# -- shipping information, message push, share codes ---------------------------------

@_once
def shipping_upload_repository():
    from layers.storage.shipping import DynamoShippingUploads

    return DynamoShippingUploads()


def send_shipping_retry(order_id: str, delay_s: int) -> None:
    """A delayed `shipping.upload` message on the events queue (same consumer, same shape)."""
    import time

    sqs().send(settings().events_queue_url, {
        "event_id": f"shipping.upload:{order_id}:{int(time.time())}", "type": "shipping.upload",
        "payload": {"order_id": order_id}}, delay_s=delay_s)


@_once
def shipping():
    from layers.services.shipping import ShippingService
    from layers.storage.shipping import DynamoTradeManagementCache

    return ShippingService(
        orders=order_repository(), uploads=shipping_upload_repository(), trade_managed=DynamoTradeManagementCache(),
        api=mini_program(), order_view=orders().view, shop=shop_settings_repository(), outbox=outbox_repository(),
        publisher=publisher(), anomalies=anomalies(), send_retry=send_shipping_retry, clock=clock(),
        new_tx=new_tx(), mchid=settings().wechatpay_mchid,
        ship_guard=group_buys().check_shippable)


@_once
def message_push():
    from layers.services.message_push import MessagePushService
    from layers.wechat.push_crypto import PushCrypto

    s = settings()
    return MessagePushService(crypto=PushCrypto(s.wechat_push_token, s.wechat_push_aes_key, s.wechat_appid),
                              orders=orders(), anomalies=anomalies(), mchid=s.wechatpay_mchid, clock=clock(),
                              recheck_trade_management=lambda: shipping().check_trade_management())


@_once
def share_codes():
    from layers.services.share_codes import ShareCodeService
    from layers.storage.images import S3ImageStore

    s = settings()
    return ShareCodeService(shares=distributor_repository(), api=mini_program(),
                            images=S3ImageStore(s.code_bucket, s.aws_region))


@_once
def links():
    """Links for channels: URL Links, Schemes and codes (their images in the code bucket)."""
    from layers.services.links import LinkService
    from layers.storage.images import S3BlobStore
    from layers.storage.links import DynamoLinks

    s = settings()
    return LinkService(links=DynamoLinks(), api=mini_program(), clock=clock(),
                       images=S3BlobStore(s.code_bucket, s.aws_region) if s.code_bucket else None)


# -- analytics ------------------------------------------------------------------------

@_once
def analytics_repository():
    from layers.storage.analytics import DynamoAnalyticsRepository

    return DynamoAnalyticsRepository()


@_once
def exports():
    """Export files (the code bucket's `exports/`); None where no bucket is configured."""
    from layers.storage.exports import S3Exports

    s = settings()
    return S3Exports(s.code_bucket, s.aws_region) if s.code_bucket else None


@_once
def visit_stats():
    from layers.wechat.datacube import DataCube

    return DataCube(mini_program())


@_once
def analytics():
    from layers.services.analytics import AnalyticsService

    return AnalyticsService(
        analytics=analytics_repository(), orders=order_repository(), refunds=refund_repository(),
        user_coupons=user_coupon_repository(), coupon_templates=coupon_template_repository(),
        commission_of=distribution().accrue, send=sqs().send, queue_url=settings().analytics_queue_url,
        visits=visit_stats(), clock=clock(), new_tx=new_tx(), exports=exports(), campaigns=campaign_records(),
        store_of_guide=store_repository().store_of_guide)


@_once
def campaign_records():
    """Each campaign kind's own records, for its review (exists; groups; instances)."""
    from layers.services.analytics import CampaignRecords
    from layers.storage.assistance import (
        DynamoAssistCampaignRepository,
        DynamoAssistInstanceRepository,
    )

    return CampaignRecords(
        flash_sales=flash_sale_repository(), group_buys=group_buy_repository(), groups=group_repository(),
        bargains=bargain_repository(), bargain_instances=bargain_instance_repository(),
        assist_campaigns=DynamoAssistCampaignRepository(), assist_instances=DynamoAssistInstanceRepository(),
        promotions=promotion_repository(), coupon_templates=coupon_template_repository())


# -- group buys (拼团) ------------------------------------------------------------------

@_once
def group_buy_repository():
    from layers.storage.group_buys import DynamoGroupBuyRepository

    return DynamoGroupBuyRepository()


@_once
def group_repository():
    from layers.storage.group_buys import DynamoGroupRepository

    return DynamoGroupRepository()


@_once
def group_reservation():
    """The reservation handler of kind "group" (the order's placement and closing transactions)."""
    from layers.services.group_buys import GroupReservation

    return GroupReservation(group_buys=group_buy_repository(), groups=group_repository(), clock=clock())


@_once
def group_buys():
    from layers.services.group_buys import GroupBuyService

    return GroupBuyService(group_buys=group_buy_repository(), groups=group_repository(), orders=orders(),
                           refunds=refunds(), catalog=stock_repository(),
                           timer=_expiry_timer("group.expiry_due"), clock=clock(), new_tx=new_tx(),
                           outbox=outbox_repository(), publisher=publisher())


# -- members: levels, points, stored value --------------------------------------------

@_once
def member_repository():
    from layers.storage.members import DynamoMemberRepository

    return DynamoMemberRepository()


@_once
def top_up_repository():
    from layers.storage.members import DynamoTopUpRepository

    return DynamoTopUpRepository()


@_once
def members():
    """The books, and the reservation kind "points"."""
    from layers.services.members import MemberService

    return MemberService(members=member_repository(), orders=order_repository(),
                         shop_settings=shop_settings_repository().load_settings, clock=clock(), new_tx=new_tx(),
                         users=user_repository())  # users (an adjustment's shopper exists)


@_once
def top_ups():
    from layers.services.members import TopUpService

    return TopUpService(top_ups=top_up_repository(), members=member_repository(), users=user_repository(),
                        pay=pay_client(), outbox=outbox_repository(), publisher=publisher(), anomalies=anomalies(),
                        clock=clock(), new_tx=new_tx(), settings=settings(), notify_url=notify_url,
                        uploads=shipping_upload_repository(),  # the shipping upload, as virtual goods
                        ledger=ledger(),  # reconciled with WeChat's bill
                        shop_settings=shop_settings_repository().load_settings)  # the payment window


# -- the merchant console's operators --
@_once
def operator_repository():
    from layers.storage.operators import DynamoOperatorRepository

    return DynamoOperatorRepository()


@_once
def operators():
    from layers.services.operators import OperatorService

    return OperatorService(operators=operator_repository(), clock=clock(), secret=settings().token_secret,
                           admin_key=settings().admin_api_key)


# -- the console's order search: phone index and paid days --
@_once
def order_search():
    from layers.services.order_search import OrderSearch

    return OrderSearch(orders=order_repository(), clock=clock(), view=lambda order: orders().view(order))


@_once
def couriers():
    """WeChat's couriers for the console's shipping form, kept a day per container."""
    from layers.services.couriers import Couriers

    return Couriers(fetch=lambda: mini_program().get_delivery_list(), clock=clock())


# -- SnapStart (functions/snapstart.py): what priming builds, what a restored container renews --

def prime_order_path() -> None:
    """Build what a POST /orders uses, before the snapshot: the order service and its
    collaborators (the merchant key loaded), the DynamoDB and SQS clients with the
    operations it calls made once offline, the WeChat Pay transport. No call leaves the
    process."""
    from layers.storage.base import prime_connection

    orders()
    token_versions()
    distribution()  # the order's attribution (the share token), built on its first use
    prime_connection()
    sqs().prime()
    pay_client().prime()


def prime_listing_path() -> None:
    """Build what a GET /products uses, before the snapshot: the catalog and listing
    services and the S3 client the listing's snapshot is read with (its GetObject made once
    offline). The listing itself is not loaded: a snapshot of it would be stale in every
    container restored later."""
    from layers import aws

    catalog()
    store = listing().snapshots
    if store.bucket:
        aws.prime(store.client, {"GetObject": {"Bucket": store.bucket, "Key": "listing/prime"}})


def drop_connections() -> None:
    """Close every HTTP connection a client of ours holds (AWS, WeChat Pay)."""
    from layers import aws
    from layers.wechat import http

    aws.drop_connections()
    http.drop_connections()


def reread_settings() -> bool:
    """Settings read again (the secret from Secrets Manager); if anything changed, every
    service is built again from the new values on first use. True if it did."""
    from layers.config import reread_settings as reread

    changed = reread()
    if changed:
        reset()
    return changed


def forget_settings() -> None:
    """Settings, and every service built from them, read and built again on first use."""
    from layers.config import reset_settings_cache

    reset_settings_cache()
    reset()


# -- customers, tags --------------------------------------------------------------------

@_once
def customer_repository():
    from layers.storage.customers import DynamoCustomerRepository

    return DynamoCustomerRepository()


@_once
def customers():
    from layers.clock import iso
    from layers.services.coupons import coupon_view
    from layers.services.customers import CustomerService
    from layers.storage.kv import DynamoSessionStorage

    def level_of(user_id: str) -> str | None:
        level = members().membership(user_id)["level"]
        return level["name"] if level else None

    def order_views(user_id: str) -> list[dict]:
        found, _ = orders().list_for_user(user_id, None, 20, None)
        return found

    def coupon_views(user_id: str) -> list[dict]:
        found, _ = user_coupon_repository().for_user(user_id, 50, None)
        now = iso(clock().now())
        return [coupon_view(c, now) for c in found]

    def after_sale_views(user_id: str) -> list[dict]:
        from layers.services.after_sales import AfterSaleService

        found, _ = after_sale_repository().for_user(user_id, 20, None)
        return [AfterSaleService.view(a, admin=True) for a in found]

    # WeChat only for POST /me/phone: the events consumer and the jobs never build its client.
    return CustomerService(customers=customer_repository(), orders=order_repository(), phone_api=_Deferred(mini_program),
                           level_of=level_of, clock=clock(), order_views=order_views, coupon_views=coupon_views,
                           after_sale_views=after_sale_views, progress=DynamoSessionStorage(),
                           membership=lambda user_id: members().membership(user_id))


@_once
def customers_backfill():
    """The one-off job that makes the records of shoppers who paid before the consumers."""
    from layers.services.customers import CustomerBackfill
    from layers.storage.catalog import first_product_day
    from layers.storage.kv import DynamoSessionStorage

    return CustomerBackfill(service=customers(), orders=order_repository(), refunds=refund_repository(),
                            progress=DynamoSessionStorage(), first_day=first_product_day, clock=clock())
