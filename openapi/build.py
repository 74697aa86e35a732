"""Build openapi/openapi.json, the project's one OpenAPI document (`make openapi`; a test
checks it is current and that every route of the app is in it), from:

- openapi/base.json: info, security schemes, shared parameters, responses and schemas;
- openapi/paths/*.json: a fragment per area, with each operation's prose, parameters and
  responses, and the schemas of its answers;
- functions/schemas.py: the request models. Each route of its `REQUEST_MODELS` gets its
  `requestBody` generated from the model's JSON Schema (pydantic, validation mode), and
  the model and those it nests go to `components/schemas` under their class names. A
  fragment describes such an operation but not its body: at most a
  `requestBody.description`, never a schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python openapi/build.py` puts only openapi/ on the path

REF = "#/components/schemas/{model}"


def model_schemas(model) -> dict[str, dict]:
    """A pydantic model's JSON Schema and those of the models it nests, by component name
    (`$defs` hoisted; every `$ref` points into components/schemas)."""
    schema = model.model_json_schema(ref_template=REF)
    nested = schema.pop("$defs", {})
    return {model.__name__: schema, **nested}


def request_bodies() -> tuple[dict[tuple[str, str], dict], dict[str, dict]]:
    """(path, method) -> its generated requestBody, and the component schemas they use."""
    from functions.schemas import REQUEST_MODELS

    bodies: dict[tuple[str, str], dict] = {}
    components: dict[str, dict] = {}
    for (path, method), model in REQUEST_MODELS.items():
        schemas = model_schemas(model)
        for name, schema in schemas.items():
            if components.setdefault(name, schema) != schema:
                raise SystemExit(f"functions/schemas.py: two different request models are called {name}")
        bodies[(path, method)] = {
            # A model whose every field is optional takes no body at all ({} is assumed); one
            # that needs one of two fields (`oneOf` their `required`) needs a body.
            "required": _needs_a_body(schemas[model.__name__]),
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    return bodies, components


def _needs_a_body(schema: dict) -> bool:
    return bool(schema.get("required")) or bool(schema.get("oneOf")) and all(
        branch.get("required") for branch in schema["oneOf"])


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

    bodies, components = request_bodies()
    for (path, method), body in bodies.items():
        op = doc["paths"].get(path, {}).get(method)
        if op is None:
            raise SystemExit(f"{method.upper()} {path} has a request model but no fragment describes it")
        written = op.get("requestBody", {})
        if set(written) - {"description"}:
            raise SystemExit(f"{method.upper()} {path}: its requestBody is generated from functions/schemas.py;"
                             " a fragment gives at most its description")
        op["requestBody"] = {**written, **body}
    for name, schema in components.items():
        if name in doc["components"]["schemas"]:
            raise SystemExit(f"schema {name} is generated from functions/schemas.py; do not write it by hand")
        doc["components"]["schemas"][name] = schema

    _path_ids_by_shape(doc)
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc


def _path_ids_by_shape(doc: dict) -> None:
    """every path parameter has the shape functions/_api.py checks before
    anything reaches DynamoDB (400 otherwise), so clients and fuzzers see it too."""
    from functions._ids import PATH_ID_PATTERN

    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    param["schema"] = {**param.get("schema", {}), "type": "string", "pattern": PATH_ID_PATTERN}


def render() -> str:
    return json.dumps(merged(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    out = HERE / "openapi.json"
    out.write_text(render())
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}", file=sys.stderr)
