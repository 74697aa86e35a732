"""Distributors, tiers (commission templates), managers, settlements and payouts in the
console (payouts: the owner only). Every write goes through the distribution service as
`POST /admin/distributors`, `/admin/commission-templates` and `/admin/managers` do."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from chalice import Response

from functions import schemas, wiring
from functions.console._kit import (
    _fen,
    _form,
    _int,
    _query,
    bp,
    console_page,
    money_action,
    redirect,
)
from layers.domain import errors

PAGE = 20
NOT_FOUND_NAMES = {"no such shopper": "没有这个用户(用户 ID 有误)", "no such commission template": "没有这个佣金方案",
                   "no such manager (a manager is a shopper's user id)": "没有这个团队长(团队长须是已注册用户的 ID)"}


def _partial() -> bool:
    return bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only


def _cursor(scope: str):
    from functions._api import decode_cursor

    return decode_cursor(_query("cursor"), scope.encode())


def _encode(key, scope: str):
    from functions._api import encode_cursor

    return encode_cursor(key, scope.encode())


# -- distributors ---------------------------------------------------------------------------------

@console_page("/console/distributors")
def distributors_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    items, next_key = wiring.distribution().list_all(PAGE, decode_cursor(_query("cursor")))
    if _partial():
        return ctx.page("_distributor_rows.html", distributors=items, next_cursor=encode_cursor(next_key),
                        more_url="/console/distributors")
    templates, _ = wiring.distribution().list_templates(100, None)
    return ctx.page("distributors.html", distributors=items, next_cursor=encode_cursor(next_key),
                    more_url="/console/distributors", templates=templates)


@console_page("/console/distributors", methods=("POST",), area="commission")
def distributors_make(ctx):
    """Make a shopper a distributor (or change their template or manager), as
    `POST /admin/distributors` {user_id, template_id, manager_id?}."""
    form = _form()
    body = {"user_id": (form.get("user_id") or "").strip(), "template_id": (form.get("template_id") or "").strip(),
            "manager_id": (form.get("manager_id") or "").strip() or None}
    if not body["user_id"] or not body["template_id"]:
        raise errors.InvalidRequest("请填写用户 ID 并选择佣金方案")
    try:
        wiring.distribution().make_distributor(schemas.DistributorInput.model_validate(body))
    except errors.NotFound as exc:
        raise errors.NotFound(NOT_FOUND_NAMES.get(exc.message, exc.message)) from exc
    return redirect("/console/distributors", flash="saved")


CSV_HEADER = ("分销员", "团队长", "佣金方案", "等级", "佣金比例(%)", "成交笔数", "成交额(元)", "待结算(元)",
              "可结算(元)", "已结算(元)", "已冲销(元)", "佣金欠款(元)", "已抵扣欠款(元)", "客户数",
              "加入时间(北京时间)")


def _console_csv(rows: list[dict]) -> str:
    """The distributors as a manager opens them in a spreadsheet: Chinese headers, yuan,
    percent, Beijing time (the JSON API's CSV keeps fen, basis points and UTC)."""
    import csv
    import io

    from functions.console._kit import beijing, yuan_plain
    from layers.services.distribution import _cell

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in rows:
        c = r["commissions"]
        writer.writerow([_cell(v) for v in (
            r["id"], r["manager_id"], r["template_id"], r["tier"]["name"], yuan_plain(r["tier"]["rate_bps"]),
            r["sales_count"], yuan_plain(r["sales_amount"]), *(yuan_plain(c[k]) for k in
                                                             ("pending", "settleable", "settled", "reversed",
                                                              "debt", "deducted")),
            r["customers"], beijing(r["created_at"]))])
    return "\ufeff" + out.getvalue()  # a BOM: Excel opens UTF-8 Chinese without garbling it


@console_page("/console/distributors.csv")
def distributors_csv(ctx):
    svc = wiring.distribution()
    return Response(body=_console_csv(svc.all_rows(svc.list_all)), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": 'attachment; filename="distributors.csv"'})


# -- tiers: commission templates ------------------------------------------------------------------

def _rate_bps(text: str, line: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,6})?", text.rstrip("%")):  # `Infinity`, `1e9999`: not a rate
        raise errors.InvalidRequest(f"佣金比例须为百分数(如 5 或 5.5):{line}")
    try:
        bps = Decimal(text.rstrip("%")) * 100
    except InvalidOperation as exc:
        raise errors.InvalidRequest(f"佣金比例须为百分数(如 5 或 5.5):{line}") from exc
    if bps != bps.to_integral_value() or not 0 <= bps <= 10000:
        raise errors.InvalidRequest(f"佣金比例在 0 到 100 之间,最多两位小数:{line}")
    return int(bps)


def _tiers(text: str | None) -> list[dict]:
    """One tier a line: `名称 比例% [最低成交笔数] [最低成交额(元)]`."""
    tiers = []
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts:
            continue
        if not 2 <= len(parts) <= 4:
            raise errors.InvalidRequest(f"每行一个等级:名称 比例% [最低成交笔数] [最低成交额(元)]:{line}")
        tier = {"name": parts[0], "rate_bps": _rate_bps(parts[1], line)}
        if len(parts) > 2:
            tier["min_sales_count"] = _int(parts[2])
        if len(parts) > 3:
            tier["min_sales_amount"] = _fen(parts[3], "最低成交额")
        tiers.append(tier)
    if not tiers:
        raise errors.InvalidRequest("至少填写一个等级")
    return tiers


@console_page("/console/tiers")
def tiers_page(ctx):
    items, next_key = wiring.distribution().list_templates(PAGE, _cursor("tiers"))
    return ctx.page("_tier_rows.html" if _partial() else "tiers.html", templates=items,
                    next_cursor=_encode(next_key, "tiers"))


@console_page("/console/tiers", methods=("POST",), area="commission")
def tiers_create(ctx):
    form = _form()
    body = {"name": (form.get("name") or "").strip(), "tiers": _tiers(form.get("tiers"))}
    wiring.distribution().create_template(schemas.CommissionTemplateInput.model_validate(body))
    return redirect("/console/tiers", flash="created")


# -- managers: who manages whom ------------------------------------------------------------------

def all_templates() -> list[dict]:
    """Every commission template (a shop has a handful): the pickers' options, and the
    names the lists show for a template id."""
    svc = wiring.distribution()
    return svc.all_rows(svc.list_templates)


@console_page("/console/managers")
def managers_page(ctx):
    items, next_key = wiring.distribution().list_managers(PAGE, _cursor("managers"))
    templates = all_templates()
    return ctx.page("_manager_rows.html" if _partial() else "managers.html", managers=items,
                    next_cursor=_encode(next_key, "managers"), templates=templates,
                    template_names={t["id"]: t["name"] for t in templates})


@console_page("/console/managers", methods=("POST",), area="commission")
def managers_add(ctx):
    """Add a manager, or change one's name or template (`POST /admin/managers`: a blank
    name or template keeps the one set). Back to the list, or to the manager's page."""
    from functions.console._kit import _back

    form = _form()
    body = {"user_id": (form.get("user_id") or "").strip(), "name": (form.get("name") or "").strip() or None,
            "template_id": (form.get("template_id") or "").strip() or None}
    try:
        wiring.distribution().add_manager(schemas.ManagerInput.model_validate(body))
    except errors.NotFound as exc:
        raise errors.NotFound(NOT_FOUND_NAMES.get(exc.message, exc.message)) from exc
    return redirect(_back("/console/managers"), flash="saved")


@console_page("/console/managers/{manager_id}")
def manager_group(ctx, manager_id):
    """The distributors a manager manages (the manager of each shows on the distributors page)."""
    scope = f"group:{manager_id}"
    svc = wiring.distribution()
    items, next_key = svc.list_group(manager_id, PAGE, _cursor(scope))
    more_url = f"/console/managers/{quote(manager_id, safe='')}"
    if _partial():
        return ctx.page("_distributor_rows.html", distributors=items, next_cursor=_encode(next_key, scope),
                        more_url=more_url)
    manager = svc.get_manager(manager_id)
    if manager is None and not items:
        raise errors.NotFound(f"没有这个团队长:{manager_id}")
    templates = all_templates()
    return ctx.page("manager.html", manager_id=manager_id, manager=manager, distributors=items,
                    next_cursor=_encode(next_key, scope), more_url=more_url, templates=templates,
                    template_names={t["id"]: t["name"] for t in templates})


# -- settlements and payouts (owner only) ---------------------------------------------------------

@console_page("/console/payouts", area="payouts")
def payouts_page(ctx):
    limit = _int(_query("limit")) or 10
    if not 1 <= limit <= 50:
        raise errors.InvalidRequest("limit: 1 到 50")
    batches, next_key = wiring.settlement().batches(limit, _cursor("batches"))
    return ctx.page("_batches.html" if _partial() else "payouts.html", batches=batches,
                    next_cursor=_encode(next_key, "batches"), limit=limit)


@console_page("/console/payouts/{payout_id}/mark-paid", methods=("POST",), area="payouts")
def payout_mark_paid(ctx, payout_id):
    with money_action(ctx, "payout.mark_paid", payout_id) as line:
        payout = wiring.settlement().mark_paid_manually(payout_id)
        line.update(amount=payout.get("amount"), detail=f"{payout.get('distributor_id')} -> {payout.get('status')}")
    return redirect("/console/payouts", flash="paid")


@console_page("/console/settlements/{batch_id}/payouts.csv", area="payouts")
def payouts_csv(ctx, batch_id):
    return Response(body=wiring.settlement().batch_csv(batch_id), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{batch_id}-payouts.csv"'})
