"""In AWS the contract's settings come from Secrets Manager at run time (named by
SHOP_SECRET_ID, fetched once per container through Powertools' parameters utility);
locally, from the environment as before."""

from __future__ import annotations

from unittest import mock

from aws_lambda_powertools.utilities import parameters

from layers.config import load_settings, reset_settings_cache


def test_with_a_secret_id_the_settings_come_from_the_secret(monkeypatch):
    monkeypatch.setenv("SHOP_SECRET_ID", "wechat-shop/prod")
    monkeypatch.setenv("TOKEN_SECRET", "from-the-environment")
    secret = {"TOKEN_SECRET": "from-the-secret", "ADMIN_API_KEY": "k", "WECHATPAY_MERCHANT_PRIVATE_KEY": "PEM",
              "WECHAT_APPID": "wx123"}
    with mock.patch.object(parameters, "get_secret", return_value=secret) as get:
        s = load_settings()
    get.assert_called_once_with("wechat-shop/prod", transform="json", max_age=24 * 3600)
    assert (s.token_secret, s.admin_api_key, s.wechatpay_merchant_private_key, s.wechat_appid) == (
        "from-the-secret", "k", "PEM", "wx123")
    monkeypatch.delenv("SHOP_SECRET_ID")
    reset_settings_cache()
    load_settings()  # leaves nothing of the secret behind


def test_without_a_secret_id_nothing_is_fetched_and_the_environment_rules(monkeypatch):
    monkeypatch.delenv("SHOP_SECRET_ID", raising=False)
    monkeypatch.setenv("TOKEN_SECRET", "local")
    with mock.patch.object(parameters, "get_secret") as get:
        s = load_settings()
    get.assert_not_called()
    assert s.token_secret == "local"


def test_a_function_reads_only_the_secrets_of_its_groups(monkeypatch):
    """With SHOP_SECRET_GROUPS (set per function by `make package`), each group is its own
    secret `<SHOP_SECRET_ID>/<group>`; a group not named is never fetched."""
    monkeypatch.setenv("SHOP_SECRET_ID", "wechat-shop/prod")
    monkeypatch.setenv("SHOP_SECRET_GROUPS", "wechat,wechatpay")
    # Nothing to fall back on: a setting no secret gives comes from the environment.
    for name in ("TOKEN_SECRET", "ADMIN_API_KEY", "WECHAT_APPID", "WECHATPAY_MCHID", "WECHATPAY_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    secrets = {"wechat-shop/prod/wechat": {"WECHAT_APPID": "wx1", "WECHAT_APP_SECRET": "s"},
               "wechat-shop/prod/wechatpay": {"WECHATPAY_MCHID": "1900", "WECHATPAY_PUBLIC_KEY": ""},
               "wechat-shop/prod/api": {"TOKEN_SECRET": "t", "ADMIN_API_KEY": "k"}}
    with mock.patch.object(parameters, "get_secret", side_effect=lambda sid, **kw: secrets[sid]) as get:
        s = load_settings()
    assert [c.args[0] for c in get.call_args_list] == ["wechat-shop/prod/wechat", "wechat-shop/prod/wechatpay"]
    assert (s.wechat_appid, s.wechatpay_mchid, s.token_secret, s.admin_api_key) == ("wx1", "1900", None, None)
    assert s.wechatpay_public_key is None  # empty: platform-certificate mode

    monkeypatch.setenv("SHOP_SECRET_GROUPS", "")  # the analytics consumer: no secret at all
    with mock.patch.object(parameters, "get_secret") as get:
        s = load_settings()
    get.assert_not_called()
    assert s.wechat_appid is None
    monkeypatch.delenv("SHOP_SECRET_ID")
    monkeypatch.delenv("SHOP_SECRET_GROUPS")
    reset_settings_cache()
    load_settings()
