"""A campaign's review (活动复盘) in the console: the figures of
`GET /admin/analytics/campaigns/{kind}/{id}` for people (money in 元, the kind's own
figures named), and an ECharts chart of its orders by channel. Linked from each kind's
list: 秒杀, 拼团, 砍价, 好友助力, 促销, 优惠券."""

from __future__ import annotations

from functions import wiring
from functions.console._kit import console_page
from layers.domain import errors

# kind -> (its name, the console list it is linked from)
KINDS = {"flash_sale": ("秒杀", "/console/flash-sales"), "group_buy": ("拼团", "/console/group-buys"),
         "bargain": ("砍价", "/console/bargains"), "assist": ("好友助力", "/console/assist-campaigns"),
         "promotion": ("促销", "/console/promotions"), "coupon": ("优惠券", "/console/coupons")}


@console_page("/console/campaigns/{kind}/{campaign_id}/review")
def campaign_review(ctx, kind, campaign_id):
    from layers.clock import iso

    if kind not in KINDS:
        raise errors.NotFound("没有这种活动")
    figures = wiring.analytics().review(kind, campaign_id)
    name, back = KINDS[kind]
    return ctx.page("campaign_review.html", kind=kind, kind_name=name, back=back, campaign_id=campaign_id,
                    r=figures, as_of=iso(wiring.clock().now()))
