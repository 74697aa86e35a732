"""Analytics: the operators' figures, and the consumer that keeps them.

Routes read counters only (no scan); the consumer hands a whole SQS batch to
`wiring.analytics().consume`, which writes one update per counter for the batch."""

from __future__ import annotations

import json

from chalice import Blueprint

from functions import wiring
from functions._api import query_param, require_admin, route
from layers.domain import errors
from layers.observability import logger

bp = Blueprint(__name__)


@route(bp, "/admin/analytics/daily", methods=["GET"])
def daily():
    require_admin(bp)
    return wiring.analytics().daily(query_param(bp, "from"), query_param(bp, "to"))


@route(bp, "/admin/analytics/distributors", methods=["GET"])
def distributors():
    require_admin(bp)
    return wiring.analytics().distributors(query_param(bp, "month"), week=query_param(bp, "week"))


@route(bp, "/admin/analytics/coupons", methods=["GET"])
def coupons():
    require_admin(bp)
    return wiring.analytics().coupons()


@route(bp, "/admin/analytics/products", methods=["GET"])
def products():
    require_admin(bp)
    return wiring.analytics().products(query_param(bp, "from"), query_param(bp, "to"))


@route(bp, "/admin/analytics/campaigns/{kind}/{campaign_id}", methods=["GET"])
def campaign_review(kind, campaign_id):
    require_admin(bp)
    return wiring.analytics().review(kind, campaign_id)


@route(bp, "/admin/analytics/channels", methods=["GET"])
def channels():
    require_admin(bp)
    return wiring.analytics().channels(query_param(bp, "from"), query_param(bp, "to"))


def consume_batch(event: dict) -> dict:
    """SQS event of facts -> partial batch response. A malformed record fails alone (and
    ends in the dead-letter queue); if counting fails, every good record of the batch is
    retried (each counts once: markers)."""
    from layers.domain.analytics import Fact  # here: the API's cold start does not need it

    records = event.get("Records") or []
    facts, failed = [], []
    for record in records:
        try:
            facts.append(Fact.from_message(json.loads(record["body"])))
        except (ValueError, errors.InvalidRequest) as exc:
            logger.error("not an analytics fact", extra={"message_id": record.get("messageId"), "reason": str(exc)})
            failed.append(record["messageId"])
    if facts:
        result = wiring.analytics().consume(facts)
        logger.info("analytics batch", extra={**result, "records": len(records)})
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
