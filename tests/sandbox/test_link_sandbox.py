"""The sandbox's urllink.generate and generatescheme (WeChat's documentation, cited in
sandbox/miniprogram.py), and our client (layers/wechat/miniprogram.py) against them:
refusals keep their errcodes, an unknown outcome is asked again with the same request."""

from __future__ import annotations

import time

import pytest
import requests

from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable
from layers.wechat.miniprogram import MiniProgram
from tests.sandbox.test_miniprogram_sandbox import mp_call


@pytest.fixture
def mp(box):
    box.reset_switches()
    box.mp.link_quota = 500_000
    client = MiniProgram(box.keys.appid, box.keys.app_secret, box.base_url, timeout=2)
    client.sleep = lambda s: None
    yield client
    box.reset_switches()


def link_body(**changes):
    return {"path": "pages/product/index", "query": "id=p1&channel=sms", "env_version": "release",
            "expire_type": 1, "expire_interval": 30, **changes}


# -- the protocol -----------------------------------------------------------------------------

def test_a_url_link_and_a_scheme_open_their_page_and_query_until_they_expire(box):
    answer = mp_call(box, "/wxa/generate_urllink", link_body())
    assert answer["errcode"] == 0 and answer["url_link"].startswith("https://wxaurl.cn/")
    opened = box.mp.resolve(answer["url_link"])
    assert opened["path"] == "pages/product/index" and opened["query"] == "id=p1&channel=sms"
    assert opened["kind"] == "url_link" and not opened["expired"]
    assert 29.9 * 86400 < opened["expires_at"] - time.time() <= 30 * 86400
    scheme = mp_call(box, "/wxa/generatescheme", {"jump_wxa": {"path": "pages/index/index", "query": "channel=sms"},
                                                  "expire_type": 0, "expire_time": int(time.time()) + 3600})
    assert scheme["openlink"].startswith("weixin://dl/business/?t=")
    assert box.mp.resolve(scheme["openlink"])["path"] == "pages/index/index"
    assert mp_call(box, "/wxa/generate_urllink", link_body())["url_link"] != answer["url_link"]
    resolved = requests.post(box.base_url + "/sandbox/mp/resolve", json={"url": answer["url_link"]}, timeout=5)
    assert resolved.status_code == 200 and resolved.json()["query"] == "id=p1&channel=sms"
    assert requests.post(box.base_url + "/sandbox/mp/resolve", json={"url": "https://wxaurl.cn/never"},
                         timeout=5).status_code == 404


@pytest.mark.parametrize("changes, errcode", [
    ({"expire_interval": 31}, 85401), ({"expire_interval": 0}, 85401),
    ({"expire_type": 0, "expire_time": int(time.time()) + 31 * 86400}, 85401),
    ({"expire_type": 0, "expire_time": int(time.time()) + 10}, 85401),
    ({"expire_type": 2}, 40097), ({"expire_type": None}, 40097),
    ({"path": "pages/nothere/index"}, 40165), ({"path": "pages/index/index?id=1"}, 40165),
    ({"query": "a=" + "x" * 1023}, 40212), ({"query": "id=产品"}, 40212), ({"query": "a=1 b"}, 40212),
    ({"env_version": "beta"}, 40097)])
def test_what_wechat_refuses(box, changes, errcode):
    assert mp_call(box, "/wxa/generate_urllink", link_body(**changes))["errcode"] == errcode
    jump = {k: v for k, v in link_body(**changes).items() if k in ("path", "query", "env_version")}
    rest = {k: v for k, v in link_body(**changes).items() if k not in jump}
    assert mp_call(box, "/wxa/generatescheme", {"jump_wxa": jump, **rest})["errcode"] == errcode


def test_a_bad_token_is_40001_and_the_daily_quota_is_shared_by_links_and_schemes(box):
    r = requests.post(box.base_url + "/wxa/generate_urllink", params={"access_token": "stale"}, json=link_body(),
                      timeout=5).json()
    assert r["errcode"] == 40001
    requests.post(box.base_url + "/sandbox/mp/link-quota", json={"left": 1}, timeout=5)
    try:
        assert mp_call(box, "/wxa/generatescheme", {"jump_wxa": {"path": "pages/index/index"}, "expire_type": 1,
                                                    "expire_interval": 1})["errcode"] == 0
        assert mp_call(box, "/wxa/generate_urllink", link_body())["errcode"] == 45009
    finally:
        box.mp.link_quota = 500_000


def test_a_checked_code_opens_only_a_published_page_and_a_page_can_be_published(box):
    assert mp_call(box, "/wxa/getwxacodeunlimit", {"scene": "c=sms", "page": "pages/new/index"})["errcode"] == 41030
    r = requests.post(box.base_url + "/wxa/getwxacodeunlimit", params={"access_token": _token(box)},
                      json={"scene": "c=sms", "page": "pages/new/index", "check_path": False}, timeout=5)
    assert r.headers["Content-Type"] == "image/png"
    requests.post(box.base_url + "/sandbox/mp/pages", json={"path": "pages/new/index"}, timeout=5)
    assert mp_call(box, "/wxa/generate_urllink", link_body(path="pages/new/index"))["errcode"] == 0


def _token(box):
    from tests.sandbox.test_miniprogram_sandbox import token

    return token(box)


# -- our client ---------------------------------------------------------------------------------

def test_the_client_makes_each_kind(box, mp):
    url = mp.generate_url_link("pages/product/index", "id=p1&channel=sms", 7)
    assert box.mp.resolve(url)["query"] == "id=p1&channel=sms"
    scheme = mp.generate_scheme("pages/product/index", "channel=moments", 30)
    assert box.mp.resolve(scheme)["kind"] == "url_scheme"
    image, content_type = mp.get_unlimited_code("c=poster", "pages/product/index", check_path=True)
    assert image.startswith(b"\x89PNG") and content_type == "image/png"


def test_the_client_keeps_wechats_errcode_for_a_refusal(box, mp):
    with pytest.raises(WeChatApiError) as refused:
        mp.generate_url_link("pages/nothere/index", "channel=sms", 7)
    assert refused.value.errcode == 40165
    with pytest.raises(WeChatApiError) as refused:
        mp.generate_scheme("pages/index/index", "channel=sms", 31)
    assert refused.value.errcode == 85401
    with pytest.raises(WeChatApiError) as refused:
        mp.get_unlimited_code("c=sms", "pages/nothere/index", check_path=True)
    assert refused.value.errcode == 41030


def test_the_client_asks_again_while_the_outcome_is_unknown_then_gives_up(box, mp):
    box.fail_next("/wxa/generate_urllink", 500, times=2)
    url = mp.generate_url_link("pages/index/index", "channel=sms", 1)
    assert box.mp.resolve(url)["query"] == "channel=sms"
    asked = [e for e in box.requests_log if e["path"] == "/wxa/generate_urllink"]
    assert len(asked) >= 3
    box.fail_next("/wxa/generatescheme", 503, times=3)
    with pytest.raises(WeChatUnavailable):
        mp.generate_scheme("pages/index/index", "channel=sms", 1)
    box.fail_next("/wxa/getwxacodeunlimit", 500, times=1)
    assert mp.get_unlimited_code("c=sms", "pages/index/index", retries=2)[0].startswith(b"\x89PNG")


def test_the_client_refreshes_a_revoked_token_once(box, mp):
    mp.generate_url_link("pages/index/index", "channel=sms", 1)
    box.mp.expire_token()
    assert mp.generate_url_link("pages/index/index", "channel=sms", 1).startswith("https://wxaurl.cn/")
