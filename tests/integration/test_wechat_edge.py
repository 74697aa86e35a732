"""The WeChat edge against the sandbox: certificate mode with a rotated certificate,
signed requests and verified answers, code2session, subscription messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import body, login, post

pytestmark = pytest.mark.integration


def cert_mode_client(sandbox):
    """A client and verifier as a merchant in platform-certificate mode builds them."""
    from layers.wechat.pay_client import WeChatPayClient
    from layers.wechat.pay_notify import NotificationVerifier, WeChatPayKeys

    env = sandbox.env(certificate_mode=True)
    keys = WeChatPayKeys()
    client = WeChatPayClient(mchid=env["WECHATPAY_MCHID"], appid=env["WECHAT_APPID"],
                             merchant_serial=env["WECHATPAY_MERCHANT_SERIAL"],
                             merchant_private_key_pem=env["WECHATPAY_MERCHANT_PRIVATE_KEY"],
                             apiv3_key=env["WECHATPAY_APIV3_KEY"], api_base=env["WECHATPAY_API_BASE"], keys=keys)
    keys.set_refresh(client.download_certificates)
    return client, keys, NotificationVerifier(keys, env["WECHATPAY_APIV3_KEY"])


def test_certificate_mode_follows_a_rotated_certificate(shop, monkeypatch):
    from layers.wechat import pay_notify

    sandbox = shop["sandbox"]
    try:
        client, keys, verifier = cert_mode_client(sandbox)
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", {"out_trade_no": "x"})
        assert verifier.verify(headers, raw).resource == {"out_trade_no": "x"}
        old = set(keys.serials)

        new_serial = sandbox.rotate_certificate()
        assert new_serial not in old
        # WeChat signs with the new certificate; we learn it once the refresh window allows.
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", {"out_trade_no": "y"})
        real_clock = time.time
        monkeypatch.setattr(keys, "_clock", lambda: real_clock() + pay_notify.UNKNOWN_SERIAL_REFRESH_S + 1)
        assert verifier.verify(headers, raw).resource == {"out_trade_no": "y"}
        assert new_serial in keys.serials
        # API answers signed with the new certificate verify too.
        with pytest.raises(Exception) as missing:
            client.query_order("does-not-exist")
        assert "ORDER_NOT_EXIST" in str(missing.value)
    finally:
        sandbox.env()  # back to public-key mode for the other tests


def test_a_forged_serial_cannot_make_us_hammer_wechat(shop):
    from layers.wechat.pay_notify import UnknownSerial

    sandbox = shop["sandbox"]
    try:
        client, keys, verifier = cert_mode_client(sandbox)
        calls = []
        original = client.download_certificates
        keys.set_refresh(lambda: calls.append(1) or original())
        headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", {"a": 1})
        for _ in range(20):
            forged = {**headers, "Wechatpay-Serial": "FORGED0123"}
            with pytest.raises(UnknownSerial):
                verifier.verify(forged, raw)
        assert len(calls) == 1
    finally:
        sandbox.env()


def test_requests_are_signed_and_unsigned_answers_are_refused(shop):
    from functions import wiring
    from layers.wechat.pay_client import WeChatPayError

    sandbox = shop["sandbox"]
    client = wiring.pay_client()
    # The sandbox refuses a request whose signature does not verify.
    saved = client.serial
    client.serial = "0" * 40
    try:
        with pytest.raises(WeChatPayError) as refused:
            client.query_order("anything")
        assert refused.value.status == 401
    finally:
        client.serial = saved
    # An answer whose signature does not verify is not believed.
    # (the strict sandbox answers 400 NO_STATEMENT_EXIST for a day without a
    # bill, so the signed 2xx answer here is an order query)
    client.jsapi_prepay("unverified0001", "x", 1, "o-unverified", "http://127.0.0.1:8000/wechatpay/notify",
                        datetime.now(UTC) + timedelta(hours=1))
    real = sandbox.signed_headers
    sandbox.signed_headers = lambda text, *a, **k: {**real(text), "Wechatpay-Signature": real("other")["Wechatpay-Signature"]}
    try:
        with pytest.raises(WeChatPayError) as unverified:
            client.query_order("unverified0001")
        assert unverified.value.code == "RESPONSE_NOT_VERIFIED"
    finally:
        sandbox.signed_headers = real


def test_login_with_a_code_wechat_rejects_is_401(client, shop):
    r = post(client, "/auth/login", {"code": "invalid-code"})
    assert r.status_code == 401 and body(r)["error"]["code"] == "INVALID_CODE"
    same = [login(client, "the-same-phone")["X-User-Id"] for _ in range(2)]
    assert same[0] == same[1]
    assert post(client, "/auth/login", {}).status_code == 400


def test_the_access_token_is_fetched_once_and_shared(shop):
    from functions import wiring

    sandbox = shop["sandbox"]
    before = sandbox.tokens_issued
    mp = wiring.mini_program()
    for i in range(3):
        mp.send_subscribe_message(f"o-token-{i}", "TPL", {"thing1": {"value": "x"}})
    wiring.mini_program.cache_clear()  # another container: the token comes from the table
    wiring.mini_program().send_subscribe_message("o-token-x", "TPL", {"thing1": {"value": "x"}})
    assert sandbox.tokens_issued - before <= 1


def test_certificate_mode_names_the_platform_certificate_on_the_authorization_transfers(shop):
    """发起转账并完成免确认收款授权 and 用户授权后转账 require Wechatpay-Serial: a merchant in
    certificate mode names its newest platform certificate (public-key mode its key id)."""
    import secrets

    sandbox = shop["sandbox"]
    try:
        client, keys, _ = cert_mode_client(sandbox)
        bill, auth_no = "B" + secrets.token_hex(8), "A" + secrets.token_hex(8)
        answer = client.transfer(out_bill_no=bill, openid="o-guide", amount_fen=100, remark="佣金",
                                 notify_url="https://shop.example/wechatpay/transfer-notify",
                                 authorization_info={"user_display_name": "分销佣金·guide",
                                                     "out_authorization_no": auth_no,
                                                     "authorization_notify_url":
                                                         "https://shop.example/wechatpay/transfer-notify"})
        assert answer["out_authorization_no"] == auth_no
        sent = [e for e in sandbox.requests_log if e.get("out_bill_no") == bill][-1]
        assert sent["serial"] in {c.serial for c in sandbox.keys.certificates}
        sandbox.confirm_transfer(bill, notify=False)
        auth_id = client.query_authorization(auth_no)["authorization_id"]
        second = client.authorized_transfer(out_bill_no="B" + secrets.token_hex(8), openid="o-guide",
                                            amount_fen=100, remark="佣金",
                                            notify_url="https://shop.example/wechatpay/transfer-notify",
                                            authorization_id=auth_id)
        assert second["state"] == "SUCCESS"
    finally:
        sandbox.env()
