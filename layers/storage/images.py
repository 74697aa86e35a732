"""Objects in the shop's buckets; moto's server serves S3 locally (`S3_ENDPOINT`).

- `S3ImageStore`: share codes in the code bucket (`CodeBucket`, env `CODE_BUCKET`), a cache
  that never fails a request (layers.domain.miniprogram.ImageStore).
- `S3BlobStore`: the storefront's listing snapshots, in the code bucket too; a write that
  fails raises, so the publisher retries instead of naming an object that is not there.
- `S3Uploads`: presigned POSTs into the image bucket (`ImageBucket`, env `IMAGE_BUCKET`).
"""

from __future__ import annotations

import os

from layers.observability import logger


def upload_endpoint(region: str, endpoint: str | None = None) -> str:
    """Where browsers post uploads: `S3_ENDPOINT` (moto's S3) locally, else the bucket's
    regional endpoint. Named here, not left to botocore (which picks the global
    `s3.amazonaws.com` in us-east-1), so the console's CSP can allow exactly this origin."""
    if endpoint:
        return endpoint.rstrip("/")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://s3.{region}.{suffix}"


class _S3:
    def __init__(self, bucket: str | None, region: str):
        self.bucket = bucket
        self.region = region
        self._client = None

    def _endpoint(self) -> str | None:
        return os.environ.get("S3_ENDPOINT")

    @property
    def client(self):
        if self._client is None:
            from botocore.config import (
                Config,  # here, not at import: only the share-code route needs it
            )

            from layers import aws

            self._client = aws.client(
                "s3", region_name=self.region, endpoint_url=self._endpoint(),
                config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                              retries={"max_attempts": 2}))
        return self._client



class S3ImageStore(_S3):
    def get(self, key: str) -> tuple[bytes, str] | None:
        if not self.bucket:
            raise RuntimeError("CODE_BUCKET is not configured")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(), answer.get("ContentType") or "image/png"
        except self.client.exceptions.NoSuchKey:
            return None
        except (ClientError, BotoCoreError) as exc:
            # A cache: unreadable is a miss (the code is made again), never a failed request.
            logger.warning("code bucket unreadable", extra={"key": key, "error": str(exc)[:200]})
            return None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if not self.bucket:
            raise RuntimeError("CODE_BUCKET is not configured")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            logger.error("code bucket not writable: the next request asks WeChat again",
                         extra={"key": key, "error": str(exc)[:200], "alarm": "CODE_BUCKET"})


class S3BlobStore(_S3):
    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when it is absent or unreadable (logged)."""
        if not self.bucket:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        except (ClientError, BotoCoreError) as exc:
            logger.warning("blob unreadable", extra={"key": key, "error": str(exc)[:200]})
            return None

    def put(self, key: str, data: bytes, content_type: str = "application/gzip") -> None:
        if not self.bucket:
            raise RuntimeError("CODE_BUCKET is not configured")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)


class S3Uploads(_S3):
    EXPIRES_S = 900

    def _endpoint(self) -> str | None:
        return upload_endpoint(self.region, os.environ.get("S3_ENDPOINT"))

    def presigned_post(self, key: str, content_type: str, size: int) -> dict:
        """A POST the browser sends straight to the bucket: the policy takes exactly this key,
        exactly this Content-Type and at most `size` bytes, for 15 minutes."""
        if not self.bucket:
            raise RuntimeError("IMAGE_BUCKET is not configured")
        # Keys are never reused, so an image may be cached for a year wherever it is served.
        fields = {"Content-Type": content_type, "Cache-Control": "public, max-age=31536000, immutable"}
        return self.client.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields,
            Conditions=[{k: v} for k, v in fields.items()] + [["content-length-range", 1, size]],
            ExpiresIn=self.EXPIRES_S)
