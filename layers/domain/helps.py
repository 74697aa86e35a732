"""A friend's help (砍一刀 / 助力一下): what bargains and friend assistance share.

One help is one transaction of three parts, each with its condition:

- the help itself, `(instance, helper)`, put only if absent: nobody helps twice
  (`AlreadyHelped`, 409 ALREADY_HELPED);
- the helper's count for the campaign and the Beijing day, below the campaign's
  `helps_per_user_per_day` when it has one (`LimitExceeded`);
- the instance advanced from the helps it was read with (its repository's condition),
  still ACTIVE and not expired; when that fails the service re-reads and decides again.

The owner never helps their own instance (`NotAllowed`, 403 NOT_ALLOWED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from layers.domain import errors

BEIJING = timedelta(hours=8)


class NotAllowed(errors.DomainError):
    code = "NOT_ALLOWED"
    kind = "forbidden"


class AlreadyHelped(errors.DomainError):
    code = "ALREADY_HELPED"
    kind = "conflict"


@dataclass(frozen=True)
class Help:
    instance_id: str
    helper_id: str
    seq: int  # 1 for the first help of the instance, ... helpers_needed for the last
    cut: int  # fen taken off (0 for friend assistance, which only counts)
    at: str


class HelpRepository(Protocol):
    def stage_help(self, tx, help_: Help, on_exists) -> None:
        """Put the help, only if this helper has none on this instance yet."""

    def stage_quota(self, tx, campaign_id: str, helper_id: str, day: str, limit: int, expires_at: int,
                    on_limit) -> None:
        """Count one help of the helper in the campaign on `day`, while fewer than `limit`."""

    def for_instance(self, instance_id: str) -> list[Help]:
        """Every help of an instance, in the order they were taken."""


def beijing_day(now: datetime) -> str:
    """The day a daily quota counts in: the shop's (Asia/Shanghai, UTC+8, no DST)."""
    return (now.astimezone(UTC) + BEIJING).strftime("%Y-%m-%d")


def check_helper(owner_id: str, helper_id: str) -> None:
    if owner_id == helper_id:
        raise NotAllowed("you cannot help your own instance; share it with friends")


def expired(expires_at: str, now: datetime) -> bool:
    return datetime.fromisoformat(expires_at.replace("Z", "+00:00")) <= now
