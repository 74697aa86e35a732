"""The OpenAPI document describes every route the app serves, and is current."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_is_built_from_its_fragments():
    import importlib.util

    spec = importlib.util.spec_from_file_location("openapi_build", ROOT / "openapi" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert (ROOT / "openapi" / "openapi.json").read_text() == build.render(), "run `make openapi`"


def test_every_route_is_documented_and_nothing_else():
    import app as app_module

    served = {(path, method.lower()) for path, methods in app_module.app.routes.items() for method in methods}
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented routes the app does not serve"


def test_references_resolve():
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    text = json.dumps(doc)
    import re

    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = doc
        for part in ref.split("/"):
            assert part in node, f"unresolved $ref #/{ref}"
            node = node[part]


def _build():
    import importlib.util

    spec = importlib.util.spec_from_file_location("openapi_build", ROOT / "openapi" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def test_request_bodies_are_the_request_models():
    from functions.schemas import REQUEST_MODELS

    build = _build()
    doc = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    for (path, method), model in REQUEST_MODELS.items():
        body = doc["paths"][path][method]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}, \
            f"{method.upper()} {path}"
        for name, schema in build.model_schemas(model).items():
            assert doc["components"]["schemas"].get(name) == schema, f"{name} is not {model.__name__}'s schema"
    # What the hand-written schemas had lost: bounds, integers, no unknown fields.
    schemas = doc["components"]["schemas"]
    assert schemas["PlaceOrderInput"]["additionalProperties"] is False
    assert schemas["PlaceOrderInput"]["properties"]["items"]["maxItems"] == 50
    quantity = schemas["OrderLineInput"]["properties"]["quantity"]
    assert (quantity["type"], quantity["minimum"], quantity["maximum"]) == ("integer", 1, 999)


def test_every_route_that_reads_a_body_has_a_request_model():
    """A view that parses its body names a model of functions/schemas.py, and that is the
    model REQUEST_MODELS gives its route (so the document shows what is validated)."""
    import ast
    import inspect
    import textwrap

    import app as app_module
    from functions import schemas

    def calls(tree, name):
        return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id == name]

    served = set()
    parsed_in_views = 0
    for path, methods in app_module.app.routes.items():
        for method, entry in methods.items():
            key = (path, method.lower())
            served.add(key)
            view = inspect.unwrap(entry.view_function)
            tree = ast.parse(textwrap.dedent(inspect.getsource(view)))
            for call in calls(tree, "parse_body"):
                parsed_in_views += 1
                arg = call.args[1]
                assert isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) \
                    and arg.value.id == "schemas", f"{method} {path}: parse_body(bp, schemas.<Model>)"
                assert schemas.REQUEST_MODELS.get(key) is getattr(schemas, arg.attr), \
                    f"{method} {path} parses {arg.attr}: REQUEST_MODELS must say so"
            if calls(tree, "json_object"):
                assert key in schemas.REQUEST_MODELS, f"{method} {path} reads a body with no request model"
    assert set(schemas.REQUEST_MODELS) <= served, "REQUEST_MODELS names routes the app does not serve"
    # Every parse_body of functions/ is in a view itself (not a helper the check above misses).
    everywhere = sum(len(calls(ast.parse(f.read_text()), "parse_body"))
                     for f in (ROOT / "functions").rglob("*.py"))  # issue 21: functions/console/ too
    assert everywhere == parsed_in_views


def test_the_document_is_valid_openapi():
    import pytest

    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(json.loads((ROOT / "openapi" / "openapi.json").read_text()))
