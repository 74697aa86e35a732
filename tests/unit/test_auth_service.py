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
                          issue_token=lambda user_id: (f"token-{user_id}", 3600), clock=FakeClock())
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
