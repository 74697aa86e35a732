"""What `chalice local` leaves out: the SQS event sources and the schedules.

`LocalRuntime(app, sqs_endpoint)` runs, next to the HTTP server,

- one poller thread per `@on_sqs_message` of the app. It long-polls its queue, hands the
  handler a batch in Lambda's own SQS event shape with a Lambda-like context, and then does
  what Lambda's event source mapping does with `ReportBatchItemFailures`: deletes every
  record not named in `batchItemFailures`; if the handler raises (or names a record that
  is not in the batch), deletes nothing. What is not deleted comes back after the
  visibility timeout, and after `maxReceiveCount` receives the queue's RedrivePolicy
  moves it to the dead-letter queue (moto implements redrive as SQS does).
- one scheduler thread for the `AWS::Scheduler::Schedule` resources of
  infra/resources.json: `cron(...)` (EventBridge's six fields, `?` and 1-7 = SUN-SAT) in the
  schedule's timezone, `rate(...)` from start; each firing invokes the target function (a
  Chalice `lambda_function`, `Jobs` <- `jobs`) with the schedule's `Input`, as Scheduler does.

`invoke(name, event)` and `invoke_job(job)` call a function directly; `drain()` waits until
the queues are empty and every handler is idle.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalice.app import Chalice, LambdaFunction, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from local.bootstrap import RESOURCES, load_template

REGION = "us-east-1"


def _log(msg: str) -> None:
    print(f"[runtime] {msg}", flush=True)


# ---------------------------------------------------------------------------- Lambda shapes


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_s: float = 60.0, memory_mb: int = 512):
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:000000000000:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attributes(attrs: dict) -> dict:
    out = {}
    for name, a in (attrs or {}).items():
        entry = {"stringListValues": [], "binaryListValues": [], "dataType": a.get("DataType", "String")}
        if "StringValue" in a:
            entry["stringValue"] = a["StringValue"]
        if "BinaryValue" in a:
            entry["binaryValue"] = base64.b64encode(a["BinaryValue"]).decode()
        out[name] = entry
    return out


def sqs_event(messages: list[dict], queue_arn: str, region: str = REGION) -> dict:
    """Lambda's SQS event for messages as ReceiveMessage returned them."""
    records = []
    for m in messages:
        attrs = m.get("Attributes", {})
        record = {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {k: attrs[k] for k in (
                "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader") if k in attrs},
            "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in m:
            record["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_ids(response: Any, batch_ids: list[str]) -> set[str] | None:
    """The message ids to keep, as Lambda reads a ReportBatchItemFailures response; None
    means the whole batch failed."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failed = set()
    for item in response["batchItemFailures"]:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return None  # Lambda treats a malformed report as a failure of the batch
        failed.add(ident)
    return failed


def resolve_handler(app: Chalice, name: str, handler_string: str) -> Callable:
    """The callable Lambda would run: the app's registered wrapper by name (blueprint
    handlers included), else the handler string imported as Lambda does."""
    handler = app.handler_map.get(name)
    if handler is not None:
        return handler
    module, _, attr = handler_string.rpartition(".")
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------------------- schedules

_DOW_NAMES = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}


def _shift_dow(field_: str) -> str:
    """EventBridge numbers days 1-7 from Sunday, cron 0-6: shift every day number (not
    `#n` occurrences, not `/step`s)."""
    def one(part: str) -> str:
        if part in ("*", "?") or part.upper() in _DOW_NAMES:
            return "*" if part == "?" else part
        m = re.fullmatch(r"(\d+|[A-Za-z]{3})(?:-(\d+|[A-Za-z]{3}))?(/\d+|#\d+|L)?", part)
        if not m:
            raise ValueError(f"unsupported day-of-week {part!r}")
        lo, hi, tail = m.groups()

        def shift(x: str | None) -> str:
            return str(int(x) - 1) if x and x.isdigit() else (x or "")
        if tail == "L":  # last <weekday> of the month: croniter spells it L<n>
            return f"L{shift(lo)}"
        return shift(lo) + (f"-{shift(hi)}" if hi else "") + (tail or "")
    return ",".join(one(p) for p in field_.split(","))


def eventbridge_cron_to_croniter(expr: str) -> tuple[str, str]:
    """`0/5 * * * ? *` -> (`*/5 * * * *`, year field)."""
    fields = expr.split()
    if len(fields) != 6:
        raise ValueError(f"EventBridge cron has 6 fields: {expr!r}")
    minute, hour, dom, month, dow, year = fields
    if dom != "?" and dow != "?":
        raise ValueError(f"one of day-of-month and day-of-week must be '?': {expr!r}")

    def step(f: str) -> str:  # `0/5` means from 0 every 5 (cron writes `*/5` or `0-59/5`)
        return re.sub(r"^(\d+)/(\d+)$", r"\1-59/\2", f) if "/" in f and not f.startswith("*") else f
    minute = step(minute)
    hour = re.sub(r"^(\d+)/(\d+)$", r"\1-23/\2", hour)
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _shift_dow(dow)
    return f"{minute} {hour} {dom} {month} {dow}", year


_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass
class Schedule:
    name: str
    expression: str
    timezone: str
    target: str  # logical id of the function
    input: str
    _start: datetime | None = field(default=None, repr=False)

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after `after` (aware datetimes)."""
        m = re.fullmatch(r"(cron|rate)\((.*)\)", self.expression.strip())
        if not m:
            raise ValueError(f"{self.name}: unsupported schedule {self.expression!r}")
        kind, body = m.groups()
        if kind == "rate":
            value, unit = body.split()
            period = timedelta(seconds=int(value) * _RATE_UNITS[unit])
            start = self._start or after
            n = int((after - start) / period) + 1
            return start + n * period
        from croniter import croniter

        spec, year = eventbridge_cron_to_croniter(body)
        tz = ZoneInfo(self.timezone or "UTC")
        it = croniter(spec, after.astimezone(tz))
        for _ in range(100_000):
            t = it.get_next(datetime)
            if year in ("*", "?") or str(t.year) in _years(year):
                return t.astimezone(UTC)
        raise ValueError(f"{self.name}: no firing in range for {self.expression!r}")


def _years(field_: str) -> set[str]:
    out: set[str] = set()
    for part in field_.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out |= {str(y) for y in range(int(lo), int(hi) + 1)}
        else:
            out.add(part)
    return out


def load_schedules(path: Path | str = RESOURCES) -> list[Schedule]:
    """The enabled AWS::Scheduler::Schedule resources of the template."""
    out = []
    for name, res in load_template(path)["Resources"].items():
        if res.get("Type") != "AWS::Scheduler::Schedule":
            continue
        props = res["Properties"]
        if props.get("State", "ENABLED") != "ENABLED":
            continue
        arn = props["Target"]["Arn"]
        target = arn["Fn::GetAtt"][0] if isinstance(arn, dict) and "Fn::GetAtt" in arn else str(arn)
        out.append(Schedule(name=name, expression=props["ScheduleExpression"],
                            timezone=props.get("ScheduleExpressionTimezone", "UTC"),
                            target=target, input=props["Target"].get("Input", "{}")))
    return out


class Clock:
    """Wall-clock time, optionally starting elsewhere and running faster (tests)."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0):
        self._real0 = time.monotonic()
        self._virtual0 = start or datetime.now(UTC)
        self.speed = speed

    def now(self) -> datetime:
        return self._virtual0 + timedelta(seconds=(time.monotonic() - self._real0) * self.speed)

    def real_seconds_until(self, t: datetime) -> float:
        return max(0.0, (t - self.now()).total_seconds() / self.speed)


# ---------------------------------------------------------------------------- the runtime


class LocalRuntime:
    def __init__(self, app: Chalice, sqs_endpoint: str | None, visibility_timeout_s: int | None = None,
                 schedules: list[Schedule] | bool = True, clock: Clock | None = None,
                 wait_time_s: int = 1, region: str = REGION, verbose: bool = False,
                 function_timeout_s: float = 60.0):
        self.app = app
        self.sqs_endpoint = sqs_endpoint
        self.visibility_timeout_s = visibility_timeout_s
        if schedules is True:
            schedules = load_schedules()
        self.schedules: list[Schedule] = list(schedules or [])
        self.clock = clock or Clock()
        self.wait_time_s = wait_time_s
        self.region = region
        self.verbose = verbose
        self.function_timeout_s = function_timeout_s
        self.fired: list[tuple[str, datetime, Any]] = []  # (schedule, due time, result or exception)
        self.errors: list[tuple[str, BaseException]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Condition()
        self._queue_urls: dict[str, str] = {}
        self._jobs_pool: ThreadPoolExecutor | None = None
        self._sqs_client = None

    # ------------------------------------------------------------------ plumbing
    @property
    def sqs(self):
        if self._sqs_client is None:
            import boto3
            from botocore.config import Config

            self._sqs_client = boto3.client(
                "sqs", endpoint_url=self.sqs_endpoint, region_name=self.region,
                config=Config(retries={"max_attempts": 2}, read_timeout=self.wait_time_s + 10,
                              max_pool_connections=50))
        return self._sqs_client

    def sqs_sources(self) -> list[SQSEventConfig]:
        return [s for s in self.app.event_sources if isinstance(s, SQSEventConfig)]

    def _functions(self) -> dict[str, LambdaFunction]:
        return {to_cfn_resource_name(f.name): f for f in self.app.pure_lambda_functions}

    def _enter(self) -> None:
        with self._busy_lock:
            self._busy += 1

    def _leave(self) -> None:
        with self._busy_lock:
            self._busy -= 1
            self._busy_lock.notify_all()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalRuntime:
        self._stop.clear()
        for source in self.sqs_sources():
            url = self.sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
            self._queue_urls[source.queue] = url
            t = threading.Thread(target=self._poll, args=(source, url), name=f"sqs-{source.name}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.schedules:
            self._jobs_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="schedule")
            t = threading.Thread(target=self._schedule_loop, name="scheduler", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        self._threads.clear()
        if self._jobs_pool:
            self._jobs_pool.shutdown(wait=True, cancel_futures=True)
            self._jobs_pool = None

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ SQS
    def _poll(self, source: SQSEventConfig, url: str) -> None:
        handler = resolve_handler(self.app, source.name, source.handler_string)
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        batch = max(1, min(10, source.batch_size))
        while not self._stop.is_set():
            kwargs: dict[str, Any] = {"QueueUrl": url, "MaxNumberOfMessages": batch,
                                      "WaitTimeSeconds": self.wait_time_s,
                                      "AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
            if self.visibility_timeout_s is not None:
                kwargs["VisibilityTimeout"] = self.visibility_timeout_s
            try:
                messages = self.sqs.receive_message(**kwargs).get("Messages", [])
            except Exception as exc:  # noqa: BLE001 - the server is going away, or a blip
                if not self._stop.is_set():
                    _log(f"{source.name}: receive failed: {exc}")
                    time.sleep(0.5)
                continue
            if messages:
                # Between the receive and the deletes the messages count as "not visible",
                # so drain() sees them in the queue's depth; _enter covers the handler too.
                self._enter()
                try:
                    self._deliver(source, handler, url, arn, messages)
                finally:
                    self._leave()

    def _deliver(self, source: SQSEventConfig, handler: Callable, url: str, arn: str, messages: list[dict]) -> None:
        event = sqs_event(messages, arn, self.region)
        ids = [m["MessageId"] for m in messages]
        context = LambdaContext(source.name, self.function_timeout_s)
        try:
            response = handler(event, context)
            keep = failed_ids(response, ids)
        except Exception as exc:  # noqa: BLE001 - Lambda: the whole batch fails and comes back
            self.errors.append((source.name, exc))
            _log(f"{source.name}: handler raised, {len(ids)} message(s) will be retried:\n"
                 + "".join(traceback.format_exception(exc)).rstrip())
            keep = None
        if keep is None:
            return
        done = [m for m in messages if m["MessageId"] not in keep]
        if keep:
            _log(f"{source.name}: {len(keep)} of {len(ids)} message(s) failed, will be retried")
        if done:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if self.verbose:
            _log(f"{source.name}: {len(done)} message(s) handled")

    # ------------------------------------------------------------------ functions and schedules
    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a Chalice `lambda_function` by its name (`jobs`) or logical id (`Jobs`)."""
        functions = self._functions()
        fn = functions.get(function) or functions.get(to_cfn_resource_name(function))
        if fn is None:
            raise KeyError(f"no lambda_function {function!r}; the app has {sorted(functions)}")
        handler = resolve_handler(self.app, fn.name, fn.handler_string)
        self._enter()
        try:
            return handler(event, LambdaContext(fn.name, self.function_timeout_s))
        finally:
            self._leave()

    def invoke_job(self, name: str) -> Any:
        return self.invoke("jobs", {"job": name})

    def _fire(self, schedule: Schedule, due: datetime) -> None:
        try:
            payload = json.loads(schedule.input)
            result: Any = self.invoke(schedule.target, payload)
            if self.verbose:
                _log(f"{schedule.name} ({payload}): {result}")
        except Exception as exc:  # noqa: BLE001 - Scheduler would retry; we log and go on
            result = exc
            self.errors.append((schedule.name, exc))
            _log(f"{schedule.name} failed:\n" + "".join(traceback.format_exception(exc)).rstrip())
        self.fired.append((schedule.name, due, result))

    def _schedule_loop(self) -> None:
        now = self.clock.now()
        for s in self.schedules:
            s._start = now
        due = {s.name: s.next_after(now) for s in self.schedules}
        by_name = {s.name: s for s in self.schedules}
        while not self._stop.is_set():
            name, when = min(due.items(), key=lambda kv: kv[1])
            wait = self.clock.real_seconds_until(when)
            if wait > 0:
                self._stop.wait(min(wait, 0.5))
                continue
            schedule = by_name[name]
            due[name] = schedule.next_after(when)
            self._enter()  # counted until the job is done, so drain() waits for it
            assert self._jobs_pool is not None

            def run(s=schedule, w=when):
                try:
                    self._fire(s, w)
                finally:
                    self._leave()
            self._jobs_pool.submit(run)

    # ------------------------------------------------------------------ tests
    def queue_depths(self) -> dict[str, int]:
        """Visible + in flight (not delayed) messages of each polled queue."""
        out = {}
        for name, url in self._queue_urls.items():
            a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[name] = int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
        return out

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every polled queue is empty (delayed messages aside) and nothing is
        being handled; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            with self._busy_lock:
                busy = self._busy
            depths = self.queue_depths() if self._queue_urls else {}
            idle = busy == 0 and not any(depths.values())
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 0.3:
                    return
            else:
                quiet_since = None
            time.sleep(0.05)
        raise TimeoutError(f"not drained after {timeout}s: busy={self._busy}, queues={self.queue_depths()}")
