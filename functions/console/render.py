"""The console's Jinja2 environment, imported on the console's first page only,
so the JSON API's cold starts do not load Jinja2. (A module of its own so that `make
package`, which keeps what the modules of functions/ import, keeps Jinja2.)"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment(filters: dict, globals_: dict) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(filters)
    env.globals.update(globals_)
    return env
