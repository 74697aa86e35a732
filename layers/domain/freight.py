"""Freight templates (运费模板) and the shipping fee of an order: pure rules on integer fen.

A template charges by the piece or by the gram: the first `first` units cost `first_fee`,
and each further `additional` units started cost `additional_fee` (1,200 g at 1,000 g for
¥8 then ¥3 a 500 g started is ¥8 + ¥3 = ¥11). A region (a list of provinces) may charge
otherwise; a free rule (包邮) makes the template's part 0 where its conditions all hold;
an `undeliverable` province cannot be shipped to at all (422 UNDELIVERABLE).

An order's lines are grouped by their SKU's template, and each group is charged once
(two SKUs of one template are counted together). Lines without a template (or naming one
that no longer exists) are one part at the shop's flat fee (`pricing.shipping_for`), so
a shop that never made a template charges exactly what it always did.

Provinces are named as WeChat's address picker (`wx.chooseAddress`' `provinceName`) gives
them; `province_of` also takes the short forms people type (`广东`, `内蒙古`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from layers.domain import errors

# The 34 province-level divisions as WeChat's picker names them. Their order is stored:
# a template keeps its provinces by their position here (layers/storage/freight.py), so a
# name is only ever added at the end, never moved or removed.
PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区",
    "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省",
    "河南省", "湖北省", "湖南省",
    "广东省", "广西壮族自治区", "海南省",
    "重庆市", "四川省", "贵州省", "云南省", "西藏自治区",
    "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "台湾省", "香港特别行政区", "澳门特别行政区",
)

# The provinces as a merchant thinks of them when ticking boxes (the console's pickers).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("华北", ("北京市", "天津市", "河北省", "山西省", "内蒙古自治区")),
    ("东北", ("辽宁省", "吉林省", "黑龙江省")),
    ("华东", ("上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省")),
    ("华中", ("河南省", "湖北省", "湖南省")),
    ("华南", ("广东省", "广西壮族自治区", "海南省")),
    ("西南", ("重庆市", "四川省", "贵州省", "云南省", "西藏自治区")),
    ("西北", ("陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区")),
    ("港澳台", ("台湾省", "香港特别行政区", "澳门特别行政区")),
)

CHARGE_BY = ("piece", "weight")
RULES = ("default", "region", "free", "flat", "flat_free")
MAX_TEMPLATES = 100  # a shop's templates live in one item (layers/storage/freight.py)
MAX_FREE_RULES = 10
MAX_NAME = 30
MAX_UNITS = 1_000_000  # pieces or grams in one step
MAX_FEE = 10_000_000  # ¥100,000 in fen: a fee, a step's fee
MAX_AMOUNT = 100_000_000  # ¥1,000,000: a free rule's goods amount

# What follows a province's short name in the forms people and pickers write.
_SUFFIXES = ("", "省", "市", "自治区", "特别行政区", "壮族自治区", "回族自治区", "维吾尔自治区", "维吾尔族自治区")


def _short(name: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


_BY_SHORT = {_short(p): p for p in PROVINCES}
_INDEX = {p: n for n, p in enumerate(PROVINCES)}


def province_of(name: str | None) -> str | None:
    """A province as the picker names it (`广东省`), or a short form (`广东`, `内蒙古`,
    `广西自治区`), -> its name in PROVINCES; None for None or a name that is no province."""
    if not name or not isinstance(name, str):
        return None
    text = "".join(unicodedata.normalize("NFKC", name).split())
    if text in _INDEX:
        return text
    for length in (3, 2):  # 黑龙江, 内蒙古; the others are two characters
        canonical = _BY_SHORT.get(text[:length])
        if canonical is not None and text[length:] in _SUFFIXES:
            return canonical
    return None


def in_order(provinces) -> tuple[str, ...]:
    """Provinces without repeats, in PROVINCES' order."""
    return tuple(sorted(set(provinces), key=_INDEX.__getitem__))


# -- templates ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Charge:
    """The first `first` units (pieces, or grams) for `first_fee`; then each further
    `additional` units started for `additional_fee` (`additional` 0: nothing further)."""

    first: int
    first_fee: int
    additional: int
    additional_fee: int


@dataclass(frozen=True)
class RegionCharge:
    provinces: tuple[str, ...]
    charge: Charge


@dataclass(frozen=True)
class FreeRule:
    """包邮: the template's part is 0 where every condition given holds. No provinces:
    everywhere; `min_amount`: the group's goods at list price, in fen; `min_pieces`."""

    provinces: tuple[str, ...] = ()
    min_amount: int | None = None
    min_pieces: int | None = None


@dataclass(frozen=True)
class FreightTemplate:
    template_id: str
    name: str
    charge_by: str  # piece | weight
    default: Charge
    regions: tuple[RegionCharge, ...] = ()
    free: tuple[FreeRule, ...] = ()
    undeliverable: tuple[str, ...] = ()
    version: int = 1
    created_at: str = ""
    updated_at: str = ""


class FreightRepository(Protocol):
    """A shop's templates, all in one item: read whole, written by compare-and-set."""

    def all(self) -> dict[str, FreightTemplate]: ...

    def get(self, template_id: str) -> FreightTemplate | None: ...

    def create(self, template: FreightTemplate) -> FreightTemplate:
        """Add it; 409 LIMIT_EXCEEDED past MAX_TEMPLATES, 409 INVALID_STATE if the id exists.
        A concurrent write of another template is retried, never lost."""

    def update(self, template: FreightTemplate, expected_version: int) -> FreightTemplate:
        """Replace it while it is still at `expected_version` (409 INVALID_STATE otherwise,
        404 when there is none). A concurrent write of another template is retried."""


# -- pricing an order's freight -------------------------------------------------------------

@dataclass(frozen=True)
class FreightLine:
    sku_id: str
    template_id: str | None
    quantity: int
    amount: int  # unit_price * quantity, in fen
    weight_g: int | None


@dataclass(frozen=True)
class FreightPart:
    """One template's share of an order (or the flat part): what it counted and charged."""

    template_id: str | None
    name: str | None
    pieces: int
    weight_g: int
    amount: int
    fee: int
    rule: str  # default | region | free | flat | flat_free


@dataclass(frozen=True)
class Freight:
    total: int
    parts: tuple[FreightPart, ...]

    def as_dict(self) -> dict:
        """What an order stores (`order.freight`) and the console shows."""
        return {"total": self.total,
                "parts": [{"template_id": p.template_id, "name": p.name, "pieces": p.pieces, "weight_g": p.weight_g,
                           "amount": p.amount, "fee": p.fee, "rule": p.rule} for p in self.parts]}


def fee_of(charge: Charge, units: int) -> int:
    """The fee for `units`: 0 for none; the first fee; each further `additional` started."""
    if units <= 0:
        return 0
    further = max(0, units - charge.first)
    steps = -(-further // charge.additional) if charge.additional > 0 else 0
    return charge.first_fee + steps * charge.additional_fee


def free_applies(rule: FreeRule, province: str | None, amount: int, pieces: int) -> bool:
    if rule.provinces and province not in rule.provinces:
        return False
    if rule.min_amount is not None and amount < rule.min_amount:
        return False
    return rule.min_pieces is None or pieces >= rule.min_pieces


def _depends_on_province(template: FreightTemplate) -> bool:
    return bool(template.regions or template.undeliverable or any(f.provinces for f in template.free))


def _template_part(template: FreightTemplate, lines: list[FreightLine], province: str | None) -> FreightPart:
    charge, rule = template.default, "default"
    if province is not None:
        if province in template.undeliverable:
            raise errors.Undeliverable(f"{template.name} is not delivered to {province}", province=province,
                                       template_id=template.template_id)
        region = next((r for r in template.regions if province in r.provinces), None)
        if region is not None:
            charge, rule = region.charge, "region"
    pieces = sum(line.quantity for line in lines)
    weight = sum((line.weight_g or 0) * line.quantity for line in lines)
    amount = sum(line.amount for line in lines)
    fee = fee_of(charge, pieces if template.charge_by == "piece" else weight)
    if any(free_applies(f, province, amount, pieces) for f in template.free):
        fee, rule = 0, "free"
    return FreightPart(template_id=template.template_id, name=template.name, pieces=pieces, weight_g=weight,
                       amount=amount, fee=fee, rule=rule)


def freight(lines: list[FreightLine], templates: Mapping[str, FreightTemplate], province: str | None, *,
            flat_fee: int, free_threshold: int, flat_goods: int) -> Freight:
    """An order's shipping: one part per template its lines name (lines of one template
    counted together), and one flat part for the lines without one (or naming a template
    that is not in `templates`), charged `pricing.shipping_for(flat_goods, flat_fee,
    free_threshold)`. Parts come in the order of their first line.

    `province` is canonicalized with `province_of`; None or empty (no address known yet:
    a preview) skips the undeliverable check and charges each template's default.
    Raises `errors.Undeliverable` for a province a template does not deliver to, and for
    a name that is no province where a template's price depends on the province: charging
    its default there could ship at the wrong fee, or where the shop does not deliver."""
    from layers.domain.pricing import shipping_for

    where = province_of(province)
    unplaced = where is None and isinstance(province, str) and province.strip() != ""
    groups: dict[str | None, list[FreightLine]] = {}
    for line in lines:
        key = line.template_id if line.template_id is not None and line.template_id in templates else None
        groups.setdefault(key, []).append(line)
    parts = []
    for template_id, group in groups.items():
        if template_id is None:
            fee = shipping_for(flat_goods, flat_fee, free_threshold)
            parts.append(FreightPart(template_id=None, name=None, pieces=sum(g.quantity for g in group),
                                     weight_g=sum((g.weight_g or 0) * g.quantity for g in group),
                                     amount=sum(g.amount for g in group), fee=fee,
                                     rule="flat" if fee else "flat_free"))
        else:
            template = templates[template_id]
            if unplaced and _depends_on_province(template):
                raise errors.Undeliverable(f"{province!r} is not a province: choose the address's province "
                                           f"from the list to price {template.name}", province=province,
                                           template_id=template.template_id, reason="unknown_province")
            parts.append(_template_part(template, group, where))
    return Freight(total=sum(p.fee for p in parts), parts=tuple(parts))


# -- a template from the API's body ---------------------------------------------------------
# A refusal names where (`path`, e.g. ("regions", 1, "provinces")) and why (`reason`: range,
# type, name, charge_by, unknown_province, no_province, province_twice, undeliverable_charged,
# no_condition, too_many) in its details, beside its message: the console words it in
# Chinese beside the field it is about.

def _where(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _bad(path: tuple, reason: str, text: str, **details):
    return errors.InvalidRequest(f"{_where(path)}: {text}", path=path, reason=reason, **details)


def _int(value, path: tuple, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, "type", "an integer")
    if not low <= value <= high:
        raise _bad(path, "range", f"from {low} to {high}", low=low, high=high)
    return value


def _charge(body, path: tuple) -> Charge:
    if not isinstance(body, dict):
        raise _bad(path, "type", "an object with first, first_fee, additional, additional_fee")
    return Charge(first=_int(body.get("first"), (*path, "first"), 1, MAX_UNITS),
                  first_fee=_int(body.get("first_fee"), (*path, "first_fee"), 0, MAX_FEE),
                  additional=_int(body.get("additional", 0), (*path, "additional"), 0, MAX_UNITS),
                  additional_fee=_int(body.get("additional_fee", 0), (*path, "additional_fee"), 0, MAX_FEE))


def _provinces(names, path: tuple, required: bool = False) -> tuple[str, ...]:
    if names is None:
        names = []
    if not isinstance(names, list | tuple):
        raise _bad(path, "type", "a list of provinces")
    if required and not names:
        raise _bad(path, "no_province", "at least one province")
    unknown = [str(n) for n in names if province_of(n) is None]
    if unknown:
        raise _bad(path, "unknown_province", f"not a province: {', '.join(unknown[:5])}", provinces=unknown)
    return in_order(province_of(n) for n in names)


def template_from(body: dict, template_id: str, now: str, version: int = 1,
                  created_at: str | None = None) -> FreightTemplate:
    """A template from the API's body, checked: provinces are known (short forms taken),
    none in two regions or both charged and undeliverable, `first` at least 1, no negative
    fee, every free rule has a condition. Raises `errors.InvalidRequest` naming what is wrong."""
    if not isinstance(body, dict):
        raise _bad((), "type", "the template is an object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise _bad(("name",), "name", f"1 to {MAX_NAME} characters")
    charge_by = body.get("charge_by")
    if charge_by not in CHARGE_BY:
        raise _bad(("charge_by",), "charge_by", "piece or weight")
    default = _charge(body.get("default"), ("default",))

    regions, charged = [], {}
    for n, region in enumerate(body.get("regions") or []):
        if not isinstance(region, dict):
            raise _bad(("regions", n), "type", "an object")
        provinces = _provinces(region.get("provinces"), ("regions", n, "provinces"), required=True)
        twice = [p for p in provinces if p in charged]
        if twice:
            raise _bad(("regions", n, "provinces"), "province_twice",
                       f"already in regions[{charged[twice[0]]}]: {', '.join(twice)}", provinces=twice)
        charged.update((p, n) for p in provinces)
        regions.append(RegionCharge(provinces=provinces, charge=_charge(region, ("regions", n))))

    free = []
    rules = body.get("free") or []
    if len(rules) > MAX_FREE_RULES:
        raise _bad(("free",), "too_many", f"at most {MAX_FREE_RULES} rules")
    for n, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise _bad(("free", n), "type", "an object")
        provinces = _provinces(rule.get("provinces"), ("free", n, "provinces"))
        min_amount = rule.get("min_amount")
        min_pieces = rule.get("min_pieces")
        if min_amount is not None:
            min_amount = _int(min_amount, ("free", n, "min_amount"), 1, MAX_AMOUNT)
        if min_pieces is not None:
            min_pieces = _int(min_pieces, ("free", n, "min_pieces"), 1, MAX_UNITS)
        if not provinces and min_amount is None and min_pieces is None:
            raise _bad(("free", n), "no_condition", "give provinces, min_amount or min_pieces (a rule with no "
                                                    "condition would ship everything free: set the fees to 0 instead)")
        free.append(FreeRule(provinces=provinces, min_amount=min_amount, min_pieces=min_pieces))

    undeliverable = _provinces(body.get("undeliverable"), ("undeliverable",))
    both = [p for p in undeliverable if p in charged]
    if both:
        raise _bad(("undeliverable",), "undeliverable_charged", f"also charged in a region: {', '.join(both)}",
                   provinces=both)
    return FreightTemplate(template_id=template_id, name=name.strip(), charge_by=charge_by, default=default,
                           regions=tuple(regions), free=tuple(free), undeliverable=undeliverable, version=version,
                           created_at=created_at or now, updated_at=now)


def short_name(province: str) -> str:
    """A province as people say it in a list (`新疆`, `内蒙古`, `香港`)."""
    return _short(province)


def _charge_view(c: Charge) -> dict:
    return {"first": c.first, "first_fee": c.first_fee, "additional": c.additional,
            "additional_fee": c.additional_fee}


def template_view(t: FreightTemplate) -> dict:
    """The API's JSON of a template (what `template_from` takes back, with its id, version
    and times)."""
    return {"id": t.template_id, "name": t.name, "charge_by": t.charge_by, "default": _charge_view(t.default),
            "regions": [{"provinces": list(r.provinces), **_charge_view(r.charge)} for r in t.regions],
            "free": [{"provinces": list(f.provinces), "min_amount": f.min_amount, "min_pieces": f.min_pieces}
                     for f in t.free],
            "undeliverable": list(t.undeliverable), "version": t.version, "created_at": t.created_at,
            "updated_at": t.updated_at}
