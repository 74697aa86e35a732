"""Every change an operator makes is in the audit log, through the console and the JSON
admin API alike. A view that writes its own line (money actions, product edits, operator
changes) says what it did in its words; any other successful change gets a generic line
here: who (the console's operator, or `owner` for the ADMIN_API_KEY), the route, its ids,
and the names (never the values: passwords, phones) of the fields it was sent."""

from __future__ import annotations

import json

SECRET_FIELDS = frozenset({"csrf", "password"})


def begin() -> None:
    from layers.services.operators import AUDITED

    AUDITED.set(False)


def record(operator, request, fields: list[str]) -> None:
    """After a change answered below 400: its generic line, unless the view wrote one.
    The change has happened: a line that cannot be written alarms, it is not a 5xx."""
    from layers.services.operators import AUDITED

    if AUDITED.get():
        return
    context = request.context or {}
    route = context.get("resourcePath") or request.path
    target = ",".join(str(v) for v in (request.uri_params or {}).values())[:200] or "-"
    from functions.console.messages import field_label

    # Named for the people who read the operators page; never a value (a field may be personal).
    names = sorted(field_label(f) for f in fields if f not in SECRET_FIELDS)
    try:
        from functions import wiring

        wiring.operators().audit(operator, f"{request.method} {route}", target,
                                 detail=("改动字段:" + "、".join(names))[:500] if names else None)
    except Exception:  # noqa: BLE001
        from layers.observability import logger

        logger.exception("audit line not written", extra={"route": route, "alarm": "AUDIT_UNFINISHED"})


def json_fields(raw: bytes | None) -> list[str]:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):  # any body: the route already answered
        return []
    return list(body) if isinstance(body, dict) else []


def settings_change(before: dict, after: dict) -> str | None:
    """Each rule that changed, labelled and in the units of the settings page."""
    from functions.console.shop import settings_change as worded

    return worded(before, after)
