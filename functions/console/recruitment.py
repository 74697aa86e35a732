"""分销 → 分销员申请: the shoppers' applications to become distributors, by status
(待审核 by default, the one waiting longest first; decided ones newest first), and the
operator's answers: approve with a commission template and a manager (both chosen from
lists; blank template: the manager's, else the shop's default) or reject with a reason the
shopper is told (required here, though the API allows none: a shopper refused without a
word asks again). Every answer is the recruitment service's own, as the admin API's, and
the owner's (who is paid is an owner's decision, as for 分销员); an operator sees the queue.
The decision keeps the operator's name (the owner's is `owner`, as the admin API writes it)."""

from __future__ import annotations

from urllib.parse import urlencode

from functions import schemas, wiring
from functions.console._kit import _form, _query, bp, console_page, redirect
from layers.domain import errors

PAGE = 20
STATUS_NAMES = {"PENDING": "待审核", "APPROVED": "已通过", "REJECTED": "已拒绝"}
HOME = "/console/distributor-applications"


@console_page(HOME)
def applications_page(ctx):
    from functions._api import decode_cursor, encode_cursor
    from functions.console.distribution import all_templates

    status = _query("status") or "PENDING"
    if status not in STATUS_NAMES:
        raise errors.InvalidRequest("没有这个申请状态(待审核、已通过、已拒绝)")
    scope = f"console-distributor-applications\x00{status}".encode()
    items, next_key = wiring.recruitment().list(status, PAGE, decode_cursor(_query("cursor"), scope),
                                                oldest_first=status == "PENDING")
    next_cursor = encode_cursor(next_key, scope)
    more = f"{HOME}?{urlencode({'status': status, 'cursor': next_cursor})}" if next_cursor else None
    svc = wiring.distribution()
    templates = all_templates()
    managers = svc.all_rows(svc.list_managers)
    context = {"applications": items, "more": more, "status_filter": status, "templates": templates,
               "managers": managers, "template_names": {t["id"]: t["name"] for t in templates},
               "manager_names": {m["id"]: m["name"] for m in managers}, "APPLICATION_NAMES": STATUS_NAMES}
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_application_rows.html" if partial else "distributor_applications.html", **context)


def _back() -> str:
    return f"{HOME}?status=PENDING"


@console_page(HOME + "/{application_id}/approve", methods=("POST",), area="commission")
def application_approve(ctx, application_id):
    form = _form()
    body = schemas.ApprovalInput.model_validate({
        "template_id": (form.get("template_id") or "").strip() or None,
        "manager_id": (form.get("manager_id") or "").strip() or None})
    try:
        wiring.recruitment().approve(application_id, body, ctx.session.name)
    except errors.NotFound as exc:
        if exc.message == "no such manager":
            raise errors.NotFound("没有这个团队长,请重新选择") from exc
        raise
    return redirect(_back(), flash="app_approved")


@console_page(HOME + "/{application_id}/reject", methods=("POST",), area="commission")
def application_reject(ctx, application_id):
    reason = (_form().get("reason") or "").strip()
    if not reason:
        raise errors.InvalidRequest("请填写拒绝原因(申请人会看到)")
    body = schemas.RejectionInput.model_validate({"reason": reason})
    wiring.recruitment().reject(application_id, body, ctx.session.name)
    return redirect(_back(), flash="app_rejected")
