"""The WeChat clients this container uses, built once, lazily (cold starts import
nothing of WeChat until a handler needs it)."""

from __future__ import annotations

from functools import lru_cache

from layers.config import settings


@lru_cache(maxsize=1)
def pay_keys():
    from layers.wechat.pay_notify import WeChatPayKeys

    s = settings()
    keys = WeChatPayKeys(
        public_key_id=s.wechatpay_public_key_id,
        public_key_pem=s.wechatpay_public_key,
    )
    if s.platform_certificate_mode:
        # Certificates come from /v3/certificates, through the (verified) client.
        keys.set_refresh(lambda: pay_client().download_certificates())
    return keys


@lru_cache(maxsize=1)
def pay_client():
    from layers.wechat.pay_client import WeChatPayClient

    s = settings()
    return WeChatPayClient(
        mchid=s.wechatpay_mchid,
        appid=s.wechat_appid,
        merchant_serial=s.wechatpay_merchant_serial,
        merchant_private_key_pem=s.wechatpay_merchant_private_key,
        apiv3_key=s.wechatpay_apiv3_key,
        api_base=s.wechatpay_api_base,
        keys=pay_keys(),
    )


@lru_cache(maxsize=1)
def notification_verifier():
    from layers.wechat.pay_notify import NotificationVerifier

    return NotificationVerifier(pay_keys(), settings().wechatpay_apiv3_key)


@lru_cache(maxsize=1)
def merchant_private_key():
    from layers.wechat.paycrypto import load_private_key

    return load_private_key(settings().wechatpay_merchant_private_key)


def notify_url(path: str) -> str:
    return settings().wechatpay_notify_base_url.rstrip("/") + path


def reset() -> None:
    """Tests swap settings; forget the clients built from the old ones."""
    for fn in (pay_keys, pay_client, notification_verifier, merchant_private_key):
        fn.cache_clear()
