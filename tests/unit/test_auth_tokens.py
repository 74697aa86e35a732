import pytest

from layers.auth import issue_shopper_token, verify_admin_key, verify_shopper_token
from layers.domain import errors


def test_token_round_trip_and_expiry():
    token, ttl = issue_shopper_token("u_1", now=1_000_000)
    assert verify_shopper_token(token, now=1_000_000 + ttl - 1) == "u_1"
    with pytest.raises(errors.Unauthorized):
        verify_shopper_token(token, now=1_000_000 + ttl + 1)


def test_tampered_token_is_refused():
    token, _ = issue_shopper_token("u_1")
    user, expires, mac = token.rsplit(".", 2)
    for forged in (f"u_2.{expires}.{mac}", f"{user}.{int(expires) + 10}.{mac}", "junk", ""):
        with pytest.raises(errors.Unauthorized):
            verify_shopper_token(forged)


def test_shopper_token_is_not_an_admin_key():
    token, _ = issue_shopper_token("u_1")
    with pytest.raises(errors.Unauthorized):
        verify_admin_key(token)
