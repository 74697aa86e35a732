"""Finding orders in the merchant console: by the buyer's phone (the phone of
the order's address) over a range of Asia/Shanghai days, or the orders paid in such a
range; optionally of one status. Pure rules here; the indexes are the order storage's.

- A phone is compared by its digits, without the country code (`+86 138-0013-8000` and
  `13800138000` are one phone).
- A range is `from`..`to`, whole Beijing days, at most MAX_DAYS of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from layers.domain import errors
from layers.domain.analytics import SHANGHAI

MAX_DAYS = 31
STATUSES = ("PENDING_PAYMENT", "PAID", "SHIPPED", "COMPLETED", "CLOSED", "REFUNDING", "REFUNDED")


def normalized_phone(text: str | None) -> str | None:
    """The digits a phone is indexed and found by; None when it has too few to be one."""
    digits = "".join(ch for ch in (text or "") if ch in "0123456789")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits if 5 <= len(digits) <= 20 else None


@dataclass(frozen=True)
class DayRange:
    first: str  # YYYY-MM-DD, Beijing
    last: str

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(date.fromisoformat(self.first), time.min, SHANGHAI)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the range."""
        return datetime.combine(date.fromisoformat(self.last) + timedelta(days=1), time.min, SHANGHAI)

    def days_newest_first(self) -> list[str]:
        first, last = date.fromisoformat(self.first), date.fromisoformat(self.last)
        return [(last - timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def day_range(first: str | None, last: str | None, today: str) -> DayRange:
    """`first`..`last` (either may be blank: the other, or today), checked."""
    try:
        end = date.fromisoformat(last) if last else None
        start = date.fromisoformat(first) if first else None
    except ValueError as exc:
        raise errors.InvalidRequest("from/to: dates as YYYY-MM-DD") from exc
    end = end or start or date.fromisoformat(today)
    start = start or end
    if start > end:
        raise errors.InvalidRequest("from is after to")
    if (end - start).days + 1 > MAX_DAYS:
        raise errors.InvalidRequest(f"at most {MAX_DAYS} days at a time")
    return DayRange(start.isoformat(), end.isoformat())


def checked_status(status: str | None) -> str | None:
    if status and status not in STATUSES:
        raise errors.InvalidRequest(f"status: one of {', '.join(STATUSES)}")
    return status or None


class OrderSearchRepository(Protocol):
    def get(self, order_id: str, consistent: bool = False):
        """One order by its number (an `Order`; None: no such order)."""

    def by_phone(self, phone: str, start_iso: str, end_iso: str, status: str | None, limit: int,
                 cursor: dict | None, examine: int = 200) -> tuple[list, dict | None]:
        """Orders whose address has this (normalized) phone, created in [start, end),
        newest first, of `status` if given: at most `limit`, having looked at no more than
        `examine`; and the cursor past the last one looked at (None at the end)."""

    def paid_in_days(self, days: list[str], status: str | None, limit: int, cursor: dict | None,
                     examine: int = 200) -> tuple[list, dict | None]:
        """Orders paid on these Beijing days (newest day first), newest first; paged as
        `by_phone`."""
