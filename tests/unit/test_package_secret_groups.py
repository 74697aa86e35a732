"""`make package` gives each function the SHOP_SECRET_GROUPS of infra's Metadata.SecretGroups
and refuses a template where a role may read another secret, or a function has no entry."""

from __future__ import annotations

import copy

import pytest

from local.package import _secret_resource, set_secret_groups


def _template(granted: list[str], groups: list[str]) -> dict:
    statement = {"Sid": "ReadSettingsSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                 "Resource": [{"Fn::Sub": _secret_resource(g)} for g in granted]}
    return {"Metadata": {"SecretGroups": {"Description": "...", "Fn": groups}},
            "Resources": {
                "Fn": {"Type": "AWS::Serverless::Function",
                       "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
                "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
                    {"PolicyName": "p", "PolicyDocument": {"Statement": [statement] if granted else []}}]}}}}


def test_the_function_gets_its_groups_when_its_role_grants_exactly_them():
    template = _template(["wechat", "wechatpay"], ["wechat", "wechatpay"])
    set_secret_groups(template)
    assert template["Resources"]["Fn"]["Properties"]["Environment"]["Variables"] == {
        "SHOP_SECRET_GROUPS": "wechat,wechatpay"}
    empty = _template([], [])
    set_secret_groups(empty)
    assert empty["Resources"]["Fn"]["Properties"]["Environment"]["Variables"] == {"SHOP_SECRET_GROUPS": ""}


@pytest.mark.parametrize("granted,groups,problem", [
    (["wechat", "wechatpay", "api"], ["wechat", "wechatpay"], "must grant exactly"),  # more than it reads
    (["wechat"], ["wechat", "wechatpay"], "must grant exactly"),                     # less
    (["wechat", "nope"], ["wechat", "nope"], "no settings group 'nope'"),
])
def test_a_role_that_grants_another_secret_fails_the_build(granted, groups, problem):
    with pytest.raises(SystemExit, match=problem):
        set_secret_groups(_template(granted, groups))


def test_a_function_without_an_entry_fails_the_build():
    template = _template(["wechat"], ["wechat"])
    other = copy.deepcopy(template["Resources"]["Fn"])
    template["Resources"]["Other"] = other
    with pytest.raises(SystemExit, match="Other has no entry"):
        set_secret_groups(template)
