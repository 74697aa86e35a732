"""In-memory twin of layers/storage/freight.py: every template in one value, ("freight",) ->
(templates by id, version), written by compare-and-set on the version, a lost write redone."""

from __future__ import annotations

from layers.domain import errors
from layers.domain.freight import MAX_TEMPLATES, FreightTemplate
from tests.fakes.memory import MemoryStore

_KEY = ("freight",)


class MemoryFreightRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _read(self) -> tuple[dict[str, FreightTemplate], int | None]:
        found = self.store.get(_KEY)
        return (dict(found[0]), found[1]) if found is not None else ({}, None)

    def _write(self, templates: dict[str, FreightTemplate], read_version: int | None) -> bool:
        with self.store.lock:
            found = self.store.items.get(_KEY)
            if (found[1] if found is not None else None) != read_version:
                return False
            self.store.items[_KEY] = (dict(templates), (read_version or 0) + 1)
            return True

    def all(self) -> dict[str, FreightTemplate]:
        return self._read()[0]

    def get(self, template_id: str) -> FreightTemplate | None:
        return self.all().get(template_id)

    def _change(self, change) -> FreightTemplate:
        for _ in range(10):
            templates, version = self._read()
            written = change(templates)
            if self._write(templates, version):
                return written
        raise errors.RateLimited("the freight templates are being changed; try again", retry_after=1)

    def create(self, template: FreightTemplate) -> FreightTemplate:
        def add(templates):
            if template.template_id in templates:
                raise errors.InvalidState(f"freight template {template.template_id} exists")
            if len(templates) >= MAX_TEMPLATES:
                raise errors.LimitExceeded(f"a shop has at most {MAX_TEMPLATES} freight templates")
            templates[template.template_id] = template
            return template

        return self._change(add)

    def update(self, template: FreightTemplate, expected_version: int) -> FreightTemplate:
        def replace(templates):
            current = templates.get(template.template_id)
            if current is None:
                raise errors.NotFound("no such freight template")
            if current.version != expected_version:
                raise errors.InvalidState("the freight template changed since it was read",
                                          version=current.version)
            templates[template.template_id] = template
            return template

        return self._change(replace)
