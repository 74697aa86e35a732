"""The user repository: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid

import pytest

from layers.domain.users import user_id_for


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def users(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.users import MemoryUserRepository

        return MemoryUserRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.users import DynamoUserRepository

    return DynamoUserRepository()


class TestUserRepository:
    def test_first_login_creates_later_ones_refresh(self, users):
        openid = "o-" + uuid.uuid4().hex
        first = users.upsert_user(openid, None, "2026-01-01T00:00:00Z")
        assert first.user_id == user_id_for(openid) and first.openid == openid
        assert first.created_at == first.last_login_at == "2026-01-01T00:00:00Z"
        again = users.upsert_user(openid, "union-1", "2026-01-02T00:00:00Z")
        assert again.user_id == first.user_id
        assert again.created_at == "2026-01-01T00:00:00Z"
        assert again.last_login_at == "2026-01-02T00:00:00Z" and again.unionid == "union-1"
        assert users.get_user(first.user_id) == again

    def test_unknown_user_is_none(self, users):
        assert users.get_user("u_" + uuid.uuid4().hex[:24]) is None
