"""The local runtime (local/runtime.py) does what Lambda and EventBridge Scheduler do in AWS:
SQS batches with partial failures, redelivery and dead-lettering through the queues'
RedrivePolicy from infra/resources.json, schedules in Asia/Shanghai time; and `make dev`
(local/dev.py) serves the API and stops everything it started.

The SQS and schedule tests use small test-only Chalice apps on queues built by
local/bootstrap.py for a stage of their own, so they do not depend on business code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from chalice import Chalice

from local.bootstrap import create_queues, queue_definitions
from local.runtime import Clock, LocalRuntime, eventbridge_cron_to_croniter, load_schedules
from local.services import free_port, wait_for_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queues(sqs):
    """The template's queues for a stage of this test alone, with a 1 s visibility timeout."""
    stage = "rt" + uuid.uuid4().hex[:8]
    env = create_queues(sqs, visibility_timeout=1, stage=stage)
    client = boto3.client("sqs", endpoint_url=sqs)
    names = {qid: q["name"] for qid, q in queue_definitions(stage).items()}
    return {"stage": stage, "env": env, "client": client, "names": names,
            "url": lambda qid: client.get_queue_url(QueueName=names[qid])["QueueUrl"]}


def recording_app(queue: str, behaviour) -> tuple[Chalice, list]:
    app = Chalice(app_name="runtime-test")
    seen: list = []
    lock = threading.Lock()

    @app.on_sqs_message(queue=queue, batch_size=10, name="consumer")
    def consumer(event):
        raw = event.to_dict()
        with lock:
            seen.append((raw, event.context))
        return behaviour(raw)

    return app, seen


def records(seen) -> list[dict]:
    return [r for raw, _ in seen for r in raw["Records"]]


def test_a_message_reaches_its_handler_in_lambdas_event_shape(queues, sqs):
    app, seen = recording_app(queues["names"]["EventsQueue"], lambda raw: None)
    url = queues["url"]("EventsQueue")
    queues["client"].send_message(QueueUrl=url, MessageBody=json.dumps({"event_id": "e1"}),
                                  MessageAttributes={"type": {"DataType": "String", "StringValue": "order.paid"}})
    with LocalRuntime(app, sqs, visibility_timeout_s=1, schedules=False) as runtime:
        runtime.drain(timeout=20)

    [record] = records(seen)
    assert json.loads(record["body"]) == {"event_id": "e1"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + queues["names"]["EventsQueue"])
    assert record["awsRegion"] and record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["type"] == {
        "stringValue": "order.paid", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    context = seen[0][1]
    assert context.aws_request_id and context.function_name == "consumer"
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    assert runtime.queue_depths() == {queues["names"]["EventsQueue"]: 0}


def test_a_failing_record_is_redelivered_then_dead_lettered(queues, sqs):
    def fail_some(raw):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in raw["Records"] if r["body"] == "bad"]}

    app, seen = recording_app(queues["names"]["EventsQueue"], fail_some)
    client, url = queues["client"], queues["url"]("EventsQueue")
    for body in ("good", "bad"):
        client.send_message(QueueUrl=url, MessageBody=body)
    with LocalRuntime(app, sqs, visibility_timeout_s=1, schedules=False) as runtime:
        runtime.drain(timeout=45)

    got = records(seen)
    assert [r["body"] for r in got].count("good") == 1  # reported as done: deleted, never again
    bad = [r for r in got if r["body"] == "bad"]
    max_receive = queue_definitions(queues["stage"])["EventsQueue"]["max_receive_count"]
    assert max_receive == 5
    assert [int(r["attributes"]["ApproximateReceiveCount"]) for r in bad] == list(range(1, max_receive + 1))
    dlq = queues["url"]("EventsDeadLetterQueue")
    dead = client.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ["bad"]


def test_a_handler_that_raises_gets_its_whole_batch_again(queues, sqs):
    calls = []

    def raise_once(raw):
        calls.append(len(raw["Records"]))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"batchItemFailures": []}

    app, seen = recording_app(queues["names"]["SettlementQueue"], raise_once)
    client, url = queues["client"], queues["url"]("SettlementQueue")
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    time.sleep(0.2)
    with LocalRuntime(app, sqs, visibility_timeout_s=1, schedules=False) as runtime:
        runtime.drain(timeout=30)

    by_body: dict[str, list[str]] = {}
    for r in records(seen):
        by_body.setdefault(r["body"], []).append(r["attributes"]["ApproximateReceiveCount"])
    assert set(by_body) == {"m0", "m1", "m2"}
    first_batch = [r["body"] for r in seen[0][0]["Records"]]
    for body in first_batch:  # nothing of the failed batch was deleted: each came back once
        assert by_body[body] == ["1", "2"]
    assert [type(e) for _, e in runtime.errors] == [RuntimeError]


def test_a_malformed_failure_report_fails_the_whole_batch(queues, sqs):
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}])

    app, seen = recording_app(queues["names"]["OrderExpiryQueue"], lambda raw: next(answers, None))
    client, url = queues["client"], queues["url"]("OrderExpiryQueue")
    client.send_message(QueueUrl=url, MessageBody="x")
    with LocalRuntime(app, sqs, visibility_timeout_s=1, schedules=False) as runtime:
        runtime.drain(timeout=20)
    assert [r["attributes"]["ApproximateReceiveCount"] for r in records(seen)] == ["1", "2"]


# ---------------------------------------------------------------------------- schedules


def test_the_templates_schedules_are_the_jobs_in_shanghai_time():
    schedules = {json.loads(s.input)["job"]: s for s in load_schedules()}
    assert set(schedules) == {"close-expired-orders", "settle-commissions", "reconcile", "send-reminders",
                              "relay-outbox", "expire-campaigns",
                              "retry-shipping-uploads", "check-trade-management",
                              "fetch-visitors", "recount-analytics",
                              "expire-groups",
                              "rebuild-listing", "retag-customers", "approve-after-sales",
                              "close-unreturned-after-sales", "expire-pickups",
                              "run-coupon-grants"}
    assert {s.timezone for s in schedules.values()} == {"Asia/Shanghai"}
    assert {s.target for s in schedules.values()} == {"Jobs"}
    after = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # 20:00 in Shanghai
    assert schedules["settle-commissions"].next_after(after) == datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    # Every half hour from 10:00 to 23:30 Shanghai: the job asks again until the bill is made.
    assert schedules["reconcile"].next_after(after) == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert schedules["reconcile"].next_after(datetime(2026, 3, 1, 15, 30, tzinfo=UTC)) == datetime(
        2026, 3, 2, 2, 0, tzinfo=UTC)
    assert schedules["close-expired-orders"].next_after(after) == after + timedelta(minutes=5)
    assert schedules["send-reminders"].next_after(after) == after + timedelta(minutes=10)
    assert schedules["expire-campaigns"].next_after(after) == after + timedelta(minutes=2)


def test_eventbridge_cron_translation():
    assert eventbridge_cron_to_croniter("0/5 * * * ? *") == ("0-59/5 * * * *", "*")
    assert eventbridge_cron_to_croniter("0 9 ? * 2-6 *")[0] == "0 9 * * 1-5"  # MON-FRI
    assert eventbridge_cron_to_croniter("0 9 ? * 1 2027")[0] == "0 9 * * 0"  # Sunday
    assert eventbridge_cron_to_croniter("30 10 15 * ? *")[0] == "30 10 15 * *"
    with pytest.raises(ValueError):
        eventbridge_cron_to_croniter("0 9 * * 1 *")  # one of the day fields must be "?"


def jobs_app() -> tuple[Chalice, list]:
    app = Chalice(app_name="runtime-jobs-test")
    calls: list = []

    @app.lambda_function(name="jobs")
    def jobs(event, context):
        calls.append((event, context.function_name))
        return {"ran": event["job"]}

    return app, calls


def test_a_schedule_fires_through_the_local_scheduler():
    app, calls = jobs_app()
    # 01:59:58 in Shanghai, time running 60x: 02:00 comes within a fraction of a second.
    clock = Clock(start=datetime(2026, 1, 1, 17, 59, 58, tzinfo=UTC), speed=60)
    runtime = LocalRuntime(app, None, schedules=True, clock=clock).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "RelayOutboxSchedule" not in {f[0] for f in runtime.fired}:
            time.sleep(0.05)
    finally:
        runtime.stop()
    fired = {name: (due, result) for name, due, result in runtime.fired}
    assert fired["SettleCommissionsSchedule"] == (datetime(2026, 1, 1, 18, 0, tzinfo=UTC),
                                                 {"ran": "settle-commissions"})
    assert fired["CloseExpiredOrdersSchedule"][0] == datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    assert "ReconcileSchedule" not in fired  # 10:00 Shanghai is hours away
    assert fired["RelayOutboxSchedule"][1] == {"ran": "relay-outbox"}  # rate(1 minute) from start
    assert ({"job": "settle-commissions"}, "jobs") in calls
    assert not runtime.errors


def test_invoke_job_calls_the_jobs_function():
    app, calls = jobs_app()
    runtime = LocalRuntime(app, None, schedules=False)
    assert runtime.invoke_job("reconcile") == {"ran": "reconcile"}
    assert calls == [({"job": "reconcile"}, "jobs")]


def test_the_real_app_has_what_the_runtime_and_template_expect():
    """Every schedule targets a function of the app; every SQS source has its template queue."""
    from chalice.utils import to_cfn_resource_name

    from app import app  # the session's environment is set (tests/conftest.py): nothing starts

    functions = {to_cfn_resource_name(f.name) for f in app.pure_lambda_functions}
    assert {s.target for s in load_schedules()} <= functions
    template_queues = {q["name"] for q in queue_definitions(os.environ["STAGE"]).values()}
    sources = LocalRuntime(app, None, schedules=False).sqs_sources()
    assert len(sources) == 4 and {s.queue for s in sources} <= template_queues  # + analytics


# ---------------------------------------------------------------------------- the API


def test_admin_runs_a_job_on_demand(client, admin_headers):
    r = client.http.post("/admin/jobs/relay-outbox/run", headers=admin_headers)
    assert r.status_code == 200, r.body
    answer = json.loads(r.body)
    assert isinstance(answer, dict) and answer
    r = client.http.post("/admin/jobs/close-expired-orders/run", headers=admin_headers)
    assert r.status_code == 200, r.body
    assert isinstance(json.loads(r.body), dict)


def test_running_a_job_needs_the_admin_key(client):
    r = client.http.post("/admin/jobs/relay-outbox/run", headers={"Authorization": "Bearer not-the-key"})
    assert r.status_code == 401
    assert json.loads(r.body)["error"]["code"]
    r = client.http.post("/admin/jobs/relay-outbox/run")
    assert r.status_code == 401


def test_an_unknown_job_is_404(client, admin_headers):
    r = client.http.post("/admin/jobs/no-such-job/run", headers=admin_headers)
    assert r.status_code == 404
    assert json.loads(r.body)["error"]["code"]


# ---------------------------------------------------------------------------- make dev


def _java_with_port(port: int) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"DynamoDBLocal.jar" in b" ".join(cmd) and str(port).encode() in cmd:
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the Java process")
def test_make_dev_serves_the_api_and_ctrl_c_stops_everything(tmp_path):
    port, ddb_port, sqs_port, box_port = (free_port() for _ in range(4))
    admin_key = "dev-test-" + uuid.uuid4().hex
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "ADMIN_API_KEY": admin_key, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.dev", "--port", str(port), "--fresh", "--no-seed",
         "--env-file", str(tmp_path / ".env.local"), "--dynamodb-port", str(ddb_port),
         "--sqs-port", str(sqs_port), "--sandbox-port", str(box_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for_port(port, timeout=90)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if requests.get(base + "/health", timeout=5).status_code == 200:
                break
            time.sleep(0.2)
        assert requests.get(base + "/health", timeout=5).json() == {"status": "ok"}
        r = requests.post(base + "/admin/jobs/relay-outbox/run", headers={"Authorization": f"Bearer {admin_key}"},
                          timeout=30)
        assert r.status_code == 200, r.text
        assert _java_with_port(ddb_port), "DynamoDB Local should be running"
        # TOKEN_SECRET and PII_KEY were missing: generated and kept for the next start.
        kept = (tmp_path / ".env.local").read_text()
        assert "TOKEN_SECRET=" in kept and "PII_KEY=v1:" in kept
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        reader.join(5)
    text = "".join(output)
    assert proc.returncode == 0, text
    assert "Stopped." in text
    deadline = time.monotonic() + 10
    while _java_with_port(ddb_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _java_with_port(ddb_port), "Ctrl-C must stop DynamoDB Local too"
