"""Group buys (拼团) with their open groups, bargains (砍价) and friend-assistance campaigns
(助力) in the console. The forms mirror `POST /admin/group-buys`,
`POST /admin/bargains` and `POST /admin/assist-campaigns`: the same request models and
services; prices in yuan, time limits in minutes, times in Beijing time."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import _beijing, _fen, _form, _int, _query, console_page, redirect
from layers.domain import errors

PAGE = 20


def _cursor():
    from functions._api import decode_cursor

    return decode_cursor(_query("cursor"))


def _next(key) -> str | None:
    from functions._api import encode_cursor

    return encode_cursor(key)


def _minutes(value: str | None, field: str) -> int | None:
    """Minutes as typed -> seconds (the API's `*_ttl_s`)."""
    minutes = _int(value)
    if minutes is not None and minutes <= 0:
        raise errors.InvalidRequest(f"{field}:请填写正整数(分钟)")
    return None if minutes is None else minutes * 60


# -- group buys ------------------------------------------------------------------------------------

@console_page("/console/group-buys")
def group_buys_page(ctx):
    items, next_key = wiring.group_buys().list_group_buys(PAGE, _cursor())
    return ctx.page("group_buys.html", activities=items, next_cursor=_next(next_key))


@console_page("/console/group-buys", methods=("POST",))
def group_buys_create(ctx):
    form = _form()
    body = {"sku_id": (form.get("sku_id") or "").strip(), "price": _fen(form.get("price"), "拼团价"),
            "group_size": _int(form.get("group_size")), "group_ttl_s": _minutes(form.get("group_ttl_m"), "成团时限"),
            "starts_at": _beijing(form.get("starts_at")), "ends_at": _beijing(form.get("ends_at")),
            "stock": _int(form.get("stock")), "per_user_limit": _int(form.get("per_user_limit")) or 1,
            "success_min_paid": _int(form.get("success_min_paid"))}
    made = wiring.group_buys().create_group_buy(schemas.GroupBuyInput.model_validate(body))
    wiring.operators().audit(ctx.session, "group_buy.create", made["id"], made["price"], made["title"])
    return redirect("/console/group-buys", flash="created")


@console_page("/console/group-buys/{group_buy_id}")
def group_buy_page(ctx, group_buy_id):
    service = wiring.group_buys()
    activity = service.get_group_buy(group_buy_id)
    groups, next_key = service.list_groups(group_buy_id, PAGE, _cursor())
    return ctx.page("group_buy.html", activity=activity, groups=groups, next_cursor=_next(next_key))


@console_page("/console/group-buys/{group_buy_id}/stop", methods=("POST",))
def group_buy_stop(ctx, group_buy_id):
    wiring.group_buys().stop_group_buy(group_buy_id)
    wiring.operators().audit(ctx.session, "group_buy.stop", group_buy_id, None, "停止开团")
    return redirect("/console/group-buys", flash="stopped")


# -- bargains --------------------------------------------------------------------------------------

@console_page("/console/bargains")
def bargains_page(ctx):
    items, next_key = wiring.bargains().list_bargains(PAGE, _cursor())
    return ctx.page("bargains.html", bargains=items, next_cursor=_next(next_key))


@console_page("/console/bargains", methods=("POST",))
def bargains_create(ctx):
    form = _form()
    body = {"sku_id": (form.get("sku_id") or "").strip(), "floor_price": _fen(form.get("floor_price"), "底价"),
            "helpers_needed": _int(form.get("helpers_needed")), "ttl_s": _minutes(form.get("ttl_m"), "砍价时限"),
            "starts_at": _beijing(form.get("starts_at")), "ends_at": _beijing(form.get("ends_at")),
            "stock": _int(form.get("stock")), "per_user_limit": _int(form.get("per_user_limit")) or 1,
            "helps_per_user_per_day": _int(form.get("helps_per_user_per_day"))}
    made = wiring.bargains().create_bargain(schemas.BargainInput.model_validate(body))
    wiring.operators().audit(ctx.session, "bargain.create", made["id"], made["floor_price"], made["title"])
    return redirect("/console/bargains", flash="created")


@console_page("/console/bargains/{bargain_id}/stop", methods=("POST",))
def bargain_stop(ctx, bargain_id):
    wiring.bargains().stop_bargain(bargain_id)
    wiring.operators().audit(ctx.session, "bargain.stop", bargain_id, None, "停止砍价")
    return redirect("/console/bargains")


# -- friend assistance -----------------------------------------------------------------------------

@console_page("/console/assist-campaigns")
def assist_page(ctx):
    items, next_key = wiring.assistance().list_campaigns(PAGE, _cursor())
    templates, _ = wiring.coupons().list_templates(20, None)  # the reward's suggestions: the newest coupons
    return ctx.page("assist_campaigns.html", campaigns=items, templates=templates, next_cursor=_next(next_key))


@console_page("/console/assist-campaigns", methods=("POST",))
def assist_create(ctx):
    form = _form()
    body = {"name": form.get("name", ""), "helpers_needed": _int(form.get("helpers_needed")),
            "reward_coupon_template_id": (form.get("reward_coupon_template_id") or "").strip(),
            "ttl_s": _minutes(form.get("ttl_m"), "助力时限"),
            "starts_at": _beijing(form.get("starts_at")), "ends_at": _beijing(form.get("ends_at")),
            "per_user_limit": _int(form.get("per_user_limit")) or 1, "new_users_only": form.get("new_users_only") == "1",
            "helps_per_user_per_day": _int(form.get("helps_per_user_per_day"))}
    made = wiring.assistance().create_campaign(schemas.AssistCampaignInput.model_validate(body))
    wiring.operators().audit(ctx.session, "assist.create", made["id"], None, made["name"])
    return redirect("/console/assist-campaigns", flash="created")


@console_page("/console/assist-campaigns/{campaign_id}/stop", methods=("POST",))
def assist_stop(ctx, campaign_id):
    wiring.assistance().stop_campaign(campaign_id)
    wiring.operators().audit(ctx.session, "assist.stop", campaign_id, None, "停止助力")
    return redirect("/console/assist-campaigns", flash="stopped")
