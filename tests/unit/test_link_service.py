"""LinkService on fakes: a retried create makes one link, WeChat's refusals are 4xx with
codes, an unknown outcome is 503 with nothing stored, lists are newest first by channel."""

from __future__ import annotations

import threading
from dataclasses import replace
from types import SimpleNamespace

import pytest

from layers.domain import errors
from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable
from layers.services.links import LinkService
from tests.fakes.links import FakeImages, FakeLinkApi, MemoryLinks
from tests.fakes.memory import FakeClock, MemoryStore


def body(**changes):
    base = {"kind": "url_link", "path": "pages/product/index", "query": "id=p1", "channel": "moments",
            "expires_in_days": None}
    return SimpleNamespace(**{**base, **changes})


@pytest.fixture
def world():
    store, clock, api, images = MemoryStore(), FakeClock(), FakeLinkApi(), FakeImages()
    service = LinkService(links=MemoryLinks(store), api=api, images=images, clock=clock)
    return SimpleNamespace(store=store, clock=clock, api=api, images=images, service=service,
                           links=MemoryLinks(store))


def test_each_kind_is_made_through_its_wechat_call_with_the_channel(world):
    link = world.service.create(body())
    assert link["url"].startswith("https://wxaurl.cn/") and link["kind"] == "url_link"
    assert world.api.calls[-1] == ("url_link", "pages/product/index", "id=p1&channel=moments", 30)
    scheme = world.service.create(body(kind="url_scheme", expires_in_days=7, channel="sms"))
    assert scheme["url"].startswith("weixin://dl/business/?t=")
    assert world.api.calls[-1] == ("url_scheme", "pages/product/index", "id=p1&channel=sms", 7)
    code = world.service.create(body(kind="qrcode", channel="poster"))
    assert code["image_url"] == f"/admin/links/{code['id']}/image" and "url" not in code
    assert world.api.calls[-1] == ("qrcode", "pages/product/index", "id=p1&c=poster", True)
    image, content_type = world.service.image(code["id"])
    assert image.startswith(b"\x89PNG") and content_type == "image/png"
    assert world.service.get(link["id"]) == link


def test_a_retried_create_with_the_same_key_answers_the_same_link_and_asks_wechat_once(world):
    first = world.service.create(body(), idempotency_key="k1")
    again = world.service.create(body(), idempotency_key="k1")
    assert again == first and len(world.api.calls) == 1
    with pytest.raises(errors.IdempotencyKeyReused):
        world.service.create(body(channel="sms"), idempotency_key="k1")


def test_a_create_under_the_same_key_while_the_first_asks_wechat_is_in_progress(world):
    seen = []

    def meanwhile():
        world.api.during = None
        try:
            world.service.create(body(), idempotency_key="k2")
        except errors.InProgress as exc:
            seen.append(exc)

    world.api.during = meanwhile
    world.service.create(body(), idempotency_key="k2")
    assert len(seen) == 1 and len(world.api.calls) == 1


def test_a_claim_left_by_a_dead_creator_is_taken_over_once_stale(world):
    from layers.domain import links as rules

    link = rules.prepare("url_link", "pages/index/index", None, "sms", None, now=world.clock.now(),
                         link_id=rules.keyed_link_id("k3"))
    link = replace(link, request_hash=rules.request_hash("url_link", "pages/index/index", "", "sms", 30))
    assert world.links.claim(link, None)
    with pytest.raises(errors.InProgress):
        world.service.create(body(path="pages/index/index", query=None, channel="sms"), idempotency_key="k3")
    world.clock.advance(61)
    made = world.service.create(body(path="pages/index/index", query=None, channel="sms"), idempotency_key="k3")
    assert made["id"] == link.link_id and made["created_at"] == link.created_at


@pytest.mark.parametrize("errcode, error", [
    (40165, errors.InvalidPage), (85079, errors.InvalidPage), (41030, errors.InvalidPage),
    (45009, errors.LinkQuotaExceeded), (44990, errors.LinkQuotaExceeded),
    (40002, errors.LinksNotAllowed), (40212, errors.InvalidRequest), (99999, errors.UpstreamUnavailable)])
def test_a_refusal_is_its_error_and_nothing_is_stored(world, errcode, error):
    world.api.failures.append(WeChatApiError(errcode, "refused"))
    with pytest.raises(error):
        world.service.create(body(), idempotency_key="k4")
    assert world.store.scan(("link",)) == []
    assert world.service.create(body(), idempotency_key="k4")["url"]  # the retry goes through


def test_an_unknown_outcome_is_503_and_nothing_is_stored(world):
    world.api.failures.append(WeChatUnavailable("timeout"))
    with pytest.raises(errors.UpstreamUnavailable):
        world.service.create(body())
    assert world.store.scan(("link",)) == []


def test_an_image_that_could_not_be_kept_is_503_and_nothing_is_stored(world):
    world.images.fail_puts = 1
    with pytest.raises(errors.UpstreamUnavailable):
        world.service.create(body(kind="qrcode"))
    assert world.store.scan(("link",)) == [] and world.service.page(None, 10, None) == ([], None)


def test_a_refused_request_asks_wechat_nothing(world):
    with pytest.raises(errors.InvalidRequest):
        world.service.create(body(channel="朋友圈"))
    assert world.api.calls == []


def test_lists_are_newest_first_and_by_channel(world):
    made = []
    for channel in ("sms", "moments", "sms"):
        made.append(world.service.create(body(channel=channel))["id"])
        world.clock.advance(1)
    items, _ = world.service.page(None, 10, None)
    assert [i["id"] for i in items] == made[::-1]
    sms, _ = world.service.page("sms", 10, None)
    assert [i["id"] for i in sms] == [made[2], made[0]]
    first, cursor = world.service.page(None, 2, None)
    rest, end = world.service.page(None, 2, cursor)
    assert [i["id"] for i in first + rest] == made[::-1] and end is None
    with pytest.raises(errors.NotFound):
        world.service.get("lnothere")
    with pytest.raises(errors.NotFound):
        world.service.image(made[0])  # a link has no image


def test_concurrent_creates_under_one_key_make_one_link(world):
    answers, failures = [], []

    def create():
        try:
            answers.append(world.service.create(body(), idempotency_key="k5"))
        except errors.InProgress:
            failures.append(1)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({a["id"] for a in answers}) == 1 and len(world.api.calls) == 1
    assert len(answers) + len(failures) == 8
