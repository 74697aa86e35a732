"""Time in one place: RFC 3339 UTC strings for the API, epoch seconds for TTLs.
Tests move time by patching `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("a time zone is required")
    return dt.astimezone(UTC)


def now_iso() -> str:
    return iso(now())


def later_iso(seconds: float) -> str:
    return iso(now() + timedelta(seconds=seconds))
