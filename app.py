"""The Chalice app: wiring only. Each handler family lives in functions/."""

from chalice import Chalice

from functions import (
    addresses,
    admin,
    after_sales,
    analytics,
    auth,
    campaigns,  # bargains and friend assistance
    cart,
    catalog,
    console,  # the merchant console
    consumers,
    coupon_grants,  # 定向发券
    coupons,
    customers,
    distribution,
    distribution_pool,  # 推广商品池
    flash_sales,
    freight,
    group_buys,
    guide_customers,
    health,
    jobs,
    links,  # 推广链接: URL Links, Schemes and codes by channel
    members,
    miniprogram,
    orders,
    payments,
    promotions,
    recruitment,  # 招募分销员
    reminders,
    settlement,
    snapstart,
    storefront,
    stores,  # 门店: stores, their staff, the shoppers' nearest-first list
    visits,  # the mini-program opened: channels
)
from functions._middleware import install_middleware

app = Chalice(app_name="wechat-shop")
app.api.cors = False

for blueprint in (
    health.bp,
    auth.bp,
    catalog.bp,
    cart.bp,
    addresses.bp,
    customers.bp,
    orders.bp,
    coupons.bp,
    coupon_grants.bp,
    flash_sales.bp,
    payments.bp,
    reminders.bp,
    settlement.bp,
    distribution.bp,
    guide_customers.bp,
    distribution_pool.bp,
    recruitment.bp,
    admin.bp,
    campaigns.bp,
    consumers.bp,
    jobs.bp,
    miniprogram.bp,
    analytics.bp,
    group_buys.bp,
    members.bp,
    console.bp,
    storefront.bp,
    freight.bp,
    after_sales.bp,
    promotions.bp,
    visits.bp,
    links.bp,
    stores.bp,
):
    app.register_blueprint(blueprint)

install_middleware(app)
# SnapStart (docs/cold-start.md): priming before the snapshot, renewal after each restore.
# Registered with Lambda's runtime hooks; outside Lambda's managed runtime, nothing.
snapstart.register()
