"""One suite, two stores: the in-memory promotion pool that service tests use behaves as
the DynamoDB one does (absent until put, a put replaces the whole pool, read back as put)."""

from __future__ import annotations

import pytest

from layers.domain.distribution_pool import Pool


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def repo(request):
    if request.param == "memory":
        from tests.fakes.distribution_pool import MemoryPoolRepository
        from tests.fakes.memory import MemoryStore

        yield MemoryPoolRepository(MemoryStore())
        return
    request.getfixturevalue("dynamodb")
    from layers.storage.distribution_pool import POOL_KEY, DynamoPoolRepository, PoolItem

    # The table is shared with the integration tests: start from "never chosen", leave it so.
    PoolItem(*POOL_KEY).delete()
    yield DynamoPoolRepository()
    PoolItem(*POOL_KEY).delete()


class Stale(Exception):
    pass


def test_a_pool_never_put_is_none_and_a_put_replaces_it_whole(repo):
    assert repo.get(fresh=True) is None
    listed = Pool(all=False, product_ids=tuple(f"p_{i:04d}" for i in range(2000)), updated_at="2026-12-06T07:00:00Z",
                  version=1)
    repo.put(listed, on_stale=Stale)
    assert repo.get(fresh=True) == listed
    assert repo.get() == listed  # the memo, where there is one, is the value just written
    repo.put(Pool(all=True, updated_at="2026-12-06T08:00:00Z", version=2), on_stale=Stale)
    again = repo.get(fresh=True)
    assert again.all and again.product_ids == () and (again.updated_at, again.version) == ("2026-12-06T08:00:00Z", 2)
    empty = Pool(all=False, updated_at="2026-12-06T09:00:00Z", version=3)
    repo.put(empty, on_stale=Stale)
    assert repo.get(fresh=True) == empty and not repo.get().allows("p_0001")


def test_a_put_decided_from_an_older_version_is_stale_and_changes_nothing(repo):
    with pytest.raises(Stale):
        repo.put(Pool(all=True, version=2), on_stale=Stale)  # nothing stored: only version 1 goes
    repo.put(Pool(all=False, product_ids=("p_a",), version=1), on_stale=Stale)
    for version in (1, 3):
        with pytest.raises(Stale):
            repo.put(Pool(all=True, version=version), on_stale=Stale)
    assert repo.get(fresh=True).product_ids == ("p_a",)
