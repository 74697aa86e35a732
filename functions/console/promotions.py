"""Promotions (促销活动: 满减, 满折, 满赠, 第N件, 打包价) in the console: the list with each
promotion's figures, the form to make one, and stop.

The form is the API's body in a person's units: money in yuan (exactly: the decimal text
parsed to fen, never a float), a percent paid as 折 (8.5 折 is 85), times in Beijing time,
products and categories chosen by name (a product picker, the category tree), the gift by
the SKU picker. Which tier fields show follows the kind chosen (CSS, no script); only the
kind's fields are read. The body goes to the same PromotionService as the API; what the
model or the domain refuses is said in Chinese beside the field it is about, what was
typed is kept, and nothing is saved.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from functions import schemas, wiring
from functions.console._kit import _beijing, bp, console_page, redirect
from layers.domain import errors

KIND_NAMES = {"amount_off": "满减", "percent_off": "满折", "gift": "满赠", "nth_item": "第N件", "bundle": "打包价"}
STATUS_NAMES = {"UPCOMING": "未开始", "LIVE": "进行中", "ENDED": "已结束", "STOPPED": "已停止"}
TIER_ROWS = 5
TIER_FIELDS = ("threshold", "pieces", "off", "zhe", "gift", "price")
_YUAN = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_ZHE = re.compile(r"[0-9](?:\.[0-9])?")
_COUNT = re.compile(r"[0-9]{1,4}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a product id as the shop makes them


# -- reading the form ---------------------------------------------------------------------------

def _posted() -> dict[str, list[str]]:
    raw = bp.current_request.raw_body or b""
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: dict, key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def typed(form: dict) -> dict:
    """The form as typed, to show again."""
    return {"name": _one(form, "name"), "kind": _one(form, "kind") or "amount_off",
            "tiers": [{f: _one(form, f"t{i}_{f}") for f in TIER_FIELDS} for i in range(TIER_ROWS)],
            "product_ids": list(dict.fromkeys(v for v in form.get("product_ids", []) if v))[:101],
            "category_ids": list(dict.fromkeys(v for v in form.get("category_ids", []) if v))[:101],
            "gift_sku_id": _one(form, "gift_sku_id"), "starts_at": _one(form, "starts_at"),
            "ends_at": _one(form, "ends_at"), "new_customers_only": bool(_one(form, "new_customers_only")),
            "with_coupons": bool(_one(form, "with_coupons")) if form else True}


def fen(text: str) -> int:
    """Yuan as typed (`50`, `99.9`, `¥1,200`) -> fen, exactly."""
    text = text.replace(",", "").removeprefix("¥")
    if not _YUAN.fullmatch(text):
        raise ValueError("请填写金额(元),最多两位小数")
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def zhe(text: str, free: bool = False) -> int:
    """折 as typed (`8`, `8.5`; `0` for free where that is allowed) -> percent paid (80, 85, 0)."""
    text = text.removesuffix("折")
    if not _ZHE.fullmatch(text):
        raise ValueError("请填写折扣,如 8 或 8.5(折)" + (",0 为免费" if free else ""))
    whole, _, tenth = text.partition(".")
    return int(whole) * 10 + int(tenth or 0)


def count(text: str) -> int:
    if not _COUNT.fullmatch(text):
        raise ValueError("请填写整数件数")
    return int(text)


# Which typed fields a kind reads, in the tier's terms: (form field, API field, parse).
_BY_KIND = {
    "amount_off": (("threshold", "threshold", fen), ("off", "value", fen)),
    "percent_off": (("threshold", "threshold", fen), ("pieces", "min_quantity", count), ("zhe", "value", zhe)),
    "gift": (("threshold", "threshold", fen), ("pieces", "min_quantity", count), ("gift", "value", count)),
    "nth_item": (("pieces", "min_quantity", count), ("zhe", "value", lambda t: zhe(t, free=True))),
    "bundle": (("pieces", "min_quantity", count), ("price", "value", fen)),
}


def to_body(values: dict) -> tuple[dict, dict[str, str], list[int]]:
    """The API's body from what was typed; problems by form key; and the form row of each
    of the body's tiers (blank rows are left out)."""
    kind = values["kind"] if values["kind"] in KIND_NAMES else "amount_off"
    problems: dict[str, str] = {}
    tiers, rows = [], []
    for i, row in enumerate(values["tiers"]):
        fields = _BY_KIND[kind]
        if not any(row[form_field] for form_field, _, _ in fields):
            continue
        tier = {}
        for form_field, api_field, parse in fields:
            if not row[form_field]:
                continue
            try:
                tier[api_field] = parse(row[form_field])
            except ValueError as exc:
                problems[f"t{i}_{form_field}"] = str(exc)
        rows.append(i)
        tiers.append(tier)
    if not tiers:
        problems["tiers"] = "请至少填写一档优惠"
    body = {"name": values["name"], "kind": kind, "tiers": tiers,
            "scope": {"product_ids": values["product_ids"], "category_ids": values["category_ids"]},
            "starts_at": _beijing(values["starts_at"]) or "", "ends_at": _beijing(values["ends_at"]) or "",
            "new_customers_only": values["new_customers_only"], "with_coupons": values["with_coupons"]}
    if kind == "gift":
        body["gift_sku_id"] = values["gift_sku_id"] or None
    for key, said in (("name", "请填写活动名称"), ("starts_at", "请选择开始时间"), ("ends_at", "请选择结束时间")):
        if not values[key]:
            problems[key] = said
    return body, problems, rows


# -- what the service refused, beside its field ---------------------------------------------------

_TIER_FIELD = {("amount_off", "value"): "off", ("percent_off", "value"): "zhe", ("gift", "value"): "gift",
               ("nth_item", "value"): "zhe", ("bundle", "value"): "price"}


def field_key(path, kind: str, rows: list[int]) -> str:
    """The form's key for a path of the API's body (("tiers", 1, "value") -> "t2_off")."""
    path = tuple(path or ())
    if not path:
        return "_"
    head = path[0]
    if head in ("name", "starts_at", "ends_at", "gift_sku_id", "kind"):
        return head
    if head == "scope":
        return "scope"
    if head == "tiers":
        if len(path) < 2 or not isinstance(path[1], int):
            return "tiers"
        row = rows[path[1]] if path[1] < len(rows) else path[1]
        if len(path) == 2:
            return f"t{row}"
        field = path[2]
        if field == "threshold":
            return f"t{row}_threshold"
        if field == "min_quantity":
            return f"t{row}_pieces"
        return f"t{row}_{_TIER_FIELD.get((kind, field), 'off')}"
    return "_"


def _money_or_count(kind: str, field: str, value: int) -> str:
    if field == "threshold" or (field == "value" and kind in ("amount_off", "bundle")):
        return f"{value // 100}" + (f".{value % 100:02d}".rstrip("0") if value % 100 else "") + " 元"
    if field == "value" and kind in ("percent_off", "nth_item"):
        return f"{value // 10}" + (f".{value % 10}" if value % 10 else "") + " 折"
    return f"{value} 件"


def refusal(details: dict, kind: str) -> str:
    """A domain refusal of a promotion (layers/domain/promotion.py `promotion_from`) in Chinese."""
    reason, path = details.get("reason"), tuple(details.get("path") or ())
    field = path[-1] if path else ""
    if reason == "range" and path[:1] == ("tiers",) and "low" in details:
        low, high = details["low"], details["high"]
        if kind == "amount_off" and field == "value":
            return f"减免金额须小于门槛,在 {_money_or_count(kind, field, low)} 到 {_money_or_count(kind, field, high)} 之间"
        return f"须在 {_money_or_count(kind, field, low)} 到 {_money_or_count(kind, field, high)} 之间"
    if reason == "range" and path[:1] == ("scope",):
        return "所选商品或分类太多(各最多 100 个)"
    return {
        "condition": {"amount_off": "满减按金额门槛:请填写满多少元",
                      "nth_item": "第N件请填写第几件(2 或以上),不填金额",
                      "bundle": "打包价请填写几件(2 或以上),不填金额"}.get(
            kind, "按金额或按件数二选一:只填一个"),
        "duplicate": "有两档的条件相同", "order": {"ends_at": "结束时间须晚于开始时间"}.get(
            field, "条件更高的一档须给更多优惠"),
        "past": "结束时间须在现在之后", "required": "满赠请选择赠品", "name": "请填写活动名称(最多 30 个字)",
        "format": "请选择时间", "type": "填写的值无效",
    }.get(reason, "填写的值无效")


def _validation_message(error: dict) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字"
    if kind in ("string_too_short", "missing"):
        return "请填写"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "超出可填范围"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项"
    if kind == "too_short":
        return "请至少填写一档优惠"
    return "填写的值无效"


# -- the page -------------------------------------------------------------------------------------

def status_of(p: dict, now: str) -> str:
    if p["status"] == "STOPPED":
        return "STOPPED"
    if p["live"]:
        return "LIVE"
    return "UPCOMING" if p["starts_at"] > now else "ENDED"


def tiers_in_words(p: dict) -> str:
    return p.get("label") or ""


def _chosen_products(ids: list[str]) -> list[dict]:
    """The products ticked, by title (an id the shop never made is dropped, not shown)."""
    out = []
    for product_id in ids:
        if not _ID.fullmatch(product_id):
            continue
        try:
            out.append({"id": product_id, "title": wiring.catalog().get_product_admin(product_id)["title"]})
        except errors.NotFound:
            continue
    return out


def _page(ctx, values: dict, status: int = 200, problems: dict | None = None, refused: str | None = None):
    from functions._api import decode_cursor, encode_cursor
    from layers.clock import iso

    items, next_key = wiring.promotions().page(20, decode_cursor(_query_cursor()))
    now = iso(wiring.clock().now())
    for p in items:
        p["state"] = status_of(p, now)
    return ctx.page("promotions.html", status, promotions=items, next_cursor=encode_cursor(next_key),
                    values=values, problems=problems or {}, refused=refused, kinds=KIND_NAMES,
                    states=STATUS_NAMES, rows=range(TIER_ROWS), tree=wiring.categories().tree()["items"],
                    chosen_products=_chosen_products(values["product_ids"]))


def _query_cursor() -> str | None:
    return (bp.current_request.query_params or {}).get("cursor") or None


@console_page("/console/promotions")
def promotions_page(ctx):
    return _page(ctx, typed({}))


@console_page("/console/promotions", methods=("POST",))
def promotions_create(ctx):
    values = typed(_posted())
    body, problems, rows = to_body(values)
    kind = body["kind"]
    if problems:
        return _page(ctx, values, 400, problems)
    try:
        made = wiring.promotions().create(schemas.PromotionInput.model_validate(body))
    except errors.InvalidRequest as exc:
        return _page(ctx, values, 400, {field_key(exc.details.get("path"), kind, rows): refusal(exc.details, kind)})
    except errors.LimitExceeded:
        return _page(ctx, values, 409, refused="同时进行中和未开始的促销最多 50 个:请先停止一个,或等一个结束(本次没有保存)")
    except Exception as exc:
        from functions._api import is_validation_error

        if not is_validation_error(exc):
            raise
        found = {}
        for error in exc.errors():
            found.setdefault(field_key(error.get("loc"), kind, rows), _validation_message(error))
        return _page(ctx, values, 400, found)
    wiring.operators().audit(ctx.session, "promotion.create", made["id"], None, f"{made['name']}:{made['label']}")
    return redirect("/console/promotions", flash="created")


@console_page("/console/promotions/{promotion_id}/stop", methods=("POST",))
def promotions_stop(ctx, promotion_id):
    stopped = wiring.promotions().stop(promotion_id)
    wiring.operators().audit(ctx.session, "promotion.stop", promotion_id, None, stopped["name"])
    return redirect("/console/promotions", flash="stopped")


@console_page("/console/pickers/products")
def product_options(ctx):
    """The product picker's boxes: those ticked (kept when the search changes) and the
    products whose title has the text typed."""
    q = ((bp.current_request.query_params or {}).get("product_q") or "").strip()[:60]
    params = bp.current_request.query_params
    asked = params.getlist("product_ids") if params and "product_ids" in params else []
    ticked = list(dict.fromkeys(v for v in asked if _ID.fullmatch(v)))[:100]
    found: dict[str, dict] = {}
    for s in wiring.catalog().search_skus(q, limit=60):
        if s["product_id"] in ticked:
            continue
        have = found.setdefault(s["product_id"], {"id": s["product_id"], "title": s["title"],
                                                  "active": s["active"], "price": s["price"]})
        have["price"] = min(have["price"], s["price"])  # two products of one title told apart by price
    return ctx.page("_product_options.html", chosen=_chosen_products(ticked), found=list(found.values())[:20], q=q)
