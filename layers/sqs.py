"""Sending to SQS: one botocore client per container, built on first use (botocore
directly: boto3's session and resource layer add import time and nothing we use)."""

from __future__ import annotations

import json
import os


class SqsSender:
    def __init__(self, region: str):
        self.region = region
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from layers import aws

            # SQS_ENDPOINT points at moto's server locally; unset in AWS.
            self._client = aws.client("sqs", region_name=self.region, endpoint_url=os.environ.get("SQS_ENDPOINT"))
        return self._client

    def prime(self) -> None:
        """The client built and SendMessage made once offline (layers/aws.py `prime`):
        nothing is sent. For a container about to be snapshotted (SnapStart)."""
        from layers import aws

        aws.prime(self.client, {"SendMessage": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/0/prime",
                                                "MessageBody": "{}", "DelaySeconds": 0}})

    def send(self, queue_url: str | None, body: dict, delay_s: int = 0) -> None:
        if not queue_url:
            raise RuntimeError("queue URL not configured")
        self.client.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body),
                                 DelaySeconds=max(0, min(900, int(delay_s))))
