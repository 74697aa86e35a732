import pytest

from layers.auth import (
    TokenClaims,
    derived_key,
    issue_shopper_token,
    verify_admin_key,
    verify_shopper_token,
)
from layers.config import reset_settings_cache
from layers.domain import errors


def test_token_round_trip_and_expiry():
    token, ttl = issue_shopper_token("u_1", 3, now=1_000_000)
    assert verify_shopper_token(token, now=1_000_000 + ttl - 1) == TokenClaims("u_1", 3)
    with pytest.raises(errors.Unauthorized):
        verify_shopper_token(token, now=1_000_000 + ttl + 1)


def test_tampered_token_is_refused():
    token, _ = issue_shopper_token("u_1")
    stage, user, version, expires, mac = token.split(".")
    for forged in (f"{stage}.u_2.{version}.{expires}.{mac}", f"{stage}.{user}.{version}.{int(expires) + 10}.{mac}",
                   f"{stage}.{user}.7.{expires}.{mac}", "junk", "", "a.b.c.d.é", f"{token}\u00e9", "x" * 600):
        with pytest.raises(errors.Unauthorized):
            verify_shopper_token(forged)


def test_a_token_carries_its_stage_and_another_stage_refuses_it(monkeypatch):
    token, _ = issue_shopper_token("u_1")
    assert token.split(".")[0] == "test"
    monkeypatch.setenv("STAGE", "prod")
    reset_settings_cache()
    try:
        with pytest.raises(errors.Unauthorized, match="another stage"):
            verify_shopper_token(token)
    finally:
        monkeypatch.undo()
        reset_settings_cache()


def test_tokens_and_cursors_are_signed_with_different_derived_keys():
    assert derived_key("token") != derived_key("cursor")
    assert len(derived_key("token")) == 32


def test_shopper_token_is_not_an_admin_key():
    token, _ = issue_shopper_token("u_1")
    with pytest.raises(errors.Unauthorized):
        verify_admin_key(token)
