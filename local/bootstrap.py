"""The shop's table and queues on the local stand-ins, built from infra/resources.json.

The definitions are read, never repeated: the table's keys, GSIs and TTL attribute, each
queue's attributes and its RedrivePolicy (dead-letter queue, maxReceiveCount), and which
environment variable names which resource (the `Globals.Function.Environment` block, where
`{"Ref": "EventsQueue"}` says EVENTS_QUEUE_URL is that queue's URL). Both functions are
idempotent: an existing table or queue is kept (a queue's attributes are brought in line).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "infra" / "resources.json"
LOCAL_TABLE = "shop-local"
REGION = "us-east-1"


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def load_template(path: Path | str = RESOURCES) -> dict:
    return _load(str(path))


def resources_of_type(kind: str, template: dict | None = None) -> dict[str, dict]:
    template = template or load_template()
    return {name: res for name, res in template["Resources"].items() if res.get("Type") == kind}


def env_refs(template: dict | None = None) -> dict[str, str]:
    """{env var: logical id} for the env vars the template sets with a plain Ref."""
    template = template or load_template()
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {name: value["Ref"] for name, value in variables.items()
            if isinstance(value, dict) and set(value) == {"Ref"}}


def substitute(value: Any, params: dict[str, str], attrs: dict[tuple[str, str], str] | None = None) -> Any:
    """Evaluate the few intrinsics our local resources use: Fn::Sub (parameters and
    ${Res.Attr}), Fn::GetAtt and Ref of a parameter."""
    attrs = attrs or {}
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Fn::Sub":
            def one(m: re.Match) -> str:
                name = m.group(1)
                if "." in name:
                    return attrs[tuple(name.split(".", 1))]
                return params[name]
            return re.sub(r"\$\{([^}!]+)\}", one, arg)
        if key == "Fn::GetAtt":
            return attrs[tuple(arg)]
        if key == "Ref" and arg in params:
            return params[arg]
    if isinstance(value, dict):
        return {k: substitute(v, params, attrs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params, attrs) for v in value]
    return value


def _stage(stage: str | None) -> str:
    return stage or os.environ.get("STAGE", "dev")


def _env_name_for(logical_id: str, template: dict) -> str | None:
    for env, ref in env_refs(template).items():
        if ref == logical_id:
            return env
    return None


# ---------------------------------------------------------------------------- DynamoDB


def table_definition(table_name: str, template: dict | None = None) -> tuple[dict, dict | None]:
    """(CreateTable arguments, TimeToLiveSpecification) for the template's one table."""
    tables = resources_of_type("AWS::DynamoDB::Table", template)
    if len(tables) != 1:
        raise ValueError(f"expected one table in infra/resources.json, found {sorted(tables)}")
    props = next(iter(tables.values()))["Properties"]
    args: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    return args, props.get("TimeToLiveSpecification")


def create_tables(dynamodb_endpoint: str, table_name: str = LOCAL_TABLE, region: str | None = None) -> dict[str, str]:
    """Create the shop table (if missing) and return {"SHOP_TABLE": name}."""
    import boto3

    template = load_template()
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint,
                          region_name=region or os.environ.get("AWS_DEFAULT_REGION", REGION))
    args, ttl = table_definition(table_name, template)
    try:
        client.create_table(**args)
    except client.exceptions.ResourceInUseException:
        pass  # already there (a persistent dev database, or a second caller)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    if ttl and ttl.get("Enabled"):
        current = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
    table_id = next(iter(resources_of_type("AWS::DynamoDB::Table", template)))
    return {_env_name_for(table_id, template) or "SHOP_TABLE": table_name}


# ---------------------------------------------------------------------------- SQS

# CloudFormation property -> SQS attribute, for those that mean something locally.
_QUEUE_ATTRS = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "FifoQueue": "FifoQueue",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
}


def queue_definitions(stage: str | None = None, template: dict | None = None) -> dict[str, dict]:
    """{logical id: {"name", "attributes", "dead_letter": logical id | None, "max_receive_count"}}
    in creation order (dead-letter queues first)."""
    template = template or load_template()
    params = {"Stage": _stage(stage), "AWS::Region": REGION, "AWS::AccountId": "000000000000"}
    queues = resources_of_type("AWS::SQS::Queue", template)
    out: dict[str, dict] = {}
    for qid, res in queues.items():
        props = res.get("Properties", {})
        name = substitute(props.get("QueueName", qid), params)
        attributes = {attr: str(props[prop]).lower() if isinstance(props[prop], bool) else str(props[prop])
                      for prop, attr in _QUEUE_ATTRS.items() if prop in props}
        dead_letter = max_receive = None
        if "RedrivePolicy" in props:
            target = props["RedrivePolicy"]["deadLetterTargetArn"]
            dead_letter = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else None
            if dead_letter is None or dead_letter not in queues:
                raise ValueError(f"{qid}: RedrivePolicy must name a queue of the template with Fn::GetAtt")
            max_receive = int(props["RedrivePolicy"]["maxReceiveCount"])
        out[qid] = {"name": name, "attributes": attributes, "dead_letter": dead_letter,
                    "max_receive_count": max_receive}
    return dict(sorted(out.items(), key=lambda kv: kv[1]["dead_letter"] is not None))


def create_queues(sqs_endpoint: str, visibility_timeout: int | None = None, stage: str | None = None,
                  region: str | None = None) -> dict[str, str]:
    """Create every queue of the template (dead-letter queues first, then the queues that
    redrive to them) and return {"EVENTS_QUEUE_URL": url, ...}. `visibility_timeout`
    overrides the template's (tests use a second or two)."""
    import boto3

    template = load_template()
    client = boto3.client("sqs", endpoint_url=sqs_endpoint,
                          region_name=region or os.environ.get("AWS_DEFAULT_REGION", REGION))
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for qid, q in queue_definitions(stage, template).items():
        attributes = dict(q["attributes"])
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        if q["dead_letter"]:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[q["dead_letter"]],
                                                      "maxReceiveCount": q["max_receive_count"]})
        try:
            url = client.create_queue(QueueName=q["name"], Attributes=attributes)["QueueUrl"]
        except client.exceptions.QueueNameExists:
            url = client.get_queue_url(QueueName=q["name"])["QueueUrl"]
            client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        urls[qid] = url
        arns[qid] = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env: dict[str, str] = {}
    for name, ref in env_refs(template).items():
        if ref in urls:
            env[name] = urls[ref]
    return env


def queue_urls(sqs_endpoint: str, stage: str | None = None, region: str | None = None) -> dict[str, str]:
    """{queue name: url} of every template queue (dead-letter queues included)."""
    import boto3

    client = boto3.client("sqs", endpoint_url=sqs_endpoint,
                          region_name=region or os.environ.get("AWS_DEFAULT_REGION", REGION))
    return {q["name"]: client.get_queue_url(QueueName=q["name"])["QueueUrl"]
            for q in queue_definitions(stage).values()}


# ---------------------------------------------------------------------------- S3


def bucket_definitions(stage: str | None = None, template: dict | None = None) -> dict[str, str]:
    """{logical id: bucket name} of the template's buckets."""
    template = template or load_template()
    params = {"Stage": _stage(stage), "AWS::Region": REGION, "AWS::AccountId": "000000000000"}
    return {bid: substitute(res.get("Properties", {}).get("BucketName", bid.lower()), params)
            for bid, res in resources_of_type("AWS::S3::Bucket", template).items()}


def create_buckets(s3_endpoint: str, stage: str | None = None, region: str | None = None) -> dict[str, str]:
    """Create every bucket of the template (moto's server serves S3 beside SQS) and return
    {"CODE_BUCKET": name, ..., "S3_ENDPOINT": endpoint}."""
    import boto3
    from botocore.config import Config

    template = load_template()
    client = boto3.client("s3", endpoint_url=s3_endpoint, config=Config(s3={"addressing_style": "path"}),
                          region_name=region or os.environ.get("AWS_DEFAULT_REGION", REGION))
    names = bucket_definitions(stage, template)
    for name in names.values():
        try:
            client.create_bucket(Bucket=name)
        except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            pass
    env = {"S3_ENDPOINT": s3_endpoint}
    for variable, ref in env_refs(template).items():
        if ref in names:
            env[variable] = names[ref]
    if "IMAGE_BUCKET" in env:
        # On AWS only the CDN reads the image bucket (ImageBucketPolicy); locally nobody stands
        # in front of it, so its images are readable by anyone, as the CDN would serve them.
        import json

        client.put_bucket_policy(Bucket=env["IMAGE_BUCKET"], Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "LocalStandInForTheCdn", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{env['IMAGE_BUCKET']}/img/*"}]}))
    return env
