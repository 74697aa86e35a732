"""Test session wiring.

The environment is fixed here, at import, before any `layers` module reads it: the
table lives in a DynamoDB Local started for this session (the official jar, never
moto, so conditions and transactions behave as in AWS), SQS in moto's server, and
WeChat in the sandbox, which speaks WeChat's real protocols. Nothing starts until a
test asks for it, so pure unit tests run without Java.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.services import DynamoDBLocal, MotoServer, free_port, local_aws_env  # noqa: E402

_DDB_PORT = free_port()
_SQS_PORT = free_port()
local_aws_env()
os.environ.update({
    "STAGE": "test",
    "SHOP_TABLE": "shop-test",
    "DYNAMODB_ENDPOINT": f"http://127.0.0.1:{_DDB_PORT}",
    "SQS_ENDPOINT": f"http://127.0.0.1:{_SQS_PORT}",
    "ADMIN_API_KEY": "test-admin-" + secrets.token_hex(8),
    "TOKEN_SECRET": secrets.token_hex(32),
    # The key shoppers' addresses are sealed with (layers/storage/pii.py), new each session.
    "PII_KEY": "v1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # -- every test client logs in from 127.0.0.1; tests of the limit set their own.
    "LOGIN_LIMIT_PER_ADDRESS": "1000000",
})
for _name in ("WECHAT_APPID", "WECHAT_APP_SECRET", "WECHATPAY_MCHID", "WECHATPAY_PUBLIC_KEY",
              "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_APIV3_KEY", "WECHATPAY_MERCHANT_PRIVATE_KEY", "PII_KEYS"):
    os.environ.pop(_name, None)

_lock = threading.Lock()
_started: dict[str, object] = {}


def _reset_caches() -> None:
    """Settings changed: every service is built again from the new ones."""
    from functions import wiring
    from layers.config import reset_settings_cache

    reset_settings_cache()
    wiring.reset()


@pytest.fixture(scope="session")
def dynamodb():
    """DynamoDB Local with the shop table, created from infra/resources.json."""
    from local.bootstrap import create_tables

    server = DynamoDBLocal(port=_DDB_PORT)
    server.start()
    create_tables(server.endpoint, table_name=os.environ["SHOP_TABLE"])
    yield server.endpoint
    server.stop()


@pytest.fixture(scope="session")
def sqs():
    """moto's server with the shop's queues (and their dead-letter queues)."""
    from local.bootstrap import create_queues

    server = MotoServer(port=_SQS_PORT)
    server.start()
    os.environ.update(create_queues(server.endpoint))
    # -- moto's server serves S3 too: the share-code bucket --
    from local.bootstrap import create_buckets

    os.environ.update(create_buckets(server.endpoint))
    _reset_caches()
    yield server.endpoint
    server.stop()


@pytest.fixture(scope="session")
def sandbox():
    """The WeChat sandbox; the app's WeChat settings point at it."""
    from sandbox.server import WeChatSandbox

    box = WeChatSandbox()
    box.start()
    os.environ.update(box.env())
    _reset_caches()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def shop(dynamodb, sqs, sandbox):
    """Everything the app needs, started once per session."""
    _reset_caches()
    return {"dynamodb": dynamodb, "sqs": sqs, "sandbox": sandbox}


@pytest.fixture(scope="session")
def app(shop):
    import app as app_module

    return app_module.app


@pytest.fixture
def client(app):
    from chalice.test import Client

    # An empty project dir: the test client must not load .chalice/config.json's
    # environment over the test session's.
    with tempfile.TemporaryDirectory() as project:
        Path(project, ".chalice").mkdir()
        Path(project, ".chalice", "config.json").write_text(json.dumps({"version": "2.0", "app_name": "t"}))
        with Client(app, project_dir=project) as c:
            yield c


@pytest.fixture
def admin_headers():
    return {"Authorization": f"Bearer {os.environ['ADMIN_API_KEY']}", "Content-Type": "application/json"}
