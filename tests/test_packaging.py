"""The deployable package: `make package` builds it (reused while its inputs are unchanged),
cfn-lint passes on the merged template, and the zip alone, with nothing but the standard
library and what Lambda's runtime provides (boto3), imports the app and every handler the
template names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from local.package import OUT_DIR, lambda_python, package, unpack

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_SETTINGS = ("WECHAT_APPID", "WECHAT_APP_SECRET", "WECHATPAY_MCHID", "WECHATPAY_APIV3_KEY",
                     "WECHATPAY_MERCHANT_PRIVATE_KEY", "WECHATPAY_MERCHANT_SERIAL", "WECHATPAY_PUBLIC_KEY",
                     "WECHATPAY_PUBLIC_KEY_ID", "WECHATPAY_NOTIFY_BASE_URL", "ADMIN_API_KEY", "TOKEN_SECRET")
FUNCTIONS = {"APIHandler", "EventsConsumer", "OrderExpiryConsumer", "SettlementConsumer", "Jobs",
             "AnalyticsConsumer"}


@pytest.fixture(scope="module")
def built() -> Path:
    # Builds, or reuses build/package when nothing that goes into it changed (cfn-lint ran
    # on that build: the stamp is written only after it passed).
    return package("prod", OUT_DIR, lint=True, if_stale=True)


@pytest.fixture(scope="module")
def template(built) -> dict:
    return json.loads((built / "sam.json").read_text())


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory) -> Path:
    return unpack(built / "deployment.zip", tmp_path_factory.mktemp("lambda"))


def functions(template) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_the_zip_imports_the_app_and_every_handler_on_a_clean_path(template, unpacked):
    handlers = sorted({f["Properties"]["Handler"] for f in functions(template).values()})
    code = f"""
import importlib, json, pkgutil, sys
handlers = {handlers!r}
out = {{"path": sys.path, "resolved": {{}}}}
import app
out["app"] = type(app.app).__name__
for h in handlers:
    module, _, attr = h.rpartition(".")
    out["resolved"][h] = callable(getattr(importlib.import_module(module), attr))
# Every module of ours, not only those the handlers import at start: lazy imports too.
for pkg in ("functions", "layers"):
    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        importlib.import_module(m.name)
import boto3, botocore
out["boto3"] = boto3.__file__
out["site"] = "site" in sys.modules
print(json.dumps(out))
"""
    proc = lambda_python(unpacked, code)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["app"] == "Chalice"
    assert out["resolved"] == dict.fromkeys(handlers, True)
    assert not out["site"]
    assert not any(".venv" in p or p == str(ROOT) for p in out["path"] if "runtime" not in p)
    # boto3 comes from Lambda's runtime (here: the link standing in for it), not the zip.
    assert "/runtime/" in out["boto3"]


def test_handlers_are_the_apps_functions(template):
    handlers = {name: f["Properties"]["Handler"] for name, f in functions(template).items()}
    assert set(handlers) == FUNCTIONS
    assert handlers["APIHandler"] == "app.app"
    assert handlers["Jobs"] == "functions.jobs.jobs_handler"
    assert all(h.startswith("functions.consumers.") for n, h in handlers.items() if n.endswith("Consumer"))


def test_sqs_sources_report_batch_item_failures_from_our_queues(template):
    resources = template["Resources"]
    sources = {name: ev for name, f in functions(template).items()
               for ev in f["Properties"].get("Events", {}).values() if ev["Type"] == "SQS"}
    assert set(sources) == {"EventsConsumer", "OrderExpiryConsumer", "SettlementConsumer",
                            "AnalyticsConsumer"}
    for name, ev in sources.items():
        props = ev["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = re.fullmatch(r"\$\{(\w+)\.Arn\}", props["Queue"]["Fn::Sub"]).group(1)
        q = resources[queue]["Properties"]
        assert q["RedrivePolicy"]["maxReceiveCount"] == 5
        assert resources[q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
        # Lambda refuses a source whose visibility timeout is shorter than the function's timeout.
        assert q["VisibilityTimeout"] >= 6 * functions(template)[name]["Properties"]["Timeout"]


def test_every_function_gets_its_settings_and_no_secret_in_any_environment_variable(template):
    """The contract's settings are read from Secrets Manager at run time; the
    functions' environment names the secret and holds nothing from it."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for name in ("SHOP_TABLE", "EVENTS_QUEUE_URL", "ORDER_EXPIRY_QUEUE_URL", "SETTLEMENT_QUEUE_URL",
                 "ANALYTICS_QUEUE_URL"):
        assert set(variables[name]) == {"Ref"}
    assert variables["SHOP_SECRET_ID"] == {"Fn::Sub": "${SecretId}"}
    environments = [variables] + [f["Properties"].get("Environment", {}).get("Variables", {})
                                  for f in functions(template).values()]
    for env in environments:
        assert not set(env) & set(CONTRACT_SETTINGS), sorted(set(env) & set(CONTRACT_SETTINGS))
        assert "secretsmanager" not in json.dumps(env).replace('"SHOP_SECRET_ID"', ""), env
    assert "{{resolve:secretsmanager" not in json.dumps(template)
    for f in functions(template).values():
        assert f["Properties"]["Environment"]["Variables"]["STAGE"] == "prod"
    assert template["Parameters"]["Stage"]["AllowedValues"] == ["prod"]


# What each function needs: the API everything; what calls WeChat (mini-program and Pay) the
# two WeChat groups; the analytics consumer only counts, and reads no secret at all.
SECRET_GROUPS_BY_FUNCTION = {"APIHandler": ["wechat", "wechatpay", "api"], "Jobs": ["wechat", "wechatpay"],
                             "EventsConsumer": ["wechat", "wechatpay"], "OrderExpiryConsumer": ["wechat", "wechatpay"],
                             "SettlementConsumer": ["wechat", "wechatpay"], "AnalyticsConsumer": []}


def test_each_function_reads_only_its_secrets(template):
    """The settings are split into one secret per group; a function's environment names
    its groups and its role may read those secrets and no other."""
    from layers.config import SECRET_GROUPS

    assert set(SECRET_GROUPS) == {"wechat", "wechatpay", "api"}
    named = [n for names in SECRET_GROUPS.values() for n in names]
    assert len(named) == len(set(named)), "a setting lives in one group"
    assert set(CONTRACT_SETTINGS) <= set(named)
    assert {"TOKEN_SECRET", "ADMIN_API_KEY", "PII_KEY", "PII_KEYS"} <= set(SECRET_GROUPS["api"])
    resources = template["Resources"]
    for name, f in functions(template).items():
        groups = SECRET_GROUPS_BY_FUNCTION[name]
        assert f["Properties"]["Environment"]["Variables"]["SHOP_SECRET_GROUPS"] == ",".join(groups), name
        role = resources[f["Properties"]["Role"]["Fn::GetAtt"][0]]
        granted = [st["Resource"] for st in _statements(role) if st["Sid"] == "ReadSettingsSecret"]
        if not groups:
            assert granted == [], name
            continue
        [resources_] = granted
        subs = sorted(r["Fn::Sub"] for r in resources_)
        assert subs == sorted(f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:"
                              f"secret:${{SecretId}}/{g}-??????" for g in groups), name
    # Nothing in the template grants the whole prefix or the secret of before the split.
    text = json.dumps(template)
    assert "secret:${SecretId}-" not in text and "secret:${SecretId}*" not in text


def test_the_api_stage_is_throttled_by_settings(template):
    settings = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert settings == [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurst"},
                         "ThrottlingRateLimit": {"Ref": "ApiThrottleRate"}}]
    assert template["Parameters"]["ApiThrottleBurst"]["Type"] == "Number"


def _statements(role: dict) -> list[dict]:
    return [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def test_iam_is_least_privilege(template):
    resources = template["Resources"]
    for name, res in resources.items():
        if res["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            continue
        statements = _statements(res) if res["Type"] == "AWS::IAM::Role" else res["Properties"]["PolicyDocument"]["Statement"]
        for st in statements:
            assert st["Effect"] == "Allow", name
            assert st["Resource"] != "*" and "*" not in json.dumps(st["Action"]), (name, st)
            services = {a.split(":")[0] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
            assert services <= {"logs", "sqs", "dynamodb", "lambda", "secretsmanager", "s3"}, (name, st)  # s3: the share codes and images
    # Each function's own policy, with only the table actions it uses; no shared one.
    assert not [n for n, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    table_actions = {}
    for fname, f in functions(template).items():
        role = f["Properties"]["Role"]["Fn::GetAtt"][0]
        by_sid = {s["Sid"]: s for s in _statements(resources[role])}
        assert set(by_sid) <= {"OwnLogs", "ConsumeOwnQueue", "ShopTable", "SendToQueues", "ReadSettingsSecret",
                               "CodeBucketObjects",  # the share codes (the API only)
                               "ImageUploads", "ListingSnapshots"}
        assert "CodeBucketObjects" not in by_sid or fname == "APIHandler"
        # presigned image uploads are signed by the API; listing snapshots published by the
        # catalog.changed consumer and the rebuild-listing job, under catalog/ only
        assert ("ImageUploads" in by_sid) == (fname == "APIHandler")
        assert ("ListingSnapshots" in by_sid) == (fname in ("EventsConsumer", "Jobs"))
        if "ListingSnapshots" in by_sid:
            assert by_sid["ListingSnapshots"]["Resource"] == {"Fn::Sub": "${CodeBucket.Arn}/catalog/*"}
        # Each function's own secrets, no more (test_each_function_reads_only_its_secrets).
        if "ReadSettingsSecret" in by_sid:
            assert by_sid["ReadSettingsSecret"]["Action"] == ["secretsmanager:GetSecretValue"]
        table_actions[fname] = set(by_sid["ShopTable"]["Action"])
    assert not any("dynamodb:BatchWriteItem" in a or "dynamodb:Scan" in a for a in table_actions.values())
    assert "dynamodb:DeleteItem" not in table_actions["SettlementConsumer"]
    assert {f for f, a in table_actions.items() if "dynamodb:DescribeTable" in a} == {"APIHandler"}
    scheduler = _statements(resources["SchedulerRole"])
    assert scheduler == [{"Effect": "Allow", "Action": "lambda:InvokeFunction",
                          "Resource": {"Fn::GetAtt": ["Jobs", "Arn"]}}]


def test_schedules_run_the_jobs_in_shanghai_time(template):
    schedules = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert {json.loads(s["Target"]["Input"])["job"] for s in schedules} == {
        "close-expired-orders", "settle-commissions", "reconcile", "send-reminders", "relay-outbox",
        "expire-campaigns",
        "retry-shipping-uploads", "check-trade-management",
        "fetch-visitors", "recount-analytics",
        "expire-groups",
        "rebuild-listing", "retag-customers", "approve-after-sales", "close-unreturned-after-sales",
        "run-coupon-grants", "expire-pickups"}
    for s in schedules:
        assert s["ScheduleExpressionTimezone"] == "Asia/Shanghai"
        assert s["Target"]["Arn"] == {"Fn::GetAtt": ["Jobs", "Arn"]}
        assert s["Target"]["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}


def test_alarms_watch_every_dead_letter_queue_and_function(template):
    resources = template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched_queues = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms if a.get("Namespace") == "AWS/SQS"}
    dlqs = {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for r in resources.values() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}
    assert watched_queues == dlqs and len(dlqs) == 4  # analytics
    watched_functions = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms
                         if a.get("Namespace") == "AWS/Lambda" and a["MetricName"] == "Errors"}
    assert watched_functions == FUNCTIONS
    # Every alarm tells the one topic the merchant subscribes to (AlarmEmail).
    for a in alarms:
        assert a["AlarmActions"] == [{"Ref": "AlarmTopic"}], a["AlarmDescription"]
    [sub] = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"} and sub["Properties"]["Protocol"] == "email"
    assert sub["Condition"] == "HasAlarmEmail"


def _alarms(template) -> dict[str, dict]:
    return {n: r["Properties"] for n, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_5xx_is_counted_and_alarmed(template):
    """The middleware logs `alarm: HTTP_5XX` on every 5xx (tests/unit/test_http_5xx_alarm.py);
    a metric filter on the API's log group counts it and an alarm fires on the first.
    The business-alarm filter leaves it out, so a 5xx is not also a business anomaly."""
    from layers.observability import ALARM_5XX

    resources = template["Resources"]
    filters = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Logs::MetricFilter"}
    [(name, http)] = [(n, f) for n, f in filters.items() if f["MetricTransformations"][0]["MetricName"] == "Http5xx"]
    assert http["LogGroupName"] == {"Ref": "ApiHandlerLogGroup"}
    assert http["FilterPattern"] == f'{{ $.alarm = "{ALARM_5XX}" }}'
    assert ALARM_5XX in filters["ApiHandlerBusinessAlarmFilter"]["FilterPattern"]
    assert "!=" in filters["ApiHandlerBusinessAlarmFilter"]["FilterPattern"]
    [alarm] = [a for a in _alarms(template).values() if a.get("MetricName") == "Http5xx"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["Statistic"]) == (
        1, "GreaterThanOrEqualToThreshold", "Sum")
    # And the 5xx API Gateway answers itself (a crash or a timeout never reaches the middleware).
    [gateway] = [a for a in _alarms(template).values() if a.get("Namespace") == "AWS/ApiGateway"]
    assert gateway["MetricName"] == "5XXError"
    assert {d["Name"]: d["Value"] for d in gateway["Dimensions"]} == {
        "ApiName": resources["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"],
        "Stage": resources["RestAPI"]["Properties"]["StageName"]}


def test_a_job_that_did_not_run_alarms(template):
    """A run logs "job done" with its name; a metric filter on the jobs' log group counts
    runs per job, and each schedule has an alarm on its absence (missing data breaches)."""
    resources = template["Resources"]
    [runs] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter"
              and r["Properties"]["MetricTransformations"][0]["MetricName"] == "JobRuns"]
    assert runs["LogGroupName"] == {"Ref": "JobsLogGroup"}
    assert runs["FilterPattern"] == '{ $.message = "job done" }'
    assert runs["MetricTransformations"][0]["Dimensions"] == [{"Key": "Job", "Value": "$.job"}]
    jobs = {json.loads(r["Properties"]["Target"]["Input"])["job"]: r["Properties"]["ScheduleExpression"]
            for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"}
    watched = {a["Dimensions"][0]["Value"]: a for a in _alarms(template).values() if a.get("MetricName") == "JobRuns"}
    assert set(watched) == set(jobs)
    for job, alarm in watched.items():
        assert alarm["TreatMissingData"] == "breaching", job
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["Statistic"]) == ("LessThanThreshold", 1, "Sum")
        window = alarm["Period"] * alarm["EvaluationPeriods"]
        assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]  # every period empty, not some
        # Longer than the time between two runs, within CloudWatch's limits (1 day below
        # hourly periods, 7 days from them).
        daily = not (jobs[job].startswith("rate(") or "/" in jobs[job].split()[0])
        assert window > (24 * 3600 if daily else 600), job
        assert window <= (7 * 86400 if alarm["Period"] >= 3600 else 86400), job


def test_api_traffic_outside_its_usual_band_alarms(template):
    [alarm] = [a for a in _alarms(template).values() if "ThresholdMetricId" in a]
    band = next(m for m in alarm["Metrics"] if m["Id"] == alarm["ThresholdMetricId"])
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(")
    [stat] = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "APIHandler"}}]
    assert alarm["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"


def test_the_table_is_the_one_the_code_expects(template):
    [table] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {k["AttributeName"] for k in props["KeySchema"]} == {"pk", "sk"}
    assert {g["IndexName"]: g["Projection"]["ProjectionType"] for g in props["GlobalSecondaryIndexes"]} == {
        "gsi1": "ALL", "gsi2": "ALL", "gsi3": "ALL"}  # rankings, paid-date index
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


# -- lean package -------------------------------------------------------------------

def test_the_zip_stays_under_its_size_limit_without_what_the_runtime_carries(built):
    import zipfile

    from local.package import MAX_ZIP_BYTES, RUNTIME_PROVIDED

    zip_path = built / "deployment.zip"
    with zipfile.ZipFile(zip_path) as zf:
        tops = {n.split("/", 1)[0] for n in zf.namelist()}
    assert zip_path.stat().st_size <= MAX_ZIP_BYTES, f"{zip_path.stat().st_size / 1e6:.1f} MB"
    shipped = {t[: -len(".dist-info")].rsplit("-", 1)[0].lower() for t in tops if t.endswith(".dist-info")}
    assert not shipped & set(RUNTIME_PROVIDED)
    assert not tops & {"boto3", "botocore", "s3transfer", "dateutil", "jmespath", "six.py"}
    # What the functions do import is there.
    assert {"pynamodb", "pydantic", "pydantic_core", "cryptography", "wechatpy", "aws_lambda_powertools",
            "urllib3", "requests", "chalice"} <= tops


def test_the_runtime_pins_are_what_we_test_with():
    """requirements-runtime.txt names the boto3/botocore of Lambda's python3.12 runtime;
    the venv the tests run in must carry exactly those (README: "What Lambda provides")."""
    from importlib.metadata import version

    pins = dict(line.split("==") for line in (ROOT / "requirements-runtime.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert set(pins) == {"boto3", "botocore"}
    assert {name: version(name) for name in pins} == pins


def test_the_zip_carries_bytecode_for_what_the_handlers_import(built):
    """Lambda's /var/task is read-only: without bytecode in the zip every cold start
    compiles every module it imports."""
    import zipfile

    with zipfile.ZipFile(built / "deployment.zip") as zf:
        names = set(zf.namelist())
    for module in ("app", "functions/_api", "layers/services/orders"):  # ours: source and bytecode
        folder, _, stem = module.rpartition("/")
        assert f"{folder + '/' if folder else ''}__pycache__/{stem}.cpython-312.pyc" in names, module
        assert f"{module}.py" in names, module
    for module in ("pydantic/main", "pynamodb/models", "chalice/app"):  # a library's: its bytecode alone
        assert f"{module}.pyc" in names and f"{module}.py" not in names, module


# -- SnapStart on the API function (docs/cold-start.md) ----------------------------------------

def test_the_api_function_runs_with_snapstart_and_api_gateway_invokes_its_alias(template):
    """SnapStart applies to published versions only: SAM publishes one whenever the
    function's code or configuration changes and moves the alias `live` to it; every
    route, and the permission to invoke, name that alias. The function's own ARN would
    invoke $LATEST, initialised from scratch on each cold start."""
    resources = template["Resources"]
    api = resources["APIHandler"]["Properties"]
    assert api["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert api["AutoPublishAlias"] == "live"
    assert api["AutoPublishAliasAllProperties"] is True  # a change of settings publishes too
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}
    routes = 0
    for path, methods in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].items():
        for method, operation in methods.items():
            text, variables = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert text.endswith("/functions/${ApiFunctionAlias}/invocations"), (method, path)
            assert variables == {"ApiFunctionAlias": {"Ref": "APIHandler.Alias"}}, (method, path)
            routes += 1
    assert routes > 100
    assert "APIHandler.Arn" not in json.dumps(resources["RestAPI"])
    # What SnapStart does not support (AWS Lambda Developer Guide, "Improving startup
    # performance with Lambda SnapStart"): provisioned concurrency, EFS, more than 512 MB of /tmp.
    assert "ProvisionedConcurrencyConfig" not in api and "FileSystemConfigs" not in api
    assert api.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    # The consumers and jobs keep no alias: their event sources invoke them directly.
    others = [f for name, f in functions(template).items() if name != "APIHandler"]
    assert not any("SnapStart" in f["Properties"] or "AutoPublishAlias" in f["Properties"] for f in others)


def test_the_package_check_refuses_a_route_that_bypasses_the_alias(template):
    import copy

    from local.package import _check_snapstart

    resources = copy.deepcopy(template["Resources"])
    assert _check_snapstart(resources) == []
    operation = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/orders"]["post"]
    operation["x-amazon-apigateway-integration"]["uri"] = {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                   "${APIHandler.Arn}/invocations"}
    del resources["APIHandler"]["Properties"]["SnapStart"]
    assert len(_check_snapstart(resources)) == 2


def test_images_are_private_and_served_only_through_the_cdn(template):
    resources = template["Resources"]
    bucket = resources["ImageBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policy = resources["ImageBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy == [{
        "Sid": "CdnReadsImages", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${ImageBucket.Arn}/img/*"},
        "Condition": {"StringEquals": {"AWS:SourceArn": {
            "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ImageCdn}"}}}}]
    # nobody may list the bucket: no statement anywhere grants s3:ListBucket
    assert "s3:ListBucket" not in json.dumps(template)
    cdn = resources["ImageCdn"]["Properties"]["DistributionConfig"]
    assert cdn["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert cdn["DefaultCacheBehavior"]["AllowedMethods"] == ["GET", "HEAD"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["IMAGE_BUCKET"] == {"Ref": "ImageBucket"} and "Fn::If" in env["IMAGE_BASE_URL"]
