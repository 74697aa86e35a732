"""Freight templates (运费模板): operators make and change them; products name one.

What a template charges is in layers/domain/freight.py; where the templates live (one item,
written by compare-and-set) in layers/storage/freight.py. Pricing an order's freight is
the order placement's (it reads the templates in its own batch).
"""

from __future__ import annotations

from typing import Any

from layers.clock import iso
from layers.domain import errors
from layers.domain.freight import FreightRepository, FreightTemplate, template_from, template_view

# `body` below is the route's FreightTemplateInput (functions/schemas.py), validated there.


class FreightService:
    def __init__(self, *, freight: FreightRepository, clock, new_id):
        self.freight = freight
        self.clock = clock
        self.new_id = new_id

    def all(self) -> list[FreightTemplate]:
        """Every template, oldest first (the console's list and pickers)."""
        return list(self.freight.all().values())

    def page(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """A page of templates, oldest first (a shop has at most 100)."""
        templates = self.all()
        start = int((cursor or {}).get("o", 0))
        views = [template_view(t) for t in templates[start:start + limit]]
        return views, ({"o": start + limit} if start + limit < len(templates) else None)

    def get(self, template_id: str) -> dict:
        template = self.freight.get(template_id)
        if template is None:
            raise errors.NotFound("no such freight template")
        return template_view(template)

    def create(self, body: Any) -> dict:
        now = iso(self.clock.now())
        template = template_from(_fields(body), self.new_id("ft"), now)
        return template_view(self.freight.create(template))

    def update(self, template_id: str, body: Any) -> dict:
        """The whole template replaced. With `version` (the one the operator read), only while
        it is still that (409 INVALID_STATE otherwise); without, the current one is replaced,
        read again if another edit of it lands in between."""
        expected = getattr(body, "version", None)
        fields = _fields(body)
        for _ in range(3):
            current = self.freight.get(template_id)
            if current is None:
                raise errors.NotFound("no such freight template")
            read = expected if expected is not None else current.version
            template = template_from(fields, template_id, iso(self.clock.now()), version=read + 1,
                                     created_at=current.created_at)
            try:
                return template_view(self.freight.update(template, read))
            except errors.InvalidState:
                if expected is not None:
                    raise
        raise errors.InvalidState("the freight template keeps changing; read it again")


def _fields(body: Any) -> dict:
    data = body.model_dump() if hasattr(body, "model_dump") else dict(body)
    data.pop("version", None)
    return data
