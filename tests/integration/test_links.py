"""Links for channels through the HTTP API on DynamoDB Local and the WeChat sandbox: each
kind opens its page with the channel, a retried create makes one link, WeChat's refusals
and silences answer in the contract's envelope with nothing stored."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import body, post

pytestmark = pytest.mark.integration


def create(client, headers, key: str | None = None, **payload):
    base = {"kind": "url_link", "path": "pages/product/index", "query": "id=p1", "channel": "moments"}
    extra = {"Idempotency-Key": key} if key else {}
    return post(client, "/admin/links", {**base, **payload}, {**headers, **extra})


def channel() -> str:
    return "t" + uuid.uuid4().hex[:10]


def test_each_kind_carries_its_channel_and_is_listed_newest_first(client, admin_headers, shop):
    box = shop["sandbox"]
    tag = channel()
    r = create(client, admin_headers, channel=tag, expires_in_days=7)
    assert r.status_code == 201, r.body
    link = body(r)
    assert link["kind"] == "url_link" and link["channel"] == tag
    opened = box.mp.resolve(link["url"])
    assert opened["path"] == "pages/product/index" and opened["query"] == f"id=p1&channel={tag}"
    scheme = body(create(client, admin_headers, kind="url_scheme", channel=tag, query=None))
    assert box.mp.resolve(scheme["url"])["query"] == f"channel={tag}"
    code = body(create(client, admin_headers, kind="qrcode", channel=tag, query="id=p1"))
    assert code["image_url"] == f"/admin/links/{code['id']}/image" and code["opens"] == f"id=p1&c={tag}"
    image = client.http.get(code["image_url"], headers={**admin_headers, "Accept": "image/png"})
    assert image.status_code == 200, image.body
    assert image.headers["Content-Type"] == "image/png"
    assert image.body.startswith(b"\x89PNG")
    listed = body(client.http.get(f"/admin/links?channel={tag}", headers=admin_headers))
    assert {i["id"] for i in listed["items"]} == {code["id"], scheme["id"], link["id"]}
    times = [i["created_at"] for i in listed["items"]]
    assert times == sorted(times, reverse=True)  # newest first (the fakes' test orders within a second)
    assert body(client.http.get(f"/admin/links/{link['id']}", headers=admin_headers)) == link
    everyone = body(client.http.get("/admin/links?limit=100", headers=admin_headers))["items"]
    assert {link["id"], code["id"]} <= {i["id"] for i in everyone}


def test_a_retried_create_answers_the_same_link_and_another_body_under_the_key_is_refused(client, admin_headers, shop):
    box = shop["sandbox"]
    key, tag = uuid.uuid4().hex, channel()
    before = box.mp.link_quota
    first = create(client, admin_headers, key, channel=tag)
    again = create(client, admin_headers, key, channel=tag)
    assert first.status_code == again.status_code == 201 and body(first) == body(again)
    assert box.mp.link_quota == before - 1  # WeChat was asked once
    other = create(client, admin_headers, key, channel=channel())
    assert other.status_code == 422 and body(other)["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_refusals_answer_their_codes_and_store_nothing(client, admin_headers, shop):
    box = shop["sandbox"]
    tag = channel()
    r = create(client, admin_headers, channel=tag, path="pages/never/index")
    assert r.status_code == 422 and body(r)["error"]["code"] == "INVALID_PAGE"
    r = create(client, admin_headers, channel="朋友圈")
    assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST"
    r = create(client, admin_headers, channel=tag, expires_in_days=31)
    assert r.status_code == 400
    r = create(client, admin_headers, kind="qrcode", channel=tag, query="product=p1234567890abcdefghij")
    assert r.status_code == 400 and "32" in body(r)["error"]["message"]
    quota = box.mp.link_quota
    box.mp.link_quota = 0
    try:
        r = create(client, admin_headers, channel=tag)
        assert r.status_code == 429 and body(r)["error"]["code"] == "LINK_QUOTA_EXCEEDED"
    finally:
        box.mp.link_quota = quota
    assert body(client.http.get(f"/admin/links?channel={tag}", headers=admin_headers))["items"] == []


def test_an_unknown_outcome_is_asked_again_and_if_still_unknown_is_503_with_nothing_stored(client, admin_headers,
                                                                                             shop):
    box = shop["sandbox"]
    tag = channel()
    box.fail_next("/wxa/generatescheme", 500, times=1)
    r = create(client, admin_headers, kind="url_scheme", channel=tag)
    assert r.status_code == 201, r.body  # asked again with the same request
    key = uuid.uuid4().hex
    box.fail_next("/wxa/generate_urllink", 503, times=3)
    r = create(client, admin_headers, key, channel=tag)
    assert r.status_code == 503 and body(r)["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    listed = body(client.http.get(f"/admin/links?channel={tag}", headers=admin_headers))["items"]
    assert [i["kind"] for i in listed] == ["url_scheme"]
    r = create(client, admin_headers, key, channel=tag)  # the operator's retry, same key
    assert r.status_code == 201 and box.mp.resolve(body(r)["url"])["query"] == f"id=p1&channel={tag}"


def test_links_need_the_admin_key(client):
    r = post(client, "/admin/links", {"kind": "url_link", "path": "pages/index/index", "channel": "sms"}, {})
    assert r.status_code == 401


def test_the_console_shows_a_refusal_from_wechat_beside_the_form_with_what_was_typed(client, shop):
    """The form posted as a browser would (signed in, CSRF): a page WeChat does not know is
    the page again, 422, in Chinese, with the path kept; nothing listed."""
    import os
    from urllib.parse import urlencode

    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"], "127.0.0.1"))
    headers = {"Cookie": f"console_session={cookie}", "Host": "127.0.0.1",
               "Content-Type": "application/x-www-form-urlencoded"}
    tag = channel()
    form = urlencode({"csrf": service.csrf_token(cookie), "form_key": "k" + uuid.uuid4().hex, "kind": "url_link",
                      "path": "pages/never/index", "query": "", "channel": tag, "days": "7"})
    r = client.http.post("/console/links", body=form.encode(), headers=headers)
    text = r.body.decode()
    assert r.status_code == 422 and "微信找不到这个页面" in text and 'value="pages/never/index"' in text
    assert f'<td class="channel">{tag}</td>' not in text
