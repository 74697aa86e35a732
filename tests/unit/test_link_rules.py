"""The pure rules of links for channels (layers/domain/links.py): what a request may name,
and how the channel travels in a link's query and in a code's scene."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from layers.domain import errors
from layers.domain import links as rules

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def prepare(kind="url_link", path="pages/product/index", query="id=p1", channel="moments", days=None):
    return rules.prepare(kind, path, query, channel, days, now=NOW, link_id="l1")


def test_a_link_carries_channel_in_its_query_and_expires_in_30_days_by_default():
    link = prepare()
    assert link.opens == "id=p1&channel=moments"
    assert link.query == "id=p1"
    assert link.expires_at == "2026-12-31T02:00:00Z" and rules.days_of(link) == 30
    assert link.status == rules.LinkStatus.PENDING
    assert prepare(query=None).opens == "channel=moments"
    assert prepare(query="?a=1&&b=2").opens == "a=1&b=2&channel=moments"


def test_a_code_carries_the_channel_as_c_in_its_scene_and_does_not_expire():
    link = prepare(kind="qrcode", query="id=p1")
    assert link.opens == "id=p1&c=moments" and link.expires_at is None
    with pytest.raises(errors.InvalidRequest, match="32 characters"):
        prepare(kind="qrcode", query="product=p1234567890abcdefg", channel="poster_store")
    with pytest.raises(errors.InvalidRequest, match="does not expire"):
        prepare(kind="qrcode", days=7)


@pytest.mark.parametrize("channel", ["", "朋友圈", "Moments", "a" * 25, "sms 1", "sms&x", None, 3])
def test_a_channel_is_a_short_lowercase_ascii_tag(channel):
    with pytest.raises(errors.InvalidRequest) as refused:
        prepare(channel=channel)
    assert refused.value.details["field"] == "channel"


@pytest.mark.parametrize("channel", ["moments", "sms_1212", "poster-store3", "a" * 24])
def test_tags_that_fit(channel):
    assert prepare(channel=channel).channel == channel


@pytest.mark.parametrize("path", ["", "index", "pages/index/index?id=1", "pages/产品/index", "pages//index",
                                  "a/" * 70 + "b", None])
def test_a_path_is_a_page_without_a_query(path):
    with pytest.raises(errors.InvalidRequest):
        prepare(path=path)


def test_a_leading_slash_is_dropped_from_the_path():
    assert prepare(path="/pages/index/index").path == "pages/index/index"


@pytest.mark.parametrize("query", ["id=产品", "a=1 b", "a=<b>", "channel=x", "a=1&c=x", "novalue", "=1"])
def test_a_query_is_wechats_characters_in_pairs_and_names_no_channel(query):
    with pytest.raises(errors.InvalidRequest) as refused:
        prepare(query=query)
    assert refused.value.details["field"] == "query"


def test_the_query_with_the_channel_fits_1024_characters():
    assert len(prepare(query="a=" + "x" * (1024 - 2 - len("&channel=moments"))).opens) == 1024
    with pytest.raises(errors.InvalidRequest, match="1024"):
        prepare(query="a=" + "x" * 1020)


@pytest.mark.parametrize("days", [0, 31, -1, True, 1.5, "7"])
def test_a_link_expires_in_1_to_30_days(days):
    with pytest.raises(errors.InvalidRequest):
        prepare(days=days)


def test_kinds():
    assert prepare(kind="url_scheme", days=1).expires_at == "2026-12-02T02:00:00Z"
    with pytest.raises(errors.InvalidRequest):
        prepare(kind="short_link")


def test_a_keyed_link_id_is_the_same_for_the_same_key_and_the_hash_tells_requests_apart():
    assert rules.keyed_link_id("k1") == rules.keyed_link_id("k1") != rules.keyed_link_id("k2")
    assert rules.request_hash("url_link", "p/a", "", "sms", 30) != rules.request_hash("url_link", "p/a", "", "sms", 7)


def test_ready_needs_what_wechat_made_and_a_claim_goes_stale_after_a_minute():
    link = prepare()
    with pytest.raises(errors.InvalidState):
        rules.ready(link)
    assert rules.ready(link, url="https://wxaurl.cn/x").status == rules.LinkStatus.READY
    from datetime import timedelta

    assert not rules.stale(link, NOW + timedelta(seconds=60))
    assert rules.stale(link, NOW + timedelta(seconds=61))
    assert rules.expired(link, NOW + timedelta(days=30)) and not rules.expired(link, NOW + timedelta(days=29))
