"""定向发券 in the console: a form (a coupon template, and the customers picked by phone or
order number), the list of grants, and a grant's page whose progress bar htmx polls while
the grant runs and stops polling once it is DONE. The grant itself runs behind the events
queue (layers/services/coupon_grants.py); these views only start it and read it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from functions import schemas, wiring
from functions.console._kit import bp, console_page, redirect

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REASON_NAMES = {"LIMIT_REACHED": "已达每人限领", "OUT_OF_STOCK": "券已发完", "ENDED": "券已过有效期",
                "UNKNOWN_USER": "用户不存在"}
STATUS_NAMES = {"RUNNING": "发放中", "DONE": "已完成"}


def _posted() -> dict[str, list[str]]:
    raw = bp.current_request.raw_body or b""
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _picked(values: dict[str, list[str]]) -> list[dict]:
    """The customers ticked, each once, with the label the picker showed (`user_labels`
    carries `<user_id> <label>`: the shop keeps no name for a user id, orders do)."""
    ids = list(dict.fromkeys(v for v in values.get("user_ids", []) if _ID.fullmatch(v)))
    labels = {}
    for entry in values.get("user_labels", []):
        uid, _, label = entry.partition(" ")
        labels.setdefault(uid, label[:80])
    return [{"user_id": u, "label": labels.get(u) or "买家"} for u in ids]


@console_page("/console/coupon-grants")
def grants_page(ctx):
    from functions._api import decode_cursor, encode_cursor
    from functions.console._kit import _query

    items, next_key = wiring.coupon_grants().list(20, decode_cursor(_query("cursor")))
    templates, _ = wiring.coupons().list_templates(50, None)
    names = {t["id"]: t["name"] for t in templates}
    import uuid

    # The form's own key: the same form posted twice (a double click, a resend) is one grant.
    tags = wiring.customers().tags()["items"]
    return ctx.page("coupon_grants.html", grants=items, templates=templates, names=names, tags=tags,
                    next_cursor=encode_cursor(next_key), STATUS=STATUS_NAMES, form_key=uuid.uuid4().hex)


@console_page("/console/coupon-grants", methods=("POST",))
def grants_start(ctx):
    values = _posted()
    picked = [p["user_id"] for p in _picked(values)]
    tag = (values.get("tag") or [""])[0].strip() or None
    body = schemas.CouponGrantInput.model_validate({
        "template_id": (values.get("template_id") or [""])[0], "user_ids": None if tag else (picked or None),
        "tag": tag, "note": (values.get("note") or [""])[0].strip()[:200]})
    form_key = (values.get("form_key") or [""])[0]
    grant = wiring.coupon_grants().start(body.template_id, user_ids=body.user_ids, tag=body.tag, note=body.note,
                                         by=ctx.session.name,
                                         idempotency_key=f"console:{form_key}" if _ID.fullmatch(form_key) else None)
    return redirect(f"/console/coupon-grants/{grant['id']}", flash="created")


@console_page("/console/coupon-grants/{grant_id}")
def grant_page(ctx, grant_id):
    grant = wiring.coupon_grants().get(grant_id)
    template = wiring.coupon_template_repository().get(grant["template_id"])
    return ctx.page("coupon_grant.html", g=grant, template_name=template.name if template else grant["template_id"],
                    STATUS=STATUS_NAMES, REASONS=REASON_NAMES)


@console_page("/console/coupon-grants/{grant_id}/progress")
def grant_progress(ctx, grant_id):
    """The bar alone, for htmx: it carries its own polling only while the grant runs."""
    return ctx.page("_grant_progress.html", g=wiring.coupon_grants().get(grant_id), STATUS=STATUS_NAMES,
                    REASONS=REASON_NAMES)


@console_page("/console/pickers/customers")
def customer_options(ctx):
    """The customers picker's boxes: those ticked (kept when the search changes) and the
    shoppers behind the orders with the phone or order number typed."""
    from functions.console.pickers import _masked

    params = bp.current_request.query_params
    q = ((params or {}).get("customer_q") or "").strip()[:64]
    asked = {"user_ids": params.getlist("user_ids") if params and "user_ids" in params else [],
             "user_labels": params.getlist("user_labels") if params and "user_labels" in params else []}
    chosen = _picked(asked)[:200]
    ticked = {c["user_id"] for c in chosen}
    found = []
    for b in wiring.order_search().buyers(q):
        if b["user_id"] in ticked or any(f["user_id"] == b["user_id"] for f in found):
            continue
        found.append({"user_id": b["user_id"], "label": f"{b.get('name') or '买家'} {_masked(b.get('phone'))}"})
    return ctx.page("_customer_options.html", chosen=chosen, found=found[:20], q=bool(q))
