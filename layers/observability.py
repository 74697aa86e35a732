"""One structured JSON logger (Powertools) for every handler family.

Request ids come from the Lambda context (`inject_lambda_context` in app.py) and,
for HTTP, from API Gateway's request id; order ids are appended where known with
`logger.append_keys(order_id=...)`.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="shop")
