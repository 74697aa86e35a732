"""What the benches share: a local stack started before any `layers` import, and a meter
that counts AWS calls, their capacity units and their time, plus WeChat HTTP time."""

from __future__ import annotations

import base64
import os
import secrets
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Stack:
    stoppers: list = field(default_factory=list)
    sandbox: object = None  # the WeChatSandbox, for benches that drive it

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


def start_stack(with_sqs: bool = True, with_sandbox: bool = True) -> Stack:
    """DynamoDB Local (+ moto's SQS and S3, + WeChat sandbox) with the shop's table, queues and buckets."""
    from local.bootstrap import create_buckets, create_queues, create_tables
    from local.services import DynamoDBLocal, MotoServer, local_aws_env

    local_aws_env()
    os.environ.setdefault("TOKEN_SECRET", secrets.token_hex(16))
    os.environ.setdefault("PII_KEY", "v1:" + base64.b64encode(secrets.token_bytes(32)).decode())  # sealed addresses
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    stack = Stack()
    print("starting DynamoDB Local ...", file=sys.stderr)
    ddb = DynamoDBLocal()
    ddb.start()
    stack.stoppers.append(ddb.stop)
    os.environ.update({"DYNAMODB_ENDPOINT": ddb.endpoint, "SHOP_TABLE": "shop-bench"})
    create_tables(ddb.endpoint, table_name="shop-bench")
    if with_sqs:
        sqs = MotoServer()
        sqs.start()
        stack.stoppers.append(sqs.stop)
        os.environ["SQS_ENDPOINT"] = sqs.endpoint
        os.environ.update(create_queues(sqs.endpoint))
        # moto's server is S3 too: the buckets a stage has (the listing's snapshot, share
        # codes, images), so a bench measures the path a stage takes.
        os.environ.update(create_buckets(sqs.endpoint))
    if with_sandbox:
        from sandbox.server import WeChatSandbox

        box = WeChatSandbox()
        box.start()
        stack.stoppers.append(box.stop)
        stack.sandbox = box
        os.environ.update(box.env())
    return stack


class CallMeter:
    """Patches botocore, requests (wechatpy) and our WeChat Pay transport while active: per
    operation counts, capacity units
    (asks DynamoDB for ReturnConsumedCapacity=TOTAL) and seconds."""

    def __init__(self) -> None:
        self.data: dict = defaultdict(float)
        self.spans: list = []

    def outside_seconds(self) -> float:
        """Wall time spent waiting on SQS or WeChat and on nothing else (a call that
        overlaps another, or a DynamoDB call, is counted once)."""
        return _union(self.spans) - _union([(s, e) for s, e, kind in self.spans if kind == "dynamodb"])

    def busy_seconds(self) -> float:
        """Wall time inside any AWS or WeChat call."""
        return _union(self.spans)

    def reset(self) -> None:
        self.data = defaultdict(float)
        self.spans = []  # (start, end) of each SQS and WeChat call, which may overlap

    def snapshot(self) -> dict:
        return dict(self.data)

    def __enter__(self):
        import botocore.client
        import requests

        meter = self
        self._orig_call = original = botocore.client.BaseClient._make_api_call
        self._orig_send = original_send = requests.Session.send

        def make_api_call(client, operation, params):
            service = client.meta.service_model.service_name
            if service == "dynamodb" and operation in _CAPACITY_OPS:
                params = {**params, "ReturnConsumedCapacity": "TOTAL"}
            start = time.perf_counter()
            try:
                response = original(client, operation, params)
            finally:
                elapsed = time.perf_counter() - start
                meter.spans.append((start, start + elapsed, service))
                for op in (operation, "*"):
                    meter.data[("count", service, op)] += 1
                    meter.data[("time", service, op)] += elapsed
            if service == "dynamodb":
                cu = _capacity(response.get("ConsumedCapacity"))
                meter.data[("cu", service, operation)] += cu
                meter.data[("cu", service, "*")] += cu
            return response

        def send(session, request, **kwargs):
            start = time.perf_counter()
            try:
                return original_send(session, request, **kwargs)
            finally:
                meter.spans.append((start, time.perf_counter(), "http"))
                meter.data[("time", "http", "wechatpay" if "/v3/" in request.url else "wechat")] += (
                    time.perf_counter() - start)

        from layers.wechat import http as pay_http

        self._orig_pay_request = original_pay_request = pay_http.Http.request

        def pay_request(transport, method, url, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original_pay_request(transport, method, url, *args, **kwargs)
            finally:
                meter.spans.append((start, time.perf_counter(), "http"))
                meter.data[("time", "http", "wechatpay" if "/v3/" in url else "wechat")] += (
                    time.perf_counter() - start)

        botocore.client.BaseClient._make_api_call = make_api_call
        requests.Session.send = send
        pay_http.Http.request = pay_request
        return self

    def __exit__(self, *exc):
        import botocore.client
        import requests

        from layers.wechat import http as pay_http

        botocore.client.BaseClient._make_api_call = self._orig_call
        requests.Session.send = self._orig_send
        pay_http.Http.request = self._orig_pay_request


_CAPACITY_OPS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                 "BatchWriteItem", "TransactWriteItems", "TransactGetItems"}


def _capacity(consumed) -> float:
    if not consumed:
        return 0.0
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(c.get("CapacityUnits", 0) for c in consumed))


def _union(spans) -> float:
    total, end = 0.0, None
    for s, e, *_ in sorted(spans):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total
