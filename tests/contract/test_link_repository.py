"""One contract for the link repository: the in-memory twin (tests/fakes/links.py) and
DynamoDB's (layers/storage/links.py) answer alike: claims, take-overs, lists."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import links as rules


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def links(request):
    if request.param == "memory":
        from tests.fakes.links import MemoryLinks
        from tests.fakes.memory import MemoryStore

        return MemoryLinks(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.links import DynamoLinks

    return DynamoLinks()


def _link(channel: str, at: datetime, kind: str = "url_link"):
    return rules.prepare(kind, "pages/index/index", "a=1", channel, None if kind == "qrcode" else 7, now=at,
                         link_id="l" + uuid.uuid4().hex[:20], request_hash="h")


def test_a_claim_finishes_into_the_lists_and_reads_back(links):
    channel = "c" + uuid.uuid4().hex[:8]
    at = datetime(2026, 12, 1, tzinfo=UTC)
    link = _link(channel, at)
    assert links.claim(link, None) and not links.claim(link, None)
    assert links.get(link.link_id) == link
    assert links.listed(channel, 10, None) == ([], None)  # a claim is in no list
    done = rules.ready(link, url="https://wxaurl.cn/x")
    assert links.finish(done) and links.get(link.link_id) == done
    pending = _link(channel, at + timedelta(seconds=1), "qrcode")
    code = rules.ready(pending, image_key="link-codes/x")
    assert links.claim(pending, None) and links.finish(code)
    found, _ = links.listed(channel, 10, None)
    assert found == [code, done]
    first, cursor = links.listed(channel, 1, None)
    assert first == [code] and links.listed(channel, 1, cursor)[0] == [done]
    assert done in links.listed(None, 1000, None)[0]


def test_a_stale_claim_is_taken_over_once_and_its_creator_can_neither_finish_nor_release(links):
    link = _link("sms", datetime(2026, 12, 1, tzinfo=UTC))
    assert links.claim(link, None)
    taken = rules.reclaimed(link, datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    assert links.claim(taken, link) and not links.claim(replace(taken, claimed_at="2026-12-01T00:06:00Z"), link)
    assert not links.finish(rules.ready(link, url="https://wxaurl.cn/old"))
    links.release(link)
    assert links.get(link.link_id) == taken
    links.release(taken)
    assert links.get(link.link_id) is None
