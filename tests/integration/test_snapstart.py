"""SnapStart against the test stack (DynamoDB Local, moto's SQS, the WeChat sandbox): a
fresh interpreter imports the app and primes it as Lambda would before the snapshot,
then restores and serves a POST /orders. Priming opens no connection and changes
nothing (the table, the queues, what the sandbox received); it leaves nothing random or
connected in memory that the restore does not renew; the restored container places the
order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from bench.cold_start import LAMBDA_CONTEXT, api_event
from tests.helpers import ADDRESS, create_product, login

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import gc, json, random, socket
opened = []
_connect = socket.socket.connect
def connect(sock, address):
    opened.append(str(address))
    return _connect(sock, address)
socket.socket.connect = connect

import app
from functions import snapstart

snapstart.prime()
primed = {"connections": list(opened)}
objects = gc.get_objects()
# What the restore does not renew must not exist yet: another seeded generator than the
# module's own (random.seed() reseeds that one), a requests session (its pool is not
# dropped), a WeChat access-token holder (its lease owner id is made once).
primed["generators"] = sorted(type(o).__qualname__ for o in objects
                              if isinstance(o, random.Random) and not isinstance(o, random.SystemRandom)
                              and o is not random._inst)
primed["other"] = sorted({type(o).__module__ + "." + type(o).__qualname__ for o in objects
                          if type(o).__qualname__ in ("Session", "AccessTokens")
                          and type(o).__module__.split(".")[0] in ("requests", "layers")})
del objects
print(json.dumps(primed), flush=True)
input()  # the test looks at the table, the queues and the sandbox meanwhile

snapstart.restore()

CONTEXT

answer = app.app(json.loads(EVENT), Context())
print(json.dumps({"status": answer["statusCode"], "body": answer["body"]}))
"""


def _table_items() -> list:
    from layers.aws import client
    from layers.config import settings

    ddb = client("dynamodb", region_name=settings().aws_region, endpoint_url=settings().dynamodb_endpoint)
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=settings().table_name, ConsistentRead=True):
        items += page["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def _queue_depths() -> dict:
    from layers.aws import client
    from layers.config import settings

    sqs = client("sqs", region_name=settings().aws_region, endpoint_url=os.environ["SQS_ENDPOINT"])
    urls = [settings().order_expiry_queue_url, settings().events_queue_url]
    return {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesDelayed"])
            ["Attributes"] for u in urls}


def _order_event(sku_id: str, auth: str) -> dict:
    body = json.dumps({"items": [{"sku_id": sku_id, "quantity": 1}], "address": ADDRESS}, ensure_ascii=False)
    return api_event("POST", "/orders", body, {"Authorization": auth, "Idempotency-Key": uuid.uuid4().hex})


def test_priming_changes_nothing_and_a_restored_container_places_the_order(client, admin_headers, sandbox):
    sku_id = create_product(client, admin_headers, price=990, stock=5)["skus"][0]["id"]
    auth = login(client)["Authorization"]
    table, queues, received = _table_items(), _queue_depths(), len(sandbox.requests_log)
    event = _order_event(sku_id, auth)

    child = subprocess.Popen([sys.executable, "-c", _CHILD.replace("CONTEXT", LAMBDA_CONTEXT).replace("EVENT", repr(json.dumps(event)))],
                             cwd=ROOT, env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read()[-4000:]
        # Primed (the app imported, priming run, nothing served): no connection opened,
        # nothing changed anywhere, nothing left that the restore would not renew.
        assert json.loads(line) == {"connections": [], "generators": [], "other": []}
        assert _table_items() == table
        assert _queue_depths() == queues
        assert len(sandbox.requests_log) == received
        # Restored, then its first request: the order is placed as by any container.
        out, err = child.communicate("\n", timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err[-4000:]
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["status"] == 201, answer["body"]
    order = json.loads(answer["body"])
    assert order["status"] == "PENDING_PAYMENT" and order["payment"]
    r = client.http.get(f"/orders/{order['id']}", headers={"Authorization": auth})
    assert r.status_code == 200 and json.loads(r.body)["status"] == "PENDING_PAYMENT"
