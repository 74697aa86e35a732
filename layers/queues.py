"""Queue names, shared by the Chalice decorators (which build the event source ARNs
from them), infra/ (which creates them) and the local runtime."""

from __future__ import annotations

import os

# `chalice package --stage X` imports app.py with the stage's environment_variables,
# so each stage gets its own queues in one account.
_STAGE = os.environ.get("STAGE", "dev")

EVENTS_QUEUE = f"shop-events-{_STAGE}"
ORDER_EXPIRY_QUEUE = f"shop-order-expiry-{_STAGE}"
SETTLEMENT_QUEUE = f"shop-settlement-{_STAGE}"
# -- analytics --
ANALYTICS_QUEUE = f"shop-analytics-{_STAGE}"
