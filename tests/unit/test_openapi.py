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
