"""Freight templates (运费模板) in the console: the list, a new one, an edit.

The form is the API's body in a person's units: fees in yuan, weights in kilograms (grams in
the API), provinces ticked in a list of the 34 grouped by area (never typed). It is turned
into `FreightTemplateInput` and handed to the same FreightService the API uses; what the
model or the domain refuses comes back beside the field it is about, in Chinese, and nothing
is saved. "再加一个地区" / "再加一条包邮条件" show the form again with one more row, typed
values kept, nothing saved.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs

from functions import schemas, wiring
from functions.console._kit import bp, console_page, redirect, yuan_plain
from layers.domain import errors

CHARGE_NAMES = {"piece": "按件数", "weight": "按重量"}
UNITS = {"piece": "件", "weight": "千克"}
CHARGE_FIELDS = ("first", "first_fee", "additional", "additional_fee")
_YUAN = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
_KG = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,3})?")
_COUNT = re.compile(r"[0-9]{1,9}")


# -- reading the form ---------------------------------------------------------------------------

def _posted() -> dict[str, list[str]]:
    """Every field of the form with all its values (a province list posts one value a box)."""
    raw = bp.current_request.raw_body or b""
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: dict, key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def _slots(form: dict, key: str, least: int = 1) -> int:
    try:
        return min(max(int(_one(form, key) or least), least), 40)
    except ValueError:
        return least


def typed(form: dict) -> dict:
    """The form as typed, to show again: {"name", "charge_by", "default": {...}, "regions": [...],
    "free": [...], "undeliverable": [...]}, numbers as the text typed."""
    more = _one(form, "more")
    regions = [{"provinces": form.get(f"r{i}_p", []), **{f: _one(form, f"r{i}_{f}") for f in CHARGE_FIELDS}}
               for i in range(_slots(form, "regions", 0))]
    free = [{"provinces": form.get(f"f{j}_p", []), "min_amount": _one(form, f"f{j}_min_amount"),
             "min_pieces": _one(form, f"f{j}_min_pieces")} for j in range(_slots(form, "frees", 0))]
    if more == "region" or not regions:
        regions.append({"provinces": [], **{f: "" for f in CHARGE_FIELDS}})
    if more == "free" or not free:
        free.append({"provinces": [], "min_amount": "", "min_pieces": ""})
    return {"name": _one(form, "name"), "charge_by": _one(form, "charge_by") or "piece",
            "default": {f: _one(form, f"d_{f}") for f in CHARGE_FIELDS}, "regions": regions, "free": free,
            "undeliverable": form.get("u_p", []), "version": _one(form, "version")}


def shown(template: dict | None) -> dict:
    """A template of the API in the form's units (a new one: blank, by the piece)."""
    if template is None:
        return typed({})
    by = template["charge_by"]

    def charge(c: dict) -> dict:
        return {"first": _units_shown(c["first"], by), "first_fee": yuan_plain(c["first_fee"]),
                "additional": _units_shown(c["additional"], by), "additional_fee": yuan_plain(c["additional_fee"])}

    return {"name": template["name"], "charge_by": by, "default": charge(template["default"]),
            "regions": [{"provinces": r["provinces"], **charge(r)} for r in template["regions"]]
            + [{"provinces": [], **{f: "" for f in CHARGE_FIELDS}}],
            "free": [{"provinces": f["provinces"], "min_amount": yuan_plain(f["min_amount"]),
                      "min_pieces": str(f["min_pieces"] or "")} for f in template["free"]]
            + [{"provinces": [], "min_amount": "", "min_pieces": ""}],
            "undeliverable": template["undeliverable"], "version": str(template["version"])}


def _units_shown(value: int, by: str) -> str:
    """Pieces as they are; grams in kilograms (`1500` -> `1.5`)."""
    if by == "piece":
        return str(value)
    text = format(Decimal(value) / 1000, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fen(text: str) -> int:
    text = text.replace(",", "").removeprefix("¥")
    if not _YUAN.fullmatch(text):
        raise ValueError("请填写金额(元),最多两位小数")
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def _units(text: str, by: str) -> int:
    if by == "piece":
        if not _COUNT.fullmatch(text):
            raise ValueError("请填写整数件数")
        return int(text)
    if not _KG.fullmatch(text):
        raise ValueError("请填写千克数,最多三位小数(精确到克)")
    whole, _, grams = text.partition(".")
    return int(whole) * 1000 + int((grams + "000")[:3])


def _count(text: str) -> int:
    if not _COUNT.fullmatch(text):
        raise ValueError("请填写整数件数")
    return int(text)


def to_body(values: dict) -> tuple[dict, dict[str, str], list[int], list[int]]:
    """The API's body from what was typed; problems by form key; and which form row each of
    the body's regions and free rules came from (blank rows are left out)."""
    by = values["charge_by"] if values["charge_by"] in CHARGE_NAMES else "piece"
    problems: dict[str, str] = {}

    def charge(prefix: str, typed_charge: dict) -> dict:
        out = {}
        for field in CHARGE_FIELDS:
            text = typed_charge[field]
            key = f"{prefix}_{field}"
            if not text:
                if field.startswith("additional"):
                    out[field] = 0  # nothing further
                    continue
                problems[key] = "请填写"
                continue
            try:
                out[field] = _fen(text) if field.endswith("fee") else _units(text, by)
            except ValueError as exc:
                problems[key] = str(exc)
        return out

    body = {"name": values["name"], "charge_by": values["charge_by"], "default": charge("d", values["default"]),
            "regions": [], "free": [], "undeliverable": list(values["undeliverable"])}
    region_rows, free_rows = [], []
    for i, region in enumerate(values["regions"]):
        if not region["provinces"] and not any(region[f] for f in CHARGE_FIELDS):
            continue  # a blank row
        region_rows.append(i)
        body["regions"].append({"provinces": list(region["provinces"]), **charge(f"r{i}", region)})
    for j, rule in enumerate(values["free"]):
        if not rule["provinces"] and not rule["min_amount"] and not rule["min_pieces"]:
            continue
        free_rows.append(j)
        out = {"provinces": list(rule["provinces"]), "min_amount": None, "min_pieces": None}
        for field, parse in (("min_amount", _fen), ("min_pieces", _count)):
            if rule[field]:
                try:
                    out[field] = parse(rule[field])
                except ValueError as exc:
                    problems[f"f{j}_{field}"] = str(exc)
        body["free"].append(out)
    return body, problems, region_rows, free_rows


# -- what the service refused, beside its field ------------------------------------------------------

_PROVINCE_FIELDS = {"provinces": "p"}


def field_key(path: tuple, region_rows: list[int], free_rows: list[int]) -> str:
    """The form's key for a path of the API's body (("regions", 1, "first") -> "r3_first")."""
    path = tuple(path)
    if not path:
        return "_"
    head = path[0]
    if head in ("name", "charge_by"):
        return head
    if head == "undeliverable":
        return "u_p"
    if head == "default":
        return f"d_{path[1]}" if len(path) > 1 else "_"
    if head in ("regions", "free") and len(path) > 1 and isinstance(path[1], int):
        rows = region_rows if head == "regions" else free_rows
        row = rows[path[1]] if path[1] < len(rows) else path[1]
        prefix = f"{head[0]}{row}"
        if len(path) == 2:
            return prefix
        return f"{prefix}_{_PROVINCE_FIELDS.get(path[2], path[2])}"
    return "_"


def _short_names(provinces) -> str:
    from layers.domain.freight import short_name

    return "、".join(short_name(p) for p in provinces)


def _bound(path: tuple, by: str, low: int | None, high: int | None) -> str:
    field = path[-1] if path else ""
    if field.endswith("fee") or field == "min_amount":
        shown_low, shown_high, unit = yuan_plain(low or 0), yuan_plain(high or 0), "元"
    elif field in ("first", "additional"):
        shown_low, shown_high, unit = _units_shown(low or 0, by), _units_shown(high or 0, by), UNITS[by]
    else:
        shown_low, shown_high, unit = str(low or 0), str(high or 0), "件"
    if high is None:
        return f"不能小于 {shown_low} {unit}"
    return f"须在 {shown_low} 到 {shown_high} {unit}之间"


def refusal(details: dict, by: str) -> str:
    """A domain refusal of a template (layers/domain/freight.py `template_from`) in Chinese."""
    reason, provinces = details.get("reason"), details.get("provinces") or []
    if reason == "range":
        return _bound(tuple(details.get("path") or ()), by, details.get("low"), details.get("high"))
    return {"name": "请填写名称(最多 30 个字)", "charge_by": "请选择按件数或按重量计费",
            "unknown_province": f"不是省份:{'、'.join(provinces)}", "no_province": "请至少选择一个省份",
            "province_twice": f"{_short_names(provinces)} 已在上面的地区里:一个省份只能在一个地区",
            "undeliverable_charged": f"{_short_names(provinces)} 已设了地区运费,不能同时设为不配送",
            "no_condition": "请选择包邮省份,或填写包邮金额、件数(至少一项)",
            "too_many": "包邮条件最多 10 条"}.get(reason, "填写的值无效")


def _validation_message(error: dict, by: str) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    path = tuple(error.get("loc") or ())
    if kind == "greater_than_equal":
        return _bound(path, by, ctx.get("ge"), None)
    if kind == "less_than_equal":
        return _bound(path, by, 0, ctx.get("le"))
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字"
    if kind in ("string_too_short", "missing"):
        return "请填写"
    if kind == "too_short":
        return "请至少选择一个省份"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项"
    if kind == "literal_error":
        return "请选择按件数或按重量计费"
    return "填写的值无效"


# -- the pages ---------------------------------------------------------------------------------

def _areas():
    from layers.domain.freight import AREAS

    return AREAS


def _page(ctx, values: dict, template_id: str | None, status: int = 200, problems: dict | None = None,
          refused: str | None = None):
    from layers.domain.freight import short_name

    return ctx.page("freight_template.html", status, values=values, template_id=template_id, areas=_areas(),
                    problems=problems or {}, refused=refused, charge_names=CHARGE_NAMES, short=short_name)


@console_page("/console/freight-templates")
def freight_template_list(ctx):
    from layers.domain.freight import template_view

    templates = [template_view(t) for t in wiring.freight_templates().all()]
    return ctx.page("freight_templates.html", templates=templates, describe=describe)


@console_page("/console/freight-templates/new")
def freight_template_new(ctx):
    return _page(ctx, shown(None), None)


@console_page("/console/freight-templates/{template_id}")
def freight_template_edit(ctx, template_id):
    return _page(ctx, shown(wiring.freight_templates().get(template_id)), template_id)


@console_page("/console/freight-templates", methods=("POST",))
def freight_template_create(ctx):
    return _save(ctx, None)


@console_page("/console/freight-templates/{template_id}", methods=("POST",))
def freight_template_update(ctx, template_id):
    wiring.freight_templates().get(template_id)  # 404 before anything else
    return _save(ctx, template_id)


def _save(ctx, template_id: str | None):
    """Save the form, or show it again: with one more row when asked, or with what is wrong
    beside each field (400; 409 when the template changed meanwhile or the shop has 100)."""
    values = typed(_posted())
    if _one(_posted(), "more"):
        from layers.services.operators import AUDITED

        AUDITED.set(True)  # one more row shown, nothing changed: no audit line
        return _page(ctx, values, template_id)
    body, problems, region_rows, free_rows = to_body(values)
    by = values["charge_by"] if values["charge_by"] in CHARGE_NAMES else "piece"
    if not values["name"]:
        problems["name"] = "请填写名称"
    if problems:
        return _page(ctx, values, template_id, 400, problems)
    service = wiring.freight_templates()
    try:
        if template_id is None:
            saved = service.create(schemas.FreightTemplateInput.model_validate(body))
        else:
            version = int(values["version"]) if _COUNT.fullmatch(values["version"]) else None
            saved = service.update(template_id, schemas.FreightTemplateUpdateInput.model_validate(
                {**body, "version": version}))
    except errors.InvalidRequest as exc:
        key = field_key(exc.details.get("path") or (), region_rows, free_rows)
        return _page(ctx, values, template_id, 400, {key: refusal(exc.details, by)})
    except (errors.InvalidState, errors.LimitExceeded) as exc:
        said = ("这个运费模板已被他人修改:请刷新页面,在最新内容上修改(本次没有保存)"
                if isinstance(exc, errors.InvalidState) else "运费模板最多 100 个,不能再新建")
        return _page(ctx, values, template_id, 409, refused=said)
    except Exception as exc:
        from functions._api import is_validation_error

        if not is_validation_error(exc):
            raise
        found = {}
        for error in exc.errors():
            found.setdefault(field_key(error.get("loc") or (), region_rows, free_rows),
                             _validation_message(error, by))
        return _page(ctx, values, template_id, 400, found)
    wiring.operators().audit(ctx.session, "freight.create" if template_id is None else "freight.edit",
                             saved["id"], None, saved["name"])
    return redirect("/console/freight-templates", flash="created" if template_id is None else "saved")


# -- a template in words ------------------------------------------------------------------------

def _charge_words(c: dict, by: str) -> str:
    unit = UNITS[by]
    first = f"首{'件' if by == 'piece' else '重'} {_units_shown(c['first'], by)} {unit} ¥{yuan_plain(c['first_fee'])}"
    if not c["additional"]:
        return first
    more = f"续{'件' if by == 'piece' else '重'}每 {_units_shown(c['additional'], by)} {unit} ¥{yuan_plain(c['additional_fee'])}"
    return f"{first},{more}"


def describe(t: dict) -> dict:
    """What a template charges, in the list's words."""
    by = t["charge_by"]
    free = []
    for f in t["free"]:
        where = _short_names(f["provinces"]) if f["provinces"] else "全国"
        conditions = [c for c in (f"满 ¥{yuan_plain(f['min_amount'])}" if f["min_amount"] else "",
                                  f"满 {f['min_pieces']} 件" if f["min_pieces"] else "") if c]
        free.append(f"{where}{' ' + '且'.join(conditions) if conditions else ''} 包邮")
    return {"charge_by": CHARGE_NAMES[by], "default": _charge_words(t["default"], by),
            "regions": [f"{_short_names(r['provinces'])}:{_charge_words(r, by)}" for r in t["regions"]],
            "free": free, "undeliverable": _short_names(t["undeliverable"])}
