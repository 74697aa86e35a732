"""Telling a failed condition apart from everything else.

A `ConditionalCheckFailedException` is a domain answer ("someone else moved it", "no
stock left"): the caller re-reads and decides again. Throttling, a timeout or a
network error is not an answer at all: it propagates, so the request answers 503 or
429, and WeChat Pay, SQS or the schedule delivers it again.
"""

from __future__ import annotations

from pynamodb.exceptions import PynamoDBException

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: PynamoDBException) -> bool:
    return getattr(exc, "cause_response_code", None) == CONDITION_FAILED
