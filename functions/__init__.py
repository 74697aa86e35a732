"""The handler families. `schemas` (the request models) loads on first use: pydantic and
the models are about 75 ms of a cold start, and a route that parses no body
(GET /products) never needs them. `from functions import schemas` binds a stand-in whose
first attribute read imports the module (through the import system's own per-module lock,
so two threads' first reads are safe; `importlib.util.LazyLoader` is not, before Python
3.12.3)."""

import importlib


class _LoadedOnFirstUse:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


schemas = _LoadedOnFirstUse("functions.schemas")
