"""One structured JSON logger (Powertools) for every handler family.

Request ids come from the middleware (`functions/_middleware.py`): API Gateway's request
id and the route for HTTP, the Lambda request id for the other events; services append
what they know (`logger.append_keys(order_id=...)`).

Keys belong to the invocation being served. In Lambda a warm container serves one
invocation after another; under `make dev` one process serves each connection on its own
thread while the local runtime's pollers and schedules run on others. Powertools' plain
`append_keys` writes one dictionary shared by the whole process, so a thread's keys would
show on every other thread's lines (a payment notification logged with the path of a
receipt). Here `append_keys` and `remove_keys` use Powertools' per-thread context
instead, and `start_invocation`/`end_invocation` clear it at both ends of each
invocation, so neither a previous invocation nor code run between two leaves keys behind.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools import Logger


class ShopLogger(Logger):
    """Powertools' Logger whose appended keys are the current thread's (a ContextVar)."""

    def append_keys(self, **additional_keys: object) -> None:
        self.thread_safe_append_keys(**additional_keys)

    def remove_keys(self, keys: Iterable[str]) -> None:
        # A new dict rather than Powertools' in-place pop: a copied context shares the old one.
        drop = set(keys)
        kept = {k: v for k, v in self.thread_safe_get_current_keys().items() if k not in drop}
        self.thread_safe_clear_keys()
        self.thread_safe_append_keys(**kept)

    def get_current_keys(self) -> dict:
        return {**super().get_current_keys(), **self.thread_safe_get_current_keys()}

    def clear_state(self) -> None:
        """Drop this thread's appended keys. (Powertools' own clear_state rebuilds the
        process-wide format, which other threads are reading at the same moment.)"""
        self.thread_safe_clear_keys()

    def start_invocation(self, **keys: object) -> None:
        """A new invocation starts from the logger's own keys plus `keys`."""
        self.thread_safe_clear_keys()
        self.append_keys(**keys)

    def end_invocation(self) -> None:
        self.thread_safe_clear_keys()


logger = ShopLogger(service="shop")

# The `alarm` value of the line the HTTP middleware logs for every 5xx answer. infra/'s
# metric filters count it as `Http5xx` (its own alarm) and leave it out of
# `BusinessAlarms`, so a 5xx is not counted twice as a business anomaly.
ALARM_5XX = "HTTP_5XX"
