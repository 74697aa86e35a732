"""The scheduled jobs by name. Each is safe to run twice, late, or after dying halfway."""

from __future__ import annotations

from collections.abc import Callable

from layers.domain import errors
from layers.observability import logger


def _close_expired_orders() -> dict:
    from layers.services import orders

    return {**orders.close_expired(), **orders.auto_confirm_receipts(), "refunds": _refunds_sweep()}


def _refunds_sweep() -> dict:
    from layers.services.refunds import sweep

    return sweep()


def _relay_outbox() -> dict:
    from layers.services.outbox import relay

    return relay()


def _settle_commissions() -> dict:
    from layers.services.settlement import settle_commissions

    return settle_commissions()


def _send_reminders() -> dict:
    from layers.services.reminders import send_reminders

    return send_reminders()


def _reconcile() -> dict:
    from layers.services.reconcile import reconcile

    return reconcile()


# Each job imports its service when it runs: the jobs Lambda's cold start stays small.
JOBS: dict[str, Callable[[], dict]] = {
    "close-expired-orders": _close_expired_orders,
    "relay-outbox": _relay_outbox,
    "settle-commissions": _settle_commissions,
    "send-reminders": _send_reminders,
    "reconcile": _reconcile,
}


def run_job(name: str) -> dict:
    job = JOBS.get(name)
    if job is None:
        raise errors.NotFound(f"no job named {name!r}; jobs: {', '.join(sorted(JOBS))}")
    logger.info("job start", extra={"job": name})
    result = job()
    logger.info("job done", extra={"job": name, "result": result})
    return result
