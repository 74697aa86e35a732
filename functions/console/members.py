"""Members in the console: level, points and stored value with their entries (paged with
"more"), and an owner's adjustment of a balance or points.

A member is found by user id: shoppers carry no phone number (orders do), so there is no
phone lookup to offer without a new index on users."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from functions import wiring
from functions.console._kit import _fen, _form, _int, _query, console_page, money_action, redirect
from layers.domain import errors

PAGE = 20
# The books' names as layers.domain.members has them (not imported here: its dataclasses are
# 10 ms of every cold start, and the console's modules load with the app).
BALANCE, POINTS = "balance", "points"
BOOKS = (BALANCE, POINTS)
KIND_NAMES = {"order_payment": "余额支付", "order_refund": "订单退款", "order_spend": "积分抵扣",
              "order_spend_returned": "抵扣退回", "order_earn": "下单得积分(冻结)", "order_release": "积分解冻",
              "top_up": "储值充值", "top_up_refund": "储值退款", "top_up_refund_failed": "退款失败退回",
              "admin_adjust": "店主调整"}

# -- members ---------------------------------------------------------------------------------------


def _entries(user_id: str, book: str, cursor: str | None):
    from functions._api import decode_cursor, encode_cursor

    scope = f"entries:{user_id}:{book}".encode()  # a cursor pages its own list only
    items, next_key = wiring.members().entries(user_id, book, PAGE, decode_cursor(cursor, scope))
    return items, encode_cursor(next_key, scope)


@console_page("/console/members")
def members_page(ctx):
    user_id = (_query("user_id") or "").strip()
    if not user_id:
        return ctx.page("members.html", user_id="", member=None)
    if wiring.user_repository().get_user(user_id) is None:
        raise errors.NotFound(f"没有这个用户:{user_id}")
    balance, balance_next = _entries(user_id, BALANCE, None)
    points, points_next = _entries(user_id, POINTS, None)
    return ctx.page("members.html", user_id=user_id, member=wiring.members().membership(user_id),
                    balance_entries=balance, balance_next=balance_next, points_entries=points,
                    points_next=points_next, adjust_id=secrets.token_urlsafe(16), KIND_NAMES=KIND_NAMES)


@console_page("/console/members/{user_id}/entries/{book}")
def member_entries(ctx, user_id, book):
    """The next page of one book's entries ("more": rows only)."""
    if book not in BOOKS:
        raise errors.NotFound("没有这个账本")
    items, next_cursor = _entries(user_id, book, _query("cursor"))
    return ctx.page("_entry_rows.html", user_id=user_id, book=book, entries=items, next_cursor=next_cursor,
                    KIND_NAMES=KIND_NAMES)


@console_page("/console/members/{user_id}/adjust", methods=("POST",), area="member_books")
def member_adjust(ctx, user_id):
    """An owner's signed adjustment (yuan or points) with a reason; audited with the operator."""
    form = _form()
    book = form.get("book") or ""
    if book not in BOOKS:
        raise errors.InvalidRequest("请选择调整余额或积分")
    amount = _fen(form.get("amount"), "调整金额") if book == BALANCE else _int(form.get("amount"))
    if amount is None:
        raise errors.InvalidRequest("请填写调整数额(负数为减少)")
    reason = form.get("reason") or ""
    what = f"{amount:+d}{' 积分' if book == POINTS else ' 分'}: {reason.strip()}"
    with money_action(ctx, f"{book}.adjust", user_id, amount if book == BALANCE else None, what) as line:
        done = wiring.members().adjust(user_id, book, amount, reason, ctx.session.name, form.get("adjust_id") or "")
        if done["duplicate"]:
            line.update(outcome="DUPLICATE", detail=f"{what} (已调整过:同一表单)")
        else:
            line.update(detail=f"{what} ({done['entry']['id']})")
    return redirect("/console/members?user_id=" + quote(user_id, safe=""), flash="adjusted")
