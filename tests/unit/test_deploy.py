"""`make deploy`'s decisions (local/deploy.py) against botocore's Stubber: no AWS account.
The secrets are created with every setting's name and the placeholder, completed when a
name is missing, never overwritten; the deploy refuses while a required setting holds
the placeholder; without credentials it stops before any call; the URLs printed come
from the stack's outputs and are routes of the app."""

from __future__ import annotations

import json
import subprocess
import sys

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from layers.config import OPTIONAL_SETTINGS, SECRET_GROUPS
from layers.storage.pii import keyring, new_key
from local import deploy
from local.deploy import PLACEHOLDER, DeployError

STAGE = "prod"


def _client(service: str):
    session = botocore.session.get_session()
    return session.create_client(service, region_name="ap-east-1", aws_access_key_id="x",
                                 aws_secret_access_key="x")


def _not_found(stub: Stubber, sid: str) -> None:
    stub.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException",
                          service_message="Secrets Manager can't find the specified secret.",
                          expected_params={"SecretId": sid})


def _found(stub: Stubber, sid: str, values: dict) -> None:
    stub.add_response("get_secret_value", {"Name": sid, "SecretString": json.dumps(values)},
                      expected_params={"SecretId": sid})


PII_KEY = new_key()


def _filled(group: str) -> dict:
    return {name: ("" if name in OPTIONAL_SETTINGS else PII_KEY if name == "PII_KEY" else f"real-{name}")
            for name in SECRET_GROUPS[group]}


def _new_stage(legacy: dict | None):
    """ensure_secrets where no group secret exists; `legacy` is the secret of before the
    split (None: there is none), read once. The report and the values each secret was
    created with."""
    sm = _client("secretsmanager")
    created = {}
    with Stubber(sm) as stub:
        for i, group in enumerate(SECRET_GROUPS):
            sid = f"wechat-shop/{STAGE}/{group}"
            _not_found(stub, sid)
            if i == 0:
                (_not_found(stub, f"wechat-shop/{STAGE}") if legacy is None
                 else _found(stub, f"wechat-shop/{STAGE}", legacy))
            stub.add_response("create_secret", {"Name": sid},
                              expected_params={"Name": sid, "SecretString": ANY, "Description": ANY})
        real_create = sm.create_secret

        def create_secret(**kwargs):
            created[kwargs["Name"]] = json.loads(kwargs["SecretString"])
            return real_create(**kwargs)

        sm.create_secret = create_secret
        report = deploy.ensure_secrets(sm, STAGE)
        stub.assert_no_pending_responses()
    return report, created


def test_a_new_stage_gets_every_secret_with_every_name_and_the_deploy_refuses():
    report, created = _new_stage(None)  # no secret of before the split either
    assert report.created == [f"wechat-shop/{STAGE}/{g}" for g in SECRET_GROUPS]
    for group, names in SECRET_GROUPS.items():
        values = created[f"wechat-shop/{STAGE}/{group}"]
        assert list(values) == list(names)
    # TOKEN_SECRET and PII_KEY are generated, PII_KEYS (retired keys) starts empty;
    # everything else is the placeholder.
    api = created[f"wechat-shop/{STAGE}/api"]
    token = api["TOKEN_SECRET"]
    assert token != PLACEHOLDER and len(token) == 64
    assert keyring(api["PII_KEY"]).current == "v1" and api["PII_KEYS"] == ""
    assert created[f"wechat-shop/{STAGE}/wechat"] == {"WECHAT_APPID": PLACEHOLDER, "WECHAT_APP_SECRET": PLACEHOLDER}
    assert not report.ready
    assert report.unset[f"wechat-shop/{STAGE}/wechat"] == ["WECHAT_APPID", "WECHAT_APP_SECRET"]
    # The notify base URL is the deploy's to fill; TOKEN_SECRET is there already.
    assert "WECHATPAY_NOTIFY_BASE_URL" not in report.unset[f"wechat-shop/{STAGE}/wechatpay"]
    assert report.unset[f"wechat-shop/{STAGE}/api"] == ["ADMIN_API_KEY", "WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY"]
    message = deploy.refusal(report, "ap-east-1")
    assert "WECHAT_APP_SECRET" in message and "Nothing was deployed" in message


def test_a_stage_deployed_before_the_split_seeds_the_group_secrets_from_its_one_secret():
    legacy = {**_filled("wechat"), **_filled("wechatpay"), **_filled("api"), "WECHATPAY_NOTIFY_BASE_URL": PLACEHOLDER}
    report, created = _new_stage(legacy)
    assert report.ready
    for group, names in SECRET_GROUPS.items():
        expected = {n: legacy[n] for n in names}
        assert created[f"wechat-shop/{STAGE}/{group}"] == expected


def test_an_existing_secret_is_completed_never_overwritten_and_only_placeholders_refuse():
    sm = _client("secretsmanager")
    wechatpay = _filled("wechatpay")
    del wechatpay["WECHATPAY_MERCHANT_SERIAL"]  # a setting added by a later version of the app
    api = {**_filled("api"), "WECHAT_PUSH_AES_KEY": PLACEHOLDER}
    with Stubber(sm) as stub:
        _found(stub, f"wechat-shop/{STAGE}/wechat", _filled("wechat"))
        _found(stub, f"wechat-shop/{STAGE}/wechatpay", wechatpay)
        stub.add_response("put_secret_value", {"Name": f"wechat-shop/{STAGE}/wechatpay"}, expected_params={
            "SecretId": f"wechat-shop/{STAGE}/wechatpay",
            "SecretString": json.dumps({**wechatpay, "WECHATPAY_MERCHANT_SERIAL": PLACEHOLDER})})
        _found(stub, f"wechat-shop/{STAGE}/api", api)
        report = deploy.ensure_secrets(sm, STAGE)
        stub.assert_no_pending_responses()
    assert report.created == []
    assert report.completed == {f"wechat-shop/{STAGE}/wechatpay": ["WECHATPAY_MERCHANT_SERIAL"]}
    assert report.unset == {f"wechat-shop/{STAGE}/wechatpay": ["WECHATPAY_MERCHANT_SERIAL"],
                            f"wechat-shop/{STAGE}/api": ["WECHAT_PUSH_AES_KEY"]}


def test_a_stage_from_before_addresses_gets_its_pii_key_generated_once_and_is_ready():
    """The api secret of a stage deployed before the address book names neither PII_KEY nor
    PII_KEYS: the key is generated (nobody has to type one), PII_KEYS starts empty, and the
    deploy goes on. A PII_KEY already there is never replaced: it opens every saved address."""
    sm = _client("secretsmanager")
    before = {k: v for k, v in _filled("api").items() if not k.startswith("PII_")}
    written = {}
    with Stubber(sm) as stub:
        _found(stub, f"wechat-shop/{STAGE}/wechat", _filled("wechat"))
        _found(stub, f"wechat-shop/{STAGE}/wechatpay", _filled("wechatpay"))
        _found(stub, f"wechat-shop/{STAGE}/api", before)
        stub.add_response("put_secret_value", {"Name": f"wechat-shop/{STAGE}/api"},
                          expected_params={"SecretId": f"wechat-shop/{STAGE}/api", "SecretString": ANY})
        real_put = sm.put_secret_value

        def put_secret_value(**kwargs):
            written.update(json.loads(kwargs["SecretString"]))
            return real_put(**kwargs)

        sm.put_secret_value = put_secret_value
        report = deploy.ensure_secrets(sm, STAGE)
        stub.assert_no_pending_responses()
    assert report.ready and report.completed == {f"wechat-shop/{STAGE}/api": ["PII_KEY", "PII_KEYS"]}
    assert {k: v for k, v in written.items() if not k.startswith("PII_")} == before
    assert keyring(written["PII_KEY"]).current == "v1" and written["PII_KEYS"] == ""

    kept = {**before, "PII_KEY": written["PII_KEY"], "PII_KEYS": ""}
    with Stubber(sm) as stub:  # the next deploy: nothing to add, nothing written
        _found(stub, f"wechat-shop/{STAGE}/wechat", _filled("wechat"))
        _found(stub, f"wechat-shop/{STAGE}/wechatpay", _filled("wechatpay"))
        _found(stub, f"wechat-shop/{STAGE}/api", kept)
        assert deploy.ensure_secrets(sm, STAGE).ready
        stub.assert_no_pending_responses()
    # A PII_KEY someone emptied is asked for, never generated anew over saved addresses.
    assert deploy.missing_values("api", {**kept, "PII_KEY": ""}) == ["PII_KEY"]


def test_filled_secrets_are_ready_and_the_public_key_pair_may_be_empty_but_not_the_placeholder():
    assert deploy.missing_values("wechatpay", _filled("wechatpay")) == []
    assert deploy.missing_values("wechatpay", {**_filled("wechatpay"), "WECHATPAY_PUBLIC_KEY": PLACEHOLDER}) == [
        "WECHATPAY_PUBLIC_KEY"]
    assert deploy.missing_values("wechat", {"WECHAT_APPID": "wx1", "WECHAT_APP_SECRET": ""}) == ["WECHAT_APP_SECRET"]
    sm = _client("secretsmanager")
    with Stubber(sm) as stub:
        for group in SECRET_GROUPS:
            _found(stub, f"wechat-shop/{STAGE}/{group}", _filled(group))
        assert deploy.ensure_secrets(sm, STAGE).ready


def test_a_secret_that_is_not_json_stops_the_deploy():
    sm = _client("secretsmanager")
    with Stubber(sm) as stub:
        stub.add_response("get_secret_value", {"SecretString": "not json"})
        with pytest.raises(DeployError, match="not a JSON object"):
            deploy.ensure_secrets(sm, STAGE)


def test_the_notify_base_url_is_filled_with_the_api_url_only_when_unset():
    api_url = "https://abc.execute-api.ap-east-1.amazonaws.com/api"
    sm = _client("secretsmanager")
    sid = f"wechat-shop/{STAGE}/wechatpay"
    unset = {**_filled("wechatpay"), "WECHATPAY_NOTIFY_BASE_URL": PLACEHOLDER}
    with Stubber(sm) as stub:
        _found(stub, sid, unset)
        stub.add_response("put_secret_value", {"Name": sid}, expected_params={
            "SecretId": sid, "SecretString": json.dumps({**unset, "WECHATPAY_NOTIFY_BASE_URL": api_url})})
        assert deploy.fill_notify_base_url(sm, STAGE, api_url) is True
        _found(stub, sid, {**unset, "WECHATPAY_NOTIFY_BASE_URL": "https://shop.example.com"})
        assert deploy.fill_notify_base_url(sm, STAGE, api_url) is False  # a custom domain stays
        stub.assert_no_pending_responses()


def test_the_urls_come_from_the_stack_outputs_and_are_routes_of_the_app():
    outputs = {"EndpointURL": "https://abc.execute-api.ap-east-1.amazonaws.com/api/",
               "AlarmTopicArn": "arn:aws:sns:ap-east-1:1:t"}
    urls = deploy.stage_urls(outputs)
    base = "https://abc.execute-api.ap-east-1.amazonaws.com/api"
    assert urls["API"] == base
    assert urls["Console (merchant sign-in)"] == base + "/console"
    assert {u for k, u in urls.items() if "notify" in k} == {
        base + "/wechatpay/notify", base + "/wechatpay/refund-notify", base + "/wechatpay/transfer-notify"}
    assert base + "/wechat/message-push" in urls.values()
    text = deploy.describe(urls, outputs, True, STAGE)
    assert f"make smoke BASE_URL={base}" in text and "WECHATPAY_NOTIFY_BASE_URL" in text
    from app import app

    paths = {r for r in app.routes}
    for path in [*deploy.PASTE_INTO_WECHAT.values(), "/console"]:
        assert path in paths, path
    assert set(app.routes["/wechatpay/notify"]) == {"POST"}
    with pytest.raises(DeployError, match="EndpointURL"):
        deploy.stage_urls({})


def test_the_stack_is_created_updated_or_refused_by_its_status():
    cfn = _client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", service_error_code="ValidationError",
                              service_message="Stack with id wechat-shop-prod does not exist")
        assert deploy.stack_state(cfn, "wechat-shop-prod") is None
        stub.add_response("describe_stacks", {"Stacks": [{"StackName": "wechat-shop-prod", "CreationTime": "2026-01-01",
                                                          "StackStatus": "UPDATE_COMPLETE"}]})
        assert deploy.stack_state(cfn, "wechat-shop-prod") == "UPDATE_COMPLETE"
    assert deploy.change_set_type(None, "s") == "CREATE"
    assert deploy.change_set_type("UPDATE_ROLLBACK_COMPLETE", "s") == "UPDATE"
    with pytest.raises(DeployError, match="delete-stack"):
        deploy.change_set_type("ROLLBACK_COMPLETE", "s")
    with pytest.raises(DeployError, match="wait"):
        deploy.change_set_type("UPDATE_IN_PROGRESS", "s")
    # The e-mail given, else the one the stack has, else none on a first creation.
    had = {"Stage", "SecretId", "AlarmEmail", "ImageDomain", "ImageCertificateArn"}
    assert {"ParameterKey": "AlarmEmail", "UsePreviousValue": True} in deploy.parameters(STAGE, None, had)
    assert not [p for p in deploy.parameters(STAGE, None) if p["ParameterKey"] == "AlarmEmail"]
    assert {"ParameterKey": "AlarmEmail", "ParameterValue": "a@b.c"} in deploy.parameters(STAGE, "a@b.c", had)
    assert {"ParameterKey": "SecretId", "ParameterValue": "wechat-shop/prod"} in deploy.parameters(STAGE, None)
    assert deploy.no_changes({"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."})
    assert not deploy.no_changes({"Status": "FAILED", "StatusReason": "Template error"})
    # The images' own domain likewise: a later deploy that does not name it keeps it.
    kept = deploy.parameters(STAGE, None, had)
    assert {"ParameterKey": "ImageDomain", "UsePreviousValue": True} in kept
    assert {"ParameterKey": "ImageCertificateArn", "UsePreviousValue": True} in kept
    given = deploy.parameters(STAGE, None, had, image_domain="img.example.com", image_certificate_arn=CERT)
    assert {"ParameterKey": "ImageDomain", "ParameterValue": "img.example.com"} in given
    assert {"ParameterKey": "ImageCertificateArn", "ParameterValue": CERT} in given
    assert not [p for p in deploy.parameters(STAGE, None) if p["ParameterKey"].startswith("Image")]
    # A stack from before the images' parameters: CloudFormation refuses UsePreviousValue
    # for a parameter the stack does not have, so none is asked for.
    older = deploy.parameters(STAGE, None, {"Stage", "SecretId", "AlarmEmail"})
    assert [p["ParameterKey"] for p in older if p.get("UsePreviousValue")] == ["AlarmEmail"]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "wechat-shop-prod", "CreationTime": "2026-01-01", "StackStatus": "UPDATE_COMPLETE",
            "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "prod"},
                           {"ParameterKey": "AlarmEmail", "ParameterValue": "a@b.c"}]}]})
        assert deploy.stack_parameter_keys(cfn, "wechat-shop-prod") == {"Stage", "AlarmEmail"}
        stub.add_client_error("describe_stacks", service_error_code="ValidationError",
                              service_message="Stack with id wechat-shop-prod does not exist")
        assert deploy.stack_parameter_keys(cfn, "wechat-shop-prod") == set()

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_an_image_domain_needs_its_certificate_in_us_east_1():
    deploy.check_image_domain(None, None)
    deploy.check_image_domain("img.example.com", CERT)
    with pytest.raises(DeployError, match="go together"):
        deploy.check_image_domain("img.example.com", None)
    with pytest.raises(DeployError, match="us-east-1"):
        deploy.check_image_domain("img.example.com", CERT.replace("us-east-1", "ap-shanghai-1"))
    with pytest.raises(DeployError, match="host name"):
        deploy.check_image_domain("https://img.example.com/", CERT)


def test_every_function_runs_the_uploaded_code():
    template = {"Resources": {"A": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
                              "T": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}
    out = deploy.with_uploaded_code(template, "bkt", "prod/x.zip")
    assert out["Resources"]["A"]["Properties"]["CodeUri"] == {"Bucket": "bkt", "Key": "prod/x.zip"}
    assert template["Resources"]["A"]["Properties"]["CodeUri"] == "./deployment.zip"


def test_without_credentials_make_deploy_stops_with_a_clear_message_before_any_call(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_REGION": "ap-east-1"}
    proc = subprocess.run([sys.executable, "-m", "local.deploy", "--stage", "prod"], cwd=deploy.ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "no AWS credentials found" in proc.stderr and "Nothing was changed" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "local.deploy", "--stage", "Prod!"], cwd=deploy.ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "STAGE=" in proc.stderr


def test_a_stage_chalice_config_does_not_list_still_runs_as_itself():
    from local.package import pin_function_stage

    template = {"Resources": {"A": {"Type": "AWS::Serverless::Function",
                                    "Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "shop"}}}},
                              "B": {"Type": "AWS::Serverless::Function", "Properties": {}}}}
    pin_function_stage(template, "staging")
    assert template["Resources"]["A"]["Properties"]["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "shop", "STAGE": "staging"}
    assert template["Resources"]["B"]["Properties"]["Environment"]["Variables"] == {"STAGE": "staging"}


def _ensure_with_api(api: dict) -> deploy.SecretsReport:
    """ensure_secrets on a stage whose secrets all exist, the api group's being `api`."""
    sm = _client("secretsmanager")
    with Stubber(sm) as stub:
        for group, values in (("wechat", _filled("wechat")), ("wechatpay", _filled("wechatpay")), ("api", api)):
            _found(stub, f"wechat-shop/{STAGE}/{group}", values)
        report = deploy.ensure_secrets(sm, STAGE)
        stub.assert_no_pending_responses()
    return report


@pytest.mark.parametrize("pii_key, pii_keys, reason", [
    ("v1:not-base64!", "", "PII_KEY: key v1 is not base64"),
    ("v1:" + "QUJD", "", "PII_KEY: key v1 must be 32 bytes"),
    ("key-one", "", "PII_KEY: key v1 is not base64"),
    (None, "v2:" + "A" * 43 + "=", "PII_KEY is v1 but PII_KEYS holds the newer v2"),
])
def test_a_pii_key_that_does_not_parse_refuses_the_deploy_without_printing_it(pii_key, pii_keys, reason):
    """A malformed key would deploy and then fail every address: the deploy stops first,
    naming the setting and the version, never the key's text."""
    api = {**_filled("api"), "PII_KEY": pii_key or PII_KEY, "PII_KEYS": pii_keys}
    report = _ensure_with_api(api)
    assert report.unset == {} and not report.ready
    [found] = report.invalid[f"wechat-shop/{STAGE}/api"]
    assert found.startswith(reason)
    message = deploy.refusal(report, "ap-east-1")
    assert reason in message and "Nothing was deployed" in message
    for value in (api["PII_KEY"], pii_keys):
        if value:
            assert (value.partition(":")[2] or value) not in message


def test_a_well_formed_pii_key_with_a_retired_one_is_ready():
    current = "v2:" + new_key().partition(":")[2]
    report = _ensure_with_api({**_filled("api"), "PII_KEY": current, "PII_KEYS": PII_KEY})
    assert report.ready and report.invalid == {}
