"""The category repository on DynamoDB Local: counts moved in the writing transaction make
deleting a category in use fail its condition, whatever the interleaving."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from layers.domain import errors
from layers.domain.storefront import Category

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(dynamodb):
    from layers.storage.storefront import DynamoCategoryRepository

    return DynamoCategoryRepository()


def _put(repo, category: Category, create=True):
    from layers.storage.tx import Tx

    tx = Tx()
    repo.stage_put(tx, category, create=create)
    tx.commit()


def test_a_category_reads_back_and_lists(repo):
    c = Category(f"c_{uuid.uuid4().hex[:10]}", "茶叶", None, 3, "https://img/x.png", "2026-12-05T00:00:00Z")
    _put(repo, c)
    assert repo.get(c.category_id) == c
    assert c in repo.list_all()
    with pytest.raises(errors.InvalidState):
        _put(repo, c)  # created twice
    with pytest.raises(errors.NotFound):
        _put(repo, Category("c_missing", "x"), create=False)


def test_deleting_races_a_product_naming_it_and_exactly_one_wins(repo):
    from layers.storage.tx import Tx

    for _ in range(5):
        c = Category(f"c_{uuid.uuid4().hex[:10]}", "器具", created_at="2026-12-05T00:00:00Z")
        _put(repo, c)

        def name_it(c=c):
            tx = Tx()
            repo.stage_count(tx, c.category_id, products=1)
            tx.commit()
            return "named"

        def delete_it(c=c):
            tx = Tx()
            repo.stage_delete(tx, c.category_id)
            tx.commit()
            return "deleted"

        outcomes = []
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(name_it), pool.submit(delete_it)]:
                try:
                    outcomes.append(f.result())
                except (errors.NotFound, errors.InUse) as exc:
                    outcomes.append(type(exc).__name__)
        # either the product named it first (the delete is IN_USE), or the delete went first
        # (the product's write finds no category): never a product naming a deleted category
        assert sorted(outcomes) in (["InUse", "named"], ["NotFound", "deleted"]), outcomes
        exists = repo.get(c.category_id) is not None
        assert exists == ("named" in outcomes)
