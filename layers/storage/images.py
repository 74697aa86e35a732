"""Images in the code bucket (infra/: `CodeBucket`, env `CODE_BUCKET`); moto's server
serves S3 locally (`S3_ENDPOINT`). layers.domain.miniprogram.ImageStore."""

from __future__ import annotations

import os

from layers.observability import logger


class S3ImageStore:
    def __init__(self, bucket: str | None, region: str):
        self.bucket = bucket
        self.region = region
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from botocore.config import (
                Config,  # here, not at import: only the share-code route needs it
            )

            from layers import aws

            self._client = aws.client(
                "s3", region_name=self.region, endpoint_url=os.environ.get("S3_ENDPOINT"),
                config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                              retries={"max_attempts": 2}))
        return self._client

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
