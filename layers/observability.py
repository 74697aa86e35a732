"""One structured JSON logger (Powertools) for every handler family.

Request ids come from the Lambda context (`inject_lambda_context` in app.py) and,
for HTTP, from API Gateway's request id; order ids are appended where known with
`logger.append_keys(order_id=...)`.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="shop")

# The `alarm` value of the line the HTTP middleware logs for every 5xx answer. infra/'s
# metric filters count it as `Http5xx` (its own alarm) and leave it out of
# `BusinessAlarms`, so a 5xx is not counted twice as a business anomaly.
ALARM_5XX = "HTTP_5XX"
