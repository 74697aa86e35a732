"""A shop's freight templates, ALL in one item of the shop table.

- pk `FREIGHT`, sk `TEMPLATES` (`TEMPLATES_KEY`): `templates`, every template as one
  compact JSON list (`dump`), and `version`, bumped by every write.

Why one item: placing an order must know the templates of its SKUs, and the order's read is
one strongly consistent BatchGetItem (layers/storage/placement.py); one fixed key joins
that batch whatever templates the SKUs name, without a second round trip. A shop has a
few dozen templates (at most `MAX_TEMPLATES`, 100), so the item stays small.

Every write is compare-and-set on the item's `version`: read, change one template, put
conditioned on the version read. A write that lost to another is read again and redone
(its own template checked again), so two operators editing two templates at once both
keep their edit; two editing the same template are told (409 INVALID_STATE) by the
template's own `version`.

Size: provinces are stored by their position in `PROVINCES` and charges as four
numbers in compact JSON, so the largest template (34 one-province regions, 10 free rules
of all 34 provinces, a 30-character name, every number at its bound) is under 3 KB and
100 of them stay under DynamoDB's 400 KB item limit (tests/contract/test_freight_repository.py
checks it); a usual template is a few hundred bytes.
"""

from __future__ import annotations

import json

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain import errors
from layers.domain.freight import (
    MAX_TEMPLATES,
    PROVINCES,
    Charge,
    FreeRule,
    FreightTemplate,
    RegionCharge,
)
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed

TEMPLATES_KEY = ("FREIGHT", "TEMPLATES")
_ATTEMPTS = 10  # writes lost to other writes, redone before giving up (busy: 429)
_INDEX = {p: n for n, p in enumerate(PROVINCES)}


class FreightTemplatesItem(ShopModel):
    templates = UnicodeAttribute(null=True)  # compact JSON: [encoded template, ...] (`dump`, `encode`)
    version = NumberAttribute(null=True)


def _places(provinces: tuple[str, ...]) -> list[int]:
    return [_INDEX[p] for p in provinces]


def _names(places) -> tuple[str, ...]:
    return tuple(PROVINCES[int(n)] for n in places or ())


def _charge(c: Charge) -> list[int]:
    return [c.first, c.first_fee, c.additional, c.additional_fee]


def _charge_of(values) -> Charge:
    return Charge(*(int(v) for v in values))


def encode(t: FreightTemplate) -> dict:
    """A template as the item stores it: provinces by position, charges as
    `[first, first_fee, additional, additional_fee]`, a free rule as
    `[provinces, min_amount, min_pieces]`."""
    return {"id": t.template_id, "name": t.name, "charge_by": t.charge_by, "default": _charge(t.default),
            "regions": [[_places(r.provinces), _charge(r.charge)] for r in t.regions],
            "free": [[_places(f.provinces), f.min_amount, f.min_pieces] for f in t.free],
            "undeliverable": _places(t.undeliverable), "version": t.version, "created_at": t.created_at,
            "updated_at": t.updated_at}


def decode(d: dict) -> FreightTemplate:
    return FreightTemplate(
        template_id=d["id"], name=d["name"], charge_by=d["charge_by"], default=_charge_of(d["default"]),
        regions=tuple(RegionCharge(_names(p), _charge_of(c)) for p, c in d.get("regions") or ()),
        free=tuple(FreeRule(_names(p), int(a) if a is not None else None, int(n) if n is not None else None)
                   for p, a, n in d.get("free") or ()),
        undeliverable=_names(d.get("undeliverable")), version=int(d.get("version") or 1),
        created_at=d.get("created_at") or "", updated_at=d.get("updated_at") or "")


def dump(templates) -> str:
    """The item's `templates`: compact JSON, Chinese as UTF-8 (pynamodb's JSONAttribute would
    spend six bytes on a character and a space after every comma)."""
    return json.dumps([encode(t) for t in templates], ensure_ascii=False, separators=(",", ":"))


def to_templates(item: FreightTemplatesItem | None) -> dict[str, FreightTemplate]:
    """The shop's templates by id from the item (None: no template was ever made), as read
    here or in another read's batch (order placement's)."""
    if item is None:
        return {}
    return {d["id"]: decode(d) for d in json.loads(item.templates or "[]")}


class DynamoFreightRepository:
    """`layers.domain.freight.FreightRepository` on the shop table. `key` is the item's key
    (tests give one of their own)."""

    def __init__(self, key: tuple[str, str] = TEMPLATES_KEY) -> None:
        self.key = key

    def _read(self) -> tuple[dict[str, FreightTemplate], int | None]:
        """The templates and the item's version (None: no item yet)."""
        try:
            item = FreightTemplatesItem.get(*self.key, consistent_read=True)
        except FreightTemplatesItem.DoesNotExist:
            return {}, None
        return to_templates(item), int(item.version or 0)

    def _write(self, templates: dict[str, FreightTemplate], read_version: int | None) -> bool:
        """Put every template, while the item is still at `read_version`; False when another
        write came first."""
        condition = (FreightTemplatesItem.pk.does_not_exist() if read_version is None
                     else FreightTemplatesItem.version == read_version)
        item = FreightTemplatesItem(*self.key, templates=dump(templates.values()),
                                    version=(read_version or 0) + 1)
        try:
            item.save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def all(self) -> dict[str, FreightTemplate]:
        return self._read()[0]

    def get(self, template_id: str) -> FreightTemplate | None:
        return self.all().get(template_id)

    def _change(self, change) -> FreightTemplate:
        """Read, `change(templates)` (in place; returns the template written, or raises a
        domain error), write conditioned on the version read; redone when another write
        came first."""
        for _ in range(_ATTEMPTS):
            templates, version = self._read()
            written = change(templates)
            if self._write(templates, version):
                return written
        raise errors.RateLimited("the freight templates are being changed; try again", retry_after=1)

    def create(self, template: FreightTemplate) -> FreightTemplate:
        def add(templates: dict[str, FreightTemplate]) -> FreightTemplate:
            if template.template_id in templates:
                raise errors.InvalidState(f"freight template {template.template_id} exists")
            if len(templates) >= MAX_TEMPLATES:
                raise errors.LimitExceeded(f"a shop has at most {MAX_TEMPLATES} freight templates")
            templates[template.template_id] = template
            return template

        return self._change(add)

    def update(self, template: FreightTemplate, expected_version: int) -> FreightTemplate:
        def replace(templates: dict[str, FreightTemplate]) -> FreightTemplate:
            current = templates.get(template.template_id)
            if current is None:
                raise errors.NotFound("no such freight template")
            if current.version != expected_version:
                raise errors.InvalidState(
                    f"the freight template changed since it was read (version {current.version}, not "
                    f"{expected_version}): read it again", version=current.version)
            templates[template.template_id] = template
            return template

        return self._change(replace)
