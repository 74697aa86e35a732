"""What a cold start loads. Importing the app (every Lambda's first step) loads
no SDK, no validation library and no aggregate: each route loads what it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "botocore", "pynamodb", "cryptography", "requests", "wechatpy", "jinja2", "urllib3")


def _modules_after(code: str) -> set[str]:
    env = {**os.environ, "SHOP_TABLE": os.environ.get("SHOP_TABLE", "shop")}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_app_loads_no_sdk_no_pydantic_and_no_aggregate():
    loaded = _modules_after("import app")
    # (Powertools imports botocore's package itself, a few lines, for its user agent.)
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY} - {"botocore"}
    assert not heavy, sorted(heavy)
    layers = {m for m in loaded if m.startswith("layers.")}
    assert layers <= {"layers.auth", "layers.config", "layers.domain", "layers.domain.errors",
                      "layers.domain.payment_gateway", "layers.observability", "layers.queues"}, layers


def test_the_console_names_the_books_as_the_members_domain_does():
    from functions.console import members as console_members
    from layers.domain import members

    assert console_members.BOOKS == (members.BALANCE, members.POINTS)
