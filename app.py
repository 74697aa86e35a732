"""The Chalice app: wiring only. Each handler family lives in functions/."""

from chalice import Chalice

from functions import (
    admin,
    analytics,  # issue 20: analytics
    auth,
    campaigns,  # issue 18: bargains and friend assistance
    cart,
    catalog,
    console,  # issue 21: the merchant console
    consumers,
    coupons,
    distribution,
    flash_sales,
    group_buys,  # issue 17: group buys
    health,
    jobs,
    members,  # issue 19: members
    miniprogram,
    orders,
    payments,
    reminders,
    settlement,
    snapstart,
    storefront,
)
from functions._middleware import install_middleware

app = Chalice(app_name="wechat-shop")
app.api.cors = False

for blueprint in (
    health.bp,
    auth.bp,
    catalog.bp,
    cart.bp,
    orders.bp,
    coupons.bp,
    flash_sales.bp,
    payments.bp,
    reminders.bp,
    settlement.bp,
    distribution.bp,
    admin.bp,
    campaigns.bp,  # issue 18
    consumers.bp,
    jobs.bp,
    miniprogram.bp,  # issue 14
    analytics.bp,  # issue 20: analytics
    group_buys.bp,  # issue 17: group buys
    members.bp,  # issue 19: members
    console.bp,  # issue 21: the merchant console
    storefront.bp,
):
    app.register_blueprint(blueprint)

install_middleware(app)
# SnapStart (docs/cold-start.md): priming before the snapshot, renewal after each restore.
# Registered with Lambda's runtime hooks; outside Lambda's managed runtime, nothing.
snapstart.register()
