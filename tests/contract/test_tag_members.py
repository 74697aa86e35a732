"""What a grant needs of a customer tag's members (`TagMembers`, layers/domain/coupon_grant.py):
the fake here; the customers' storage joins the parameters when it implements the port
(a fixture answering the adapter and a function that makes a tag with given members)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(params=["fake", pytest.param("dynamodb", marks=pytest.mark.integration)])
def tags(request):
    """(the TagMembers, make(tag, user_ids) that gives `tag` exactly those members)."""
    if request.param == "dynamodb":
        request.getfixturevalue("dynamodb")
        from layers.domain.customers import Tag
        from layers.storage.customers import DynamoCustomerRepository, DynamoTagMembers

        customers = DynamoCustomerRepository()

        def make_tag(tag: str, user_ids: list[str]) -> None:
            customers.create_tag(Tag(name=tag, created_at="2026-12-06T00:00:00Z"))
            for user_id in user_ids:
                customers.set_tags(user_id, manual=(tag,))

        return DynamoTagMembers(customers), make_tag
    from tests.fakes.coupon_grants import FakeTagMembers

    members = FakeTagMembers()

    def make(tag: str, user_ids: list[str]) -> None:
        members.tags[tag] = list(user_ids)

    return members, make


def _walk(members, tag: str, limit: int) -> list[str]:
    seen, cursor = [], None
    while True:
        page, cursor = members.user_ids(tag, cursor, limit)
        assert len(page) <= limit
        seen += page
        if cursor is None:
            return seen


def test_a_tags_members_are_counted_and_walked_page_by_page_each_once(tags):
    members, make = tags
    tag = "t" + uuid.uuid4().hex[:8]
    ids = [f"u{i:03d}{uuid.uuid4().hex[:6]}" for i in range(23)]
    make(tag, ids)
    assert members.count(tag) == 23
    walked = _walk(members, tag, 5)
    assert sorted(walked) == sorted(ids) and len(set(walked)) == 23
    assert _walk(members, tag, 5) == walked  # a stable order: a cursor taken earlier resumes in it


def test_a_cursor_resumes_where_it_was_taken(tags):
    members, make = tags
    tag = "t" + uuid.uuid4().hex[:8]
    make(tag, [f"u{i}" for i in range(10)])
    first, cursor = members.user_ids(tag, None, 4)
    rest = _walk_from(members, tag, cursor, 4)
    assert first + rest == _walk(members, tag, 4)


def _walk_from(members, tag, cursor, limit):
    seen = []
    while cursor is not None:
        page, cursor = members.user_ids(tag, cursor, limit)
        seen += page
    return seen


def test_an_unknown_tag_has_no_count_and_an_empty_tag_ends_at_once(tags):
    members, make = tags
    assert members.count("no-such-" + uuid.uuid4().hex[:6]) is None
    tag = "t" + uuid.uuid4().hex[:8]
    make(tag, [])
    assert members.count(tag) == 0
    assert members.user_ids(tag, None, 100) == ([], None)
