"""The handler families. `schemas` (the request models) loads on first use: pydantic and
the models are about 90 ms of a cold start (issue 16), and a route that parses no body
(GET /products) never needs them. `importlib.util.LazyLoader` is the standard library's
way to do that: `from functions import schemas` binds the module, and its first attribute
access runs it."""

import importlib.util
import sys


def _lazy(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


schemas = _lazy("functions.schemas")
