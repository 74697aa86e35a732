"""The cart repository: in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import uuid

import pytest

from layers.domain.cart import CartLine


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def carts(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.users import MemoryCartRepository

        return MemoryCartRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.cart import DynamoCartRepository

    return DynamoCartRepository()


class TestCartRepository:
    def test_lines_put_replace_and_remove(self, carts):
        user = "u_" + uuid.uuid4().hex[:12]
        assert carts.lines(user) == []
        carts.put_line(CartLine(user, "s_b", 2, "2026-01-01T00:00:00Z"))
        carts.put_line(CartLine(user, "s_a", 1, "2026-01-01T00:00:01Z"))
        carts.put_line(CartLine(user, "s_b", 5, "2026-01-01T00:00:02Z"))
        assert carts.lines(user) == [CartLine(user, "s_a", 1, "2026-01-01T00:00:01Z"),
                                     CartLine(user, "s_b", 5, "2026-01-01T00:00:02Z")]
        carts.remove_line(user, "s_a")
        carts.remove_line(user, "s_never")
        assert [ln.sku_id for ln in carts.lines(user)] == ["s_b"]
        assert carts.lines("u_other_" + user) == []
