"""Pure rules of the mini-program platform: subscription values, the shipping body's
limits, the push crypto against the sandbox's own (independent) encryption, and the
access token fetched by one caller however many ask at once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from layers.domain import shipping, subscription
from layers.domain.message_push import InvalidPush
from layers.wechat.access_token import AccessTokens
from layers.wechat.miniprogram import _ProcessTokenStore
from layers.wechat.push_crypto import PushCrypto


def test_subscription_values_fit_their_keywords():
    assert subscription.beijing("2026-11-29T16:05:09Z") == "2026年11月30日 00:05"
    assert subscription.yuan(1230) == "12.30元" and subscription.yuan(5) == "0.05元"
    assert subscription.yuan(199999) == "1999.99元"
    data = subscription.data(thing1="一" * 30, time2="2026-01-01T00:00:00Z", amount3=100,
                             character_string4="x" * 40, phrase5="已经发货了吗")
    assert len(data["thing1"]["value"]) == 20 and data["thing1"]["value"].endswith("…")
    assert data["time2"]["value"] == "2026年1月1日 08:00"
    assert data["amount3"]["value"] == "1.00元"
    assert len(data["character_string4"]["value"]) == 32 and len(data["phrase5"]["value"]) == 5


def test_the_sandbox_refuses_what_wechat_refuses_and_takes_our_values():
    from sandbox.miniprogram import MiniProgramSandbox

    fits = MiniProgramSandbox._fits
    assert fits("time3", subscription.beijing("2026-11-29T16:05:09Z"))
    assert fits("date1", "2026年11月30日") and fits("time1", "15:01")
    assert not fits("time3", "2026-11-29T16:05:09Z") and not fits("date2", "tomorrow")
    assert fits("amount2", subscription.yuan(1230)) and not fits("amount2", "12.3 yuan")
    assert not fits("thing1", "一" * 21)


def test_shipping_body_limits_and_masking():
    assert shipping.mask_phone("13800000000") == "138****0000"
    assert shipping.mask_phone("12") is None
    items = tuple({"sku_id": f"s{i}", "title": "很长的商品名称" * 3, "quantity": 1} for i in range(10))
    desc = shipping.item_desc(items)
    assert len(desc) == 120 and desc.endswith("…")
    assert shipping.upload_time(datetime(2026, 11, 29, 16, 0, 0, 123456, tzinfo=UTC)) == \
        "2026-11-30T00:00:00.123+08:00"
    assert [shipping.backoff_s(n) for n in (1, 2, 3, 10, 20)] == [10, 20, 40, 900, 900]


def test_push_crypto_verifies_and_decrypts_what_the_sandbox_encrypts():
    from sandbox.miniprogram import MiniProgramSandbox

    box = SimpleNamespace(keys=SimpleNamespace(appid="wxapp1", mchid="m1"), orders={})
    mp = MiniProgramSandbox(box)
    crypto = PushCrypto(mp.push_token, mp.aes_key, "wxapp1")
    from urllib.parse import parse_qsl

    query, raw = mp.build_push({"Event": "trade_manage_order_settlement", "merchant_trade_no": "o1"})
    q = dict(parse_qsl(query))
    crypto.check_signature(q["signature"], q["timestamp"], q["nonce"])
    import json

    plain = crypto.decrypt(json.loads(raw)["Encrypt"], q["msg_signature"], q["timestamp"], q["nonce"])
    assert json.loads(plain)["merchant_trade_no"] == "o1"
    with pytest.raises(InvalidPush):
        crypto.check_signature("0" * 40, q["timestamp"], q["nonce"])
    with pytest.raises(InvalidPush):
        crypto.decrypt(json.loads(raw)["Encrypt"], "0" * 40, q["timestamp"], q["nonce"])
    with pytest.raises(InvalidPush):  # another app's message
        PushCrypto(mp.push_token, mp.aes_key, "wxother").decrypt(
            json.loads(raw)["Encrypt"], q["msg_signature"], q["timestamp"], q["nonce"])


def test_one_fetch_for_many_callers_and_one_refresh_for_a_rejected_token():
    store = _ProcessTokenStore()
    calls = []

    def fetch(force: bool):
        calls.append(force)
        time.sleep(0.05)
        return f"T{len(calls)}", 7200

    containers = [AccessTokens(fetch, store) for _ in range(4)]
    barrier = threading.Barrier(40)

    def ask(n):
        barrier.wait()
        return containers[n % 4].get()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [False]
    assert all(c.get() == "T1" for c in containers)
    assert containers[0].refresh(rejected="T1") == "T2"
    assert containers[1].refresh(rejected="T1") == "T2"  # already replaced: no second fetch
    assert calls == [False, False]


@pytest.mark.parametrize("answer", [
    {"errmsg": "ok"},                                        # no errcode, no field
    {"errcode": 0, "errmsg": "ok"},                          # errcode 0 without the field
    {"errcode": 0, "errmsg": "ok", "is_trade_managed": "false"},  # not a boolean
])
def test_is_trade_managed_is_an_answer_only_with_errcode_0_and_the_field(monkeypatch, answer):
    from layers.domain.miniprogram import WeChatUnavailable
    from layers.wechat.miniprogram import MiniProgram

    mp = MiniProgram("wx-app", "secret", "http://127.0.0.1:9")
    monkeypatch.setattr(mp.tokens, "get", lambda: "TOKEN")
    monkeypatch.setattr(mp, "_post", lambda url, body, params, binary=False: dict(answer))
    with pytest.raises(WeChatUnavailable):
        mp.is_trade_managed()
    monkeypatch.setattr(mp, "_post", lambda url, body, params, binary=False: {
        "errcode": 0, "errmsg": "ok", "is_trade_managed": False})
    assert mp.is_trade_managed() is False


def test_the_sandbox_holds_each_keyword_kind_to_its_documented_limit():
    from sandbox.miniprogram import MiniProgramSandbox

    fits = MiniProgramSandbox._fits
    assert fits("thing1", "一" * 20) and not fits("thing1", "一" * 21) and not fits("thing1", "")
    assert fits("number01", "339208499") and fits("number2", "12.5") and not fits("number2", "1" * 33)
    assert fits("letter1", "abc") and not fits("letter1", "abc1") and not fits("letter1", "a" * 33)
    assert fits("symbol1", "%") and not fits("symbol1", "%%%%%%") and not fits("symbol1", "a")
    assert fits("character_string1", "A-1" * 10) and not fits("character_string1", "x" * 33)
    assert not fits("character_string1", "订单")
    assert fits("phone_number1", "+86-0766-66888866") and not fits("phone_number1", "1" * 18)
    assert not fits("phone_number1", "call me")
    assert fits("car_number1", "粤A8Z888挂") and not fits("car_number1", "粤A8Z8889挂")
    assert not fits("car_number1", "A粤88")
    assert fits("name1", "张三") and not fits("name1", "张" * 11)
    assert fits("name1", "Zhang San Feng Li") and not fits("name1", "Z" * 21)
    assert fits("phrase1", "配送中") and not fits("phrase1", "配送中了吗啊") and not fits("phrase1", "ok")
    assert not fits("title1", "x") and not fits("thing", "x") and not fits("Thing1", "x")
