"""Merge openapi/base.json and openapi/paths/*.json into openapi/openapi.json, the
project's one OpenAPI document (`make openapi`; a test checks it is current and that
every route of the app is in it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def merged() -> dict:
    doc = json.loads((HERE / "base.json").read_text())
    for fragment in sorted((HERE / "paths").glob("*.json")):
        part = json.loads(fragment.read_text())
        for path, ops in part.get("paths", {}).items():
            target = doc["paths"].setdefault(path, {})
            clash = set(target) & set(ops)
            if clash:
                raise SystemExit(f"{fragment.name}: {path} {sorted(clash)} described twice")
            target.update(ops)
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if name in doc["components"]["schemas"] and doc["components"]["schemas"][name] != schema:
                raise SystemExit(f"{fragment.name}: schema {name} differs from an earlier one")
            doc["components"]["schemas"][name] = schema
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc


def render() -> str:
    return json.dumps(merged(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    out = HERE / "openapi.json"
    out.write_text(render())
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}", file=sys.stderr)
