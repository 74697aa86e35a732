"""`make deploy STAGE=...`: package, upload and deploy one stage's stack, then print the URLs
to paste into WeChat.

    python -m local.deploy --stage prod [--alarm-email ops@example.com] [--region ap-shanghai-1]

In order, stopping at the first thing that is not right (docs/deploy.md):

1. AWS credentials and a region, or a clear message and nothing changed.
2. The stage's secrets, one per group of settings (`wechat-shop/<stage>/<group>`,
   layers/config.py SECRET_GROUPS): a secret that does not exist is created with every
   setting's name and the placeholder (or the value the stage's one secret of before
   the split, `wechat-shop/<stage>`, holds); a secret missing a name gets it, with the
   placeholder; TOKEN_SECRET and PII_KEY are generated (nobody types them anywhere),
   PII_KEYS starts empty. While a required setting still holds the placeholder (or
   nothing), the deploy stops and names them.
3. `make package` (the SAM template and zip, cfn-lint), the zip and the template uploaded
   to the account's deploy bucket, one CloudFormation change set created and executed
   (CloudFormation applies the SAM transform itself: no SAM CLI needed).
4. WECHATPAY_NOTIFY_BASE_URL, left as the placeholder, becomes the API's URL (it is only
   known once the stack exists), and the URLs are printed.

The decisions (what is missing, what to refuse, which URLs) are plain functions over
the answers of AWS; the clients are passed in, so tests/unit/test_deploy.py runs them
against botocore's Stubber. The calls themselves are thin and in `run()` alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from layers.config import OPTIONAL_SETTINGS, SECRET_GROUPS  # noqa: E402
from layers.storage.pii import PiiKeyError, keyring  # noqa: E402
from layers.storage.pii import new_key as _new_pii_key  # noqa: E402

APP = "wechat-shop"
PLACEHOLDER = "CHANGE-ME"
# Filled by the deploy itself once the stack exists (the API's URL).
FILLED_AFTER_DEPLOY = ("WECHATPAY_NOTIFY_BASE_URL",)
# Generated when the secret is created (or first names them): random keys no person needs
# to know. PII_KEY seals shoppers' addresses (docs/addresses.md): a stage that lost it has
# lost them, so it is only ever generated where the secret does not name it yet.
GENERATED = {"TOKEN_SECRET": lambda: secrets.token_hex(32), "PII_KEY": _new_pii_key}
# Settings that start empty rather than as the placeholder: no retired PII key before the
# first rotation.
STARTS_EMPTY = ("PII_KEYS",)
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def _initial(name: str) -> str:
    """The value a setting is created with: generated, empty, or the placeholder to fill."""
    return GENERATED[name]() if name in GENERATED else "" if name in STARTS_EMPTY else PLACEHOLDER

# What the merchant pastes into WeChat, as paths under the API's URL (a test checks that each
# is a route of app.py). WeChat Pay takes the notify URLs from each request's notify_url
# (built from WECHATPAY_NOTIFY_BASE_URL); the merchant platform's own "支付回调" setting
# and the mini-program's 消息推送 page are typed by hand.
PASTE_INTO_WECHAT = {
    "Payment notify (WeChat Pay, 支付结果通知)": "/wechatpay/notify",
    "Refund notify (WeChat Pay, 退款结果通知)": "/wechatpay/refund-notify",
    "Transfer notify (WeChat Pay, 商家转账回调)": "/wechatpay/transfer-notify",
    "Message push (mini-program 开发管理 > 消息推送)": "/wechat/message-push",
}


class DeployError(SystemExit):
    """A stop with a message for the person deploying (exit status 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"make deploy: {message}")


def stack_name(stage: str) -> str:
    return f"{APP}-{stage}"


def secret_prefix(stage: str) -> str:
    """The stack's SecretId parameter (`make package` pins the same default)."""
    return f"{APP}/{stage}"


def secret_id(stage: str, group: str) -> str:
    return f"{secret_prefix(stage)}/{group}"


# ---------------------------------------------------------------------------- 1. credentials


def require_credentials(session) -> str:
    """The region to deploy to; refuses without credentials or a region."""
    credentials = session.get_credentials()
    if credentials is None:
        raise DeployError(
            "no AWS credentials found. Give them the usual way (aws configure, aws sso login with "
            "AWS_PROFILE=..., or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run it again. "
            "Nothing was changed.")
    region = session.get_config_variable("region")
    if not region:
        raise DeployError("no AWS region: set AWS_REGION (or the profile's region), or pass --region. "
                          "Nothing was changed.")
    return region


# ---------------------------------------------------------------------------- 2. secrets


@dataclass
class SecretsReport:
    created: list[str] = field(default_factory=list)
    completed: dict[str, list[str]] = field(default_factory=dict)   # secret id -> names added
    unset: dict[str, list[str]] = field(default_factory=dict)       # secret id -> names still to fill
    invalid: dict[str, list[str]] = field(default_factory=dict)     # secret id -> what is wrong with a value

    @property
    def ready(self) -> bool:
        return not self.unset and not self.invalid


def invalid_values(values: dict) -> list[str]:
    """What is wrong with the values a stage would run with. The PII keys are checked
    here because a stage with a malformed PII_KEY deploys fine and then answers 5xx on
    every address and order that carries one; the reasons name the setting and the key's
    version, never the key."""
    if "PII_KEY" not in values or values["PII_KEY"] in (None, "", PLACEHOLDER):
        return []
    try:
        keyring(values["PII_KEY"], values.get("PII_KEYS") or "")
    except PiiKeyError as exc:
        return [str(exc)]
    return []


def missing_values(group: str, values: dict) -> list[str]:
    """The settings of `group` a stage cannot run without that hold the placeholder or
    nothing. The public key pair may be empty (platform-certificate mode), not the
    placeholder; what the deploy fills itself is not asked for."""
    out = []
    for name in SECRET_GROUPS[group]:
        value = values.get(name)
        if name in FILLED_AFTER_DEPLOY:
            continue
        if value == PLACEHOLDER or (name not in OPTIONAL_SETTINGS and value in (None, "")):
            out.append(name)
    return out


def _read_secret(sm, sid: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        answer = sm.get_secret_value(SecretId=sid)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    try:
        value = json.loads(answer.get("SecretString") or "{}")
    except ValueError:
        raise DeployError(f"secret {sid} is not a JSON object: fix it in Secrets Manager") from None
    if not isinstance(value, dict):
        raise DeployError(f"secret {sid} is not a JSON object: fix it in Secrets Manager")
    return value


def _kept(name: str, legacy: dict) -> bool:
    """A value of the secret of before the split worth carrying over (an optional one may be empty)."""
    value = legacy.get(name)
    return value is not None and value != PLACEHOLDER and (value != "" or name in OPTIONAL_SETTINGS)


def ensure_secrets(sm, stage: str) -> SecretsReport:
    """Each group's secret exists and names each of its settings (creating or completing
    it with the placeholder); reports what is still to fill. Values already there are
    never changed."""
    report = SecretsReport()
    legacy: dict | None = None
    for group, names in SECRET_GROUPS.items():
        sid = secret_id(stage, group)
        values = _read_secret(sm, sid)
        if values is None:
            if legacy is None:  # a stage deployed before the split: its one secret seeds the groups
                legacy = _read_secret(sm, secret_prefix(stage)) or {}
            values = {name: legacy[name] if _kept(name, legacy) else _initial(name) for name in names}
            sm.create_secret(Name=sid, SecretString=json.dumps(values),
                             Description=f"{APP} {stage}: {group} settings ({', '.join(names)}); docs/deploy.md")
            report.created.append(sid)
        else:
            added = [name for name in names if name not in values]
            if added:
                values.update({name: _initial(name) for name in added})
                sm.put_secret_value(SecretId=sid, SecretString=json.dumps(values))
                report.completed[sid] = added
        unset = missing_values(group, values)
        if unset:
            report.unset[sid] = unset
        invalid = invalid_values(values)
        if invalid:
            report.invalid[sid] = invalid
    return report


def refusal(report: SecretsReport, region: str) -> str:
    lines = []
    if report.unset:
        lines.append(f"settings still to fill before this stage can run (placeholder {PLACEHOLDER!r} or empty):")
        for sid, names in report.unset.items():
            lines.append(f"  {sid}: {', '.join(names)}")
    if report.invalid:
        lines.append("settings this stage cannot run with (docs/addresses.md says how PII keys are written):")
        for sid, reasons in report.invalid.items():
            lines.extend(f"  {sid}: {reason}" for reason in reasons)
    lines.append("Fill them in the Secrets Manager console (region " + region + "), or e.g.")
    first = next(iter(report.unset or report.invalid))
    lines.append(f"  aws secretsmanager get-secret-value --secret-id {first} --query SecretString --output text "
                 "> s.json  # edit, then")
    lines.append(f"  aws secretsmanager put-secret-value --secret-id {first} --secret-string file://s.json; rm s.json")
    lines.append("WECHATPAY_PUBLIC_KEY and WECHATPAY_PUBLIC_KEY_ID may be empty (platform-certificate mode). "
                 "Then run make deploy again. Nothing was deployed.")
    return "\n".join(lines)


def fill_notify_base_url(sm, stage: str, api_url: str) -> bool:
    """WECHATPAY_NOTIFY_BASE_URL left as the placeholder (or empty) becomes the API's URL.
    A value the merchant set (a custom domain) stays. True when it was written."""
    sid = secret_id(stage, "wechatpay")
    values = _read_secret(sm, sid) or {}
    if values.get("WECHATPAY_NOTIFY_BASE_URL") not in (None, "", PLACEHOLDER):
        return False
    values["WECHATPAY_NOTIFY_BASE_URL"] = api_url
    sm.put_secret_value(SecretId=sid, SecretString=json.dumps(values))
    return True


# ---------------------------------------------------------------------------- 3. the stack


def with_uploaded_code(template: dict, bucket: str, key: str) -> dict:
    """The template with every function's code at s3://bucket/key (Chalice writes a local
    path, which only `aws cloudformation package` would have rewritten)."""
    out = json.loads(json.dumps(template))
    for res in out["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return out


def parameters(stage: str, alarm_email: str | None, previous: set[str] | frozenset = frozenset(),
               image_domain: str | None = None, image_certificate_arn: str | None = None) -> list[dict]:
    """The stack's parameters: pinned by the package; each optional one as given, else the
    value the stack has (`previous`: the parameters it has now, none on a first creation),
    so that a later deploy without them keeps the alarm e-mail and the images' own domain.
    CloudFormation refuses UsePreviousValue for a parameter the stack does not have yet
    (a stack from before the parameter existed): that one takes the template's default."""
    params = [{"ParameterKey": "Stage", "ParameterValue": stage},
              {"ParameterKey": "SecretId", "ParameterValue": secret_prefix(stage)}]
    optional = {"AlarmEmail": alarm_email, "ImageDomain": image_domain, "ImageCertificateArn": image_certificate_arn}
    for key, value in optional.items():
        if value is not None:
            params.append({"ParameterKey": key, "ParameterValue": value})
        elif key in previous:
            params.append({"ParameterKey": key, "UsePreviousValue": True})
    return params


def check_image_domain(domain: str | None, certificate_arn: str | None) -> None:
    """CloudFront serves a domain only with a certificate for it, and reads certificates
    from us-east-1 alone: refused here rather than after a half-applied change set."""
    if domain is None and certificate_arn is None:
        return
    if not domain or not certificate_arn:
        raise DeployError("IMAGE_DOMAIN and IMAGE_CERTIFICATE_ARN go together (docs/storefront.md)")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", domain):
        raise DeployError(f"IMAGE_DOMAIN {domain!r} is not a host name such as img.example.com")
    if not re.fullmatch(r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+", certificate_arn):
        raise DeployError("IMAGE_CERTIFICATE_ARN must be an ACM certificate in us-east-1 "
                          "(CloudFront reads certificates only there)")


def stack_state(cfn, name: str) -> str | None:
    """The stack's status, or None when there is none."""
    stack = _described(cfn, name)
    return stack["StackStatus"] if stack else None


def stack_parameter_keys(cfn, name: str) -> set[str]:
    """The names of the parameters the stack has now (none when there is no stack)."""
    stack = _described(cfn, name)
    return {p["ParameterKey"] for p in (stack or {}).get("Parameters", [])}


def _described(cfn, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise
    return stack


def change_set_type(status: str | None, name: str) -> str:
    if status is None or status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(f"stack {name} failed its first creation (ROLLBACK_COMPLETE): read its events, "
                          f"delete it (aws cloudformation delete-stack --stack-name {name}) and deploy again")
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {name} is {status}: wait for it to finish, then deploy again")
    return "UPDATE"


def no_changes(description: dict) -> bool:
    reason = description.get("StatusReason") or ""
    return description.get("Status") == "FAILED" and ("didn't contain changes" in reason
                                                      or "No updates are to be performed" in reason)


def outputs_of(cfn, name: str) -> dict[str, str]:
    [stack] = cfn.describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stage_urls(outputs: dict[str, str]) -> dict[str, str]:
    """The URLs to print, from the stack's outputs (Chalice's EndpointURL ends in `/api/`)."""
    if "EndpointURL" not in outputs:
        raise DeployError("the stack has no EndpointURL output: is it this app's stack?")
    api = outputs["EndpointURL"].rstrip("/")
    urls = {"API": api, "Console (merchant sign-in)": api + "/console"}
    urls.update({what: api + path for what, path in PASTE_INTO_WECHAT.items()})
    return urls


def describe(urls: dict[str, str], outputs: dict[str, str], notify_filled: bool, stage: str) -> str:
    width = max(len(k) for k in urls)
    lines = [f"Stage {stage} is deployed.", ""]
    lines += [f"  {what.ljust(width)}  {url}" for what, url in urls.items()]
    lines.append("")
    lines.append(f"  Check it: make smoke BASE_URL={urls['API']}")
    if notify_filled:
        lines.append(f"  WECHATPAY_NOTIFY_BASE_URL was unset: now {urls['API']} (in {secret_id(stage, 'wechatpay')})")
    if "AlarmTopicArn" in outputs:
        lines.append(f"  Alarms go to {outputs['AlarmTopicArn']}: pass ALARM_EMAIL=you@example.com to subscribe "
                     "(confirm the e-mail AWS sends)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the AWS calls


def _artifacts_bucket(s3, account: str, region: str) -> str:
    from botocore.exceptions import ClientError

    bucket = f"{APP}-deploy-{account}-{region}"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
    return bucket


def deploy_stack(session, region: str, stage: str, package_dir: Path, alarm_email: str | None,
                 image_domain: str | None = None, image_certificate_arn: str | None = None) -> dict[str, str]:
    """Upload the package and apply it as one change set; the stack's outputs."""
    s3 = session.create_client("s3", region_name=region)
    cfn = session.create_client("cloudformation", region_name=region)
    account = session.create_client("sts", region_name=region).get_caller_identity()["Account"]
    bucket = _artifacts_bucket(s3, account, region)
    zip_bytes = (package_dir / "deployment.zip").read_bytes()
    code_key = f"{stage}/{hashlib.sha256(zip_bytes).hexdigest()}.zip"
    print(f"deploy: uploading the code to s3://{bucket}/{code_key}", flush=True)
    s3.put_object(Bucket=bucket, Key=code_key, Body=zip_bytes)
    template = with_uploaded_code(json.loads((package_dir / "sam.json").read_text()), bucket, code_key)
    body = json.dumps(template).encode()
    template_key = f"{stage}/{hashlib.sha256(body).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=template_key, Body=body)
    name = stack_name(stage)
    status = stack_state(cfn, name)
    kind = change_set_type(status, name)
    change_set = f"deploy-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"deploy: change set {change_set} ({kind}) on stack {name}", flush=True)
    cfn.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType=kind,
                          TemplateURL=f"https://{bucket}.s3.{region}.amazonaws.com/{template_key}",
                          Parameters=parameters(stage, alarm_email,
                                                stack_parameter_keys(cfn, name) if kind == "UPDATE" else set(),
                                                image_domain=image_domain,
                                                image_certificate_arn=image_certificate_arn),
                          Capabilities=CAPABILITIES)
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter("change_set_create_complete").wait(StackName=name, ChangeSetName=change_set)
    except WaiterError:
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        if no_changes(described):
            print("deploy: nothing changed in the stack", flush=True)
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            return outputs_of(cfn, name)
        raise DeployError(f"change set {change_set} failed: {described.get('StatusReason')}") from None
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    print("deploy: applying (a first creation takes a few minutes) ...", flush=True)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    except WaiterError as exc:
        raise DeployError(f"stack {name} did not finish: {exc}. Its events in the CloudFormation console "
                          "say why; a failed update rolls back by itself") from None
    return outputs_of(cfn, name)


def check_stage(stage: str) -> None:
    """The pattern of infra's Stage parameter (it names the table, queues and functions)."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}", stage or ""):
        raise DeployError(f"STAGE={stage!r}: a lower-case letter, then up to 15 lower-case letters, digits or '-'")


def run(stage: str, alarm_email: str | None, region: str | None, skip_package: bool = False,
        image_domain: str | None = None, image_certificate_arn: str | None = None) -> int:
    import botocore.session

    check_stage(stage)
    check_image_domain(image_domain, image_certificate_arn)
    session = botocore.session.get_session()
    if region:
        session.set_config_variable("region", region)
    region = require_credentials(session)
    sm = session.create_client("secretsmanager", region_name=region)
    report = ensure_secrets(sm, stage)
    for sid in report.created:
        print(f"deploy: created secret {sid} (every setting named, placeholder {PLACEHOLDER!r})", flush=True)
    for sid, names in report.completed.items():
        print(f"deploy: added to {sid}: {', '.join(names)}", flush=True)
    if not report.ready:
        raise DeployError(refusal(report, region))
    from local.package import OUT_DIR, package

    package_dir = OUT_DIR if skip_package else package(stage, OUT_DIR, lint=True, if_stale=True)
    outputs = deploy_stack(session, region, stage, package_dir, alarm_email, image_domain, image_certificate_arn)
    urls = stage_urls(outputs)
    filled = fill_notify_base_url(sm, stage, urls["API"])
    print(describe(urls, outputs, filled, stage), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--alarm-email", default=None, help="subscribed to the alarm topic")
    parser.add_argument("--region", default=None)
    parser.add_argument("--skip-package", action="store_true", help="deploy build/package as it is")
    parser.add_argument("--image-domain", default=None, help="the merchant's own domain for images")
    parser.add_argument("--image-certificate-arn", default=None, help="its ACM certificate, in us-east-1")
    args = parser.parse_args(argv)
    return run(args.stage, args.alarm_email or None, args.region, args.skip_package,
               args.image_domain or None, args.image_certificate_arn or None)


if __name__ == "__main__":
    sys.exit(main())
