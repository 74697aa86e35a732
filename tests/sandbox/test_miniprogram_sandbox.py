"""The mini-program half of the sandbox on its own, over HTTP: access tokens as WeChat's
documents describe them (获取接口调用凭据, 获取稳定版接口调用凭据)."""

from __future__ import annotations

import requests


def _stable(box, force=False) -> str:
    r = requests.post(box.base_url + "/cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": box.keys.app_secret,
        "force_refresh": force}, timeout=5)
    return r.json()["access_token"]


def _plain(box) -> str:
    r = requests.get(box.base_url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": box.keys.app_secret}, timeout=5)
    return r.json()["access_token"]


def _works(box, token: str) -> bool:
    r = requests.post(box.base_url + "/wxa/sec/order/is_trade_managed", params={"access_token": token},
                      json={"appid": box.keys.appid}, timeout=5)
    return r.json()["errcode"] == 0


def test_stable_token_and_get_access_token_are_separate(box):
    # 获取稳定版接口调用凭据: "与 getAccessToken 获取的调用凭证完全隔离，互不影响"
    stable = _stable(box)
    plain = _plain(box)
    assert plain != stable
    second_plain = _plain(box)
    assert _works(box, stable) and _works(box, second_plain)
    assert _works(box, plain)  # the previous getAccessToken token lives on for 5 minutes
    assert _stable(box) == stable  # normal mode: the same stable token while it is valid
    box.mp.expire_token()  # the stable token revoked: getAccessToken's is untouched
    assert not _works(box, stable) and _works(box, second_plain)
