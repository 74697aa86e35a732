"""Issue 15: in AWS the contract's settings come from Secrets Manager at run time (named by
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
