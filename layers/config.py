"""Settings, read once per process (container).

Names follow ../shared/CONTRACT.md ("Settings"). In AWS the contract's
settings live in the stage's Secrets Manager secret, named by SHOP_SECRET_ID: read at run
time through Powertools' parameters utility and cached with the settings for the
container's life, never resolved into the functions' environment, where anyone who may
read a function's configuration would see them. Locally (no SHOP_SECRET_ID) they come
from the environment as before: `make dev` fills it (and points the WeChat settings at
the built-in sandbox when they are absent). Nothing secret has a default here.

The settings are split into groups, one secret each (`<SHOP_SECRET_ID>/<group>`), and a
function reads only the groups its `SHOP_SECRET_GROUPS` names (`make package` sets it
per function from infra's Metadata.SecretGroups and checks each role grants those alone): a consumer that never
signs a shopper's token cannot read TOKEN_SECRET, and one that never calls WeChat holds
no key at all. docs/deploy.md has the table. Without SHOP_SECRET_GROUPS the one secret
SHOP_SECRET_ID names is read whole (a stage deployed before the split).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

_SECRET: dict[str, str] = {}

# Each group's settings: `make deploy` creates each group's secret with these names.
SECRET_GROUPS: dict[str, tuple[str, ...]] = {
    # The mini-program's identity (code2session, access tokens, subscription messages, the
    # shipping and analytics APIs); WeChat Pay's requests carry the appid too.
    "wechat": ("WECHAT_APPID", "WECHAT_APP_SECRET"),
    # WeChat Pay APIv3: prepay, query, close, refunds, transfers, the bills. The public key
    # pair is empty in platform-certificate mode.
    "wechatpay": ("WECHATPAY_MCHID", "WECHATPAY_APIV3_KEY", "WECHATPAY_MERCHANT_PRIVATE_KEY",
                  "WECHATPAY_MERCHANT_SERIAL", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID",
                  "WECHATPAY_NOTIFY_BASE_URL"),
    # What only the HTTP API uses: the operators' key, the key tokens and cookies are signed
    # with, the message push's token and AES key, the keys shoppers' addresses are sealed
    # with (PII_KEY, the current one; PII_KEYS, retired ones that still open: docs/addresses.md).
    "api": ("ADMIN_API_KEY", "TOKEN_SECRET", "WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY", "PII_KEY", "PII_KEYS"),
}
# Settings a stage may leave empty (not a placeholder): platform-certificate mode; no
# retired PII key before the first rotation.
OPTIONAL_SETTINGS = ("WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID", "PII_KEYS")


def _env(name: str, default: str | None = None) -> str | None:
    value = _SECRET.get(name) or os.environ.get(name)
    return value if value not in (None, "") else default


def secret_ids() -> list[str]:
    """The secrets this function reads: `<SHOP_SECRET_ID>/<group>` for each group of
    SHOP_SECRET_GROUPS, or SHOP_SECRET_ID alone; none locally."""
    secret_id = os.environ.get("SHOP_SECRET_ID")
    if not secret_id:
        return []
    groups = os.environ.get("SHOP_SECRET_GROUPS")
    if groups is None:
        return [secret_id]
    return [f"{secret_id}/{g.strip()}" for g in groups.split(",") if g.strip()]


def _load_secret(force: bool = False) -> None:
    """The JSON secrets this function reads (AWS) into _SECRET; nothing locally.
    `force`: from Secrets Manager even when Powertools' cache holds them."""
    _SECRET.clear()
    ids = secret_ids()
    if not ids:
        return
    from aws_lambda_powertools.utilities import parameters

    fresh = {"force_fetch": True} if force else {}
    for secret_id in ids:
        value = parameters.get_secret(secret_id, transform="json", max_age=24 * 3600, **fresh)
        _SECRET.update({k: str(v) for k, v in (value or {}).items() if v not in (None, "")})


@dataclass(frozen=True)
class Settings:
    wechat_appid: str | None
    wechat_app_secret: str | None
    wechat_api_base: str
    wechatpay_mchid: str | None
    wechatpay_api_base: str
    wechatpay_apiv3_key: str | None
    wechatpay_merchant_private_key: str | None
    wechatpay_merchant_serial: str | None
    wechatpay_public_key: str | None
    wechatpay_public_key_id: str | None
    wechatpay_notify_base_url: str
    admin_api_key: str | None
    token_secret: str | None
    # Storage and queues (names given by infra/ in AWS, by local/bootstrap.py locally).
    table_name: str
    dynamodb_endpoint: str | None
    aws_region: str
    events_queue_url: str | None
    order_expiry_queue_url: str | None
    settlement_queue_url: str | None
    stage: str = field(default="dev")
    # -- the message push, the share-code bucket --
    wechat_push_token: str | None = None
    wechat_push_aes_key: str | None = None
    code_bucket: str | None = None
    # -- analytics --
    analytics_queue_url: str | None = None
    # -- front door limits --
    login_limit_per_address: int = 60   # logins per minute from one source address
    login_limit_per_openid: int = 10    # logins per minute of one WeChat user
    unpaid_orders_cap: int = 10         # unpaid orders one shopper may hold at once
    # The storefront's images: the bucket uploads go to, and the URL base they are served from
    # (CloudFront on AWS; moto's S3 endpoint locally).
    image_bucket: str | None = None
    image_base_url: str | None = None
    # Personal information sealed at rest (layers/storage/pii.py): the current key, and the
    # retired ones still opening what they sealed.
    pii_key: str | None = field(default=None, repr=False)
    pii_keys: str | None = field(default=None, repr=False)

    @property
    def platform_certificate_mode(self) -> bool:
        """No WeChat Pay public key configured: verify with platform certificates."""
        return not (self.wechatpay_public_key and self.wechatpay_public_key_id)


def load_settings(force: bool = False) -> Settings:
    _load_secret(force)
    return Settings(
        wechat_appid=_env("WECHAT_APPID"),
        wechat_app_secret=_env("WECHAT_APP_SECRET"),
        wechat_api_base=_env("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        wechatpay_mchid=_env("WECHATPAY_MCHID"),
        wechatpay_api_base=_env("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com"),
        wechatpay_apiv3_key=_env("WECHATPAY_APIV3_KEY"),
        wechatpay_merchant_private_key=_env("WECHATPAY_MERCHANT_PRIVATE_KEY"),
        wechatpay_merchant_serial=_env("WECHATPAY_MERCHANT_SERIAL"),
        wechatpay_public_key=_env("WECHATPAY_PUBLIC_KEY"),
        wechatpay_public_key_id=_env("WECHATPAY_PUBLIC_KEY_ID"),
        wechatpay_notify_base_url=_env("WECHATPAY_NOTIFY_BASE_URL", "http://127.0.0.1:8000"),
        admin_api_key=_env("ADMIN_API_KEY"),
        token_secret=_env("TOKEN_SECRET"),
        table_name=_env("SHOP_TABLE", "shop-local"),
        dynamodb_endpoint=_env("DYNAMODB_ENDPOINT"),
        aws_region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        events_queue_url=_env("EVENTS_QUEUE_URL"),
        order_expiry_queue_url=_env("ORDER_EXPIRY_QUEUE_URL"),
        settlement_queue_url=_env("SETTLEMENT_QUEUE_URL"),
        stage=_env("STAGE", "dev"),
        wechat_push_token=_env("WECHAT_PUSH_TOKEN"),
        wechat_push_aes_key=_env("WECHAT_PUSH_AES_KEY"),
        code_bucket=_env("CODE_BUCKET"),
        analytics_queue_url=_env("ANALYTICS_QUEUE_URL"),  # analytics
        login_limit_per_address=_int_env("LOGIN_LIMIT_PER_ADDRESS", 60),
        login_limit_per_openid=_int_env("LOGIN_LIMIT_PER_OPENID", 10),
        unpaid_orders_cap=_int_env("UNPAID_ORDERS_CAP", 10),
        image_bucket=_env("IMAGE_BUCKET"),
        image_base_url=_image_base_url(),
        pii_key=_env("PII_KEY"),
        pii_keys=_env("PII_KEYS"),
    )


def _image_base_url() -> str | None:
    """IMAGE_BASE_URL (the CDN, or the merchant's own domain in front of it); locally, where
    only the bucket is given, the bucket's own URL on moto's S3."""
    base = _env("IMAGE_BASE_URL")
    if base:
        return base.rstrip("/")
    bucket, endpoint = _env("IMAGE_BUCKET"), _env("S3_ENDPOINT")
    return f"{endpoint.rstrip('/')}/{bucket}" if bucket and endpoint else None


def _int_env(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    """Tests and the local runner change the environment; let them re-read it."""
    settings.cache_clear()


def reread_settings() -> bool:
    """The settings read again, the secret from Secrets Manager itself, for a container
    restored from a SnapStart snapshot: the snapshot may be days old, and a key rotated
    since must not stay in use. True when anything differs from what `settings()`
    answered; `settings()` then answers the new values."""
    before = settings()
    _drop_secret_connections()
    if load_settings(force=True) == before:
        return False
    settings.cache_clear()  # the next read takes the values just fetched (Powertools' cache)
    return True


def _drop_secret_connections() -> None:
    """Powertools' Secrets Manager client keeps its own connections; those opened before a
    snapshot are dead in the restored container."""
    import sys

    module = sys.modules.get("aws_lambda_powertools.utilities.parameters.base")
    provider = module.DEFAULT_PROVIDERS.get("secrets") if module is not None else None
    if provider is not None:
        provider.client.close()
