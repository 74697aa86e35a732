"""The console's Content-Security-Policy: our origin only, but for the product images,
shown from the image base and posted by the browser straight to the bucket. The origins
come from the settings (moto's S3 locally; the bucket's regional endpoint and the CDN on AWS)."""

from __future__ import annotations

import pytest


@pytest.fixture
def env(monkeypatch):
    from functions import wiring
    from layers.config import reset_settings_cache

    for name in ("IMAGE_BASE_URL", "IMAGE_BUCKET", "S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)

    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        wiring.reset()
        return wiring.image_origins()

    yield apply
    reset_settings_cache()
    wiring.reset()


def test_on_aws_the_cdn_and_the_buckets_regional_endpoint(env):
    assert env(AWS_REGION="ap-east-1", IMAGE_BUCKET="shop-images",
               IMAGE_BASE_URL="https://img.example.com/") == ("https://img.example.com",
                                                              "https://s3.ap-east-1.amazonaws.com")


def test_in_china_the_endpoint_is_amazonaws_com_cn(env):
    assert env(AWS_REGION="cn-north-1", IMAGE_BUCKET="b", IMAGE_BASE_URL="https://d1.cloudfront.net") == (
        "https://d1.cloudfront.net", "https://s3.cn-north-1.amazonaws.com.cn")


def test_locally_motos_s3_is_both_one_origin(env):
    assert env(AWS_REGION="us-east-1", IMAGE_BUCKET="shop-images", S3_ENDPOINT="http://127.0.0.1:5123/") == (
        "http://127.0.0.1:5123",)


def test_the_policy_allows_those_origins_for_images_and_uploads_only():
    from functions.console._kit import content_security_policy

    policy = content_security_policy(("https://img.example.com", "https://s3.ap-east-1.amazonaws.com"))
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"  # scripts and styles: our origin only
    both = "'self' https://img.example.com https://s3.ap-east-1.amazonaws.com"
    assert directives["img-src"] == both and directives["connect-src"] == both
    assert directives["frame-ancestors"] == "'none'"
    assert content_security_policy(()) == ("default-src 'self'; img-src 'self'; connect-src 'self'; "
                                           "frame-ancestors 'none'")


def test_uploads_are_presigned_for_the_origin_the_policy_allows(monkeypatch):
    """botocore alone would name the global `s3.amazonaws.com` in us-east-1, which the policy
    does not list: the uploads' client is given the regional endpoint."""
    from urllib.parse import urlsplit

    from layers import aws
    from layers.storage.images import S3Uploads, upload_endpoint

    monkeypatch.delenv("S3_ENDPOINT", raising=False)
    # Its own botocore session: the shared one keeps the credentials it first resolved,
    # and DynamoDB Local keeps one database per access key (the session's table is under
    # the session's key, not "testing").
    monkeypatch.setattr(aws, "_session", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    slot = S3Uploads("shop-images", "us-east-1").presigned_post("img/a.png", "image/png", 10)
    parts = urlsplit(slot["url"])
    assert f"{parts.scheme}://{parts.netloc}" == upload_endpoint("us-east-1") == "https://s3.us-east-1.amazonaws.com"
