"""AuthService on the in-memory users and a fake mini-program client."""

from __future__ import annotations

import pytest

from layers.domain import errors
from layers.domain.users import user_id_for
from layers.services.auth import AuthService
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.users import FakeMiniProgram, MemoryUserRepository


@pytest.fixture
def auth():
    users = MemoryUserRepository(MemoryStore())
    service = AuthService(users=users, mini_program=FakeMiniProgram(),
                          issue_token=lambda user_id, version=0: (f"token-{user_id}", 3600), clock=FakeClock())
    return service, users


def test_login_issues_the_shops_token_for_the_openids_user(auth):
    service, users = auth
    answer = service.login("phone-1")
    assert answer == {"token": f"token-{user_id_for('o-phone-1')}", "expires_in": 3600,
                      "user": {"id": user_id_for("o-phone-1")}}
    assert service.login("phone-1")["user"] == answer["user"]
    assert users.get_user(answer["user"]["id"]).openid == "o-phone-1"


def test_a_refused_code_is_invalid_and_an_unreachable_wechat_is_unavailable(auth):
    service, _ = auth
    with pytest.raises(errors.InvalidCode):
        service.login("invalid-code")
    with pytest.raises(errors.UpstreamUnavailable):
        service.login("down-now")


# -- login rate limits and token versions --


def _limited(per_address=3, per_openid=2):
    from tests.fakes.rate_limits import MemoryRateLimiter

    store = MemoryStore()
    users = MemoryUserRepository(store)
    clock = FakeClock()
    issued = []
    service = AuthService(users=users, mini_program=FakeMiniProgram(),
                          issue_token=lambda user_id, version=0: (issued.append(version) or f"t{version}", 3600),
                          clock=clock, rate_limiter=MemoryRateLimiter(store),
                          login_limit_per_address=per_address, login_limit_per_openid=per_openid)
    return service, users, clock, issued


def test_logins_are_limited_per_openid_and_per_source_address():
    service, _, clock, _ = _limited(per_address=3, per_openid=2)
    service.login("a", "10.0.0.1")
    service.login("a", "10.0.0.2")
    with pytest.raises(errors.RateLimited):
        service.login("a", "10.0.0.3")  # third login of o-a this minute
    service.login("b", "10.0.0.1")
    service.login("c", "10.0.0.1")
    with pytest.raises(errors.RateLimited):
        service.login("d", "10.0.0.1")  # fourth from that address
    clock.advance(60)
    assert service.login("a", "10.0.0.1")["user"]["id"] == user_id_for("o-a")


def test_revoking_raises_the_version_and_refuses_older_tokens():
    service, users, _, issued = _limited(per_address=0, per_openid=0)
    user_id = service.login("a")["user"]["id"]
    assert issued == [0]
    service.versions.check(user_id, 0)
    assert service.revoke(user_id) == {"user_id": user_id, "token_version": 1}
    with pytest.raises(errors.Unauthorized, match="revoked"):
        service.versions.check(user_id, 0)
    service.login("a")
    assert issued == [0, 1]
    service.versions.check(user_id, 1)


def test_token_versions_known_checked_at_once_unknown_checked_on_a_read_of_the_user():
    from layers.services.auth import TokenVersions

    clock = [0.0]
    users = MemoryUserRepository(MemoryStore())
    versions = TokenVersions(users=users, ttl_s=30, monotonic=lambda: clock[0])
    assert versions.check_cached("u1", 0) is False  # not known: the caller reads it
    versions.check_read("u1", 0, current=0)
    assert versions.check_cached("u1", 0) is True
    with pytest.raises(errors.Unauthorized):
        versions.check_cached("u1", 1)
    clock[0] = 31  # stale: read again
    assert versions.check_cached("u1", 1) is False
    with pytest.raises(errors.Unauthorized):
        versions.check_read("u1", 0, current=2)
    assert versions.check_cached("u1", 2) is True  # what the read found is remembered
