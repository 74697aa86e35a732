"""Schemathesis over the generated OpenAPI document (openapi/openapi.json),
against the app served as `make dev` serves it (local/dev.py's threaded server, here in
this process on the test session's DynamoDB Local, queues and WeChat sandbox).

Every operation, with valid (positive) and invalid (negative) examples, each example
sent as an anonymous caller, as a shopper and as the operator: never a 5xx, and every
answer matches the document (status code, content type, headers, body schema); an
invalid request is refused with a 4xx."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = 25  # per operation and mode (positive, negative); each sent as three callers

schema = schemathesis.openapi.from_path(DOC)
# Unknown query parameters are ignored, as API Gateway passes them on: not a refusal to test.
schema.config.generation.update(allow_extra_parameters=False)
# The console's pages are HTML forms for a browser, signed in with a session
# cookie and a CSRF token: tests/browser drives them; this test is the JSON API's.
schema = schema.exclude(path_regex="^/console")
POOL = ThreadPoolExecutor(max_workers=3, thread_name_prefix="schemathesis")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture(scope="module", autouse=True)
def shop_rules_kept():
    """Schemathesis PUTs random (valid) shop rules: a binding time of 0 s, a payout limit of 20
    fen... and a random promotion pool, and POSTs random freight templates (a shop holds at
    most 100) and promotions (at most 50 live). The tests after this module run under the
    rules, pool, templates and live promotions they expect."""
    from functions import wiring
    from layers import clock
    from layers.storage.distribution_pool import POOL_KEY, PoolItem
    from layers.storage.freight import TEMPLATES_KEY, FreightTemplatesItem
    from layers.storage.promotions import LIVE_KEY, PromotionsLiveItem

    repo = wiring.shop_settings_repository()
    before = repo.load_settings(fresh=True)
    try:
        templates = FreightTemplatesItem.get(*TEMPLATES_KEY, consistent_read=True)
    except FreightTemplatesItem.DoesNotExist:
        templates = None
    try:
        promotions = PromotionsLiveItem.get(*LIVE_KEY, consistent_read=True)
    except PromotionsLiveItem.DoesNotExist:
        promotions = None
    try:  # the promotion pool: a random list (even an empty one) would refuse later tests' shares
        pool = PoolItem.get(*POOL_KEY, consistent_read=True)
    except PoolItem.DoesNotExist:
        pool = None
    yield
    repo.save_settings(before, clock.now_iso())
    if pool is not None:
        pool.save()
    else:
        PoolItem(*POOL_KEY).delete()
    if templates is not None:
        templates.save()
    else:
        FreightTemplatesItem(*TEMPLATES_KEY).delete()
    if promotions is not None:  # a version past every write made meanwhile: placement reads it as it was
        promotions.version = int(PromotionsLiveItem.get(*LIVE_KEY, consistent_read=True).version or 0) + 1
        promotions.save()
    else:
        PromotionsLiveItem(*LIVE_KEY).delete()
    wiring.reset()


@pytest.fixture(scope="module")
def base_url(app):
    from chalice.config import Config

    from local.dev import crowd_server
    from local.services import free_port

    port = free_port()
    server = crowd_server(app, Config.create(chalice_app=app, lambda_timeout=30), "127.0.0.1", port)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def callers(base_url):
    import os
    import uuid

    r = requests.post(f"{base_url}/auth/login", json={"code": f"fuzz-{uuid.uuid4().hex}"}, timeout=10)
    r.raise_for_status()
    return {"anonymous": {}, "shopper": {"Authorization": f"Bearer {r.json()['token']}"},
            "operator": {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}"}}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_documented_whoever_calls(case, base_url, callers):
    negated = {loc.value for loc, info in (case.meta.components.items() if case.meta else ())
               if info.mode == GenerationMode.NEGATIVE}
    # A case whose headers break the document (no Authorization where it is required) is
    # sent as generated; adding a caller's credentials would make it valid again.
    if "header" in negated:
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
        return
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}

    def call(who: str) -> None:
        case.call_and_validate(base_url=base_url, headers={**headers, **callers[who]}, checks=CHECKS, timeout=30)

    # The three callers at once (the server is threaded): a third of the wall time.
    for future in [POOL.submit(call, who) for who in ("anonymous", "shopper", "operator")]:
        future.result()
