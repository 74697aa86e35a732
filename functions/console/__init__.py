"""The merchant console: server-rendered pages at /console, in Chinese.

Jinja2 templates (templates/) and htmx for partial updates, both vendored (static/, from
npm, never a CDN). Every view parses, checks the session (and the CSRF token on a POST),
calls the same services as the JSON API through functions.wiring, and renders: no business
rule lives here or in a template. One module per area; `_kit` holds what they share.
"""

from functions.console import (  # noqa: F401  (each registers its views on bp)
    after_sales,  # 售后: the queue, an after-sale's page, the merchant's answers
    campaign_review,  # 活动复盘: one campaign's figures and its orders by channel
    campaigns,  # group buys, bargains, assistance
    catalog,
    coupon_grants,  # 定向发券
    customers,  # 客户, 标签
    distribution,
    distribution_pool,  # 推广商品池
    figures,  # 数据: channels and the rankings, with charts
    freight,
    guide_numbers,  # 业绩: weekly and monthly stars, the period export
    guides,  # one guide's page: figures and customers
    links,  # 推广链接: URL Links, Schemes and codes by channel
    marketing,
    members,
    orders,
    pickers,
    pickup,  # 门店自提: a store's redemption page, its pickup orders
    promotions,  # 满减, 满折, 满赠, 第N件, 打包价
    recruitment,  # 分销员申请: approve or reject
    shop,
    signin,
    stores,  # 门店: stores, their staff and figures; a store's staff see only their own
)
from functions.console._kit import bp

__all__ = ["bp"]
