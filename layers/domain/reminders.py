"""订阅消息 reminders: what a shopper consented to, and what was sent.

A consent is a credit: one message per "accept" the shopper gave in
wx.requestSubscribeMessage. A reminder is claimed before it is sent, in one
transaction: the marker `(kind, subject, user)` must not exist and a credit must be
left. So a reminder goes at most once, and never without consent; a refusal from
WeChat consumes the credit like a sent message does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

ORDER_UNPAID_LEAD = timedelta(minutes=5)
COUPON_EXPIRING_LEAD = timedelta(hours=24)
FLASH_START_LEAD = timedelta(minutes=10)


class ReminderStatus(StrEnum):
    SENDING = "SENDING"  # claimed; the message is being sent
    SENT = "SENT"
    REFUSED = "REFUSED"  # WeChat says the shopper has not (or no longer) accepted
    FAILED = "FAILED"    # at most once: not retried
    # WeChat refused the message's data (47003): nothing reached the shopper, so
    # the consent credit is given back.
    DATA_REFUSED = "DATA_REFUSED"


@dataclass(frozen=True)
class Consent:
    user_id: str
    template_id: str
    credits: int


@dataclass(frozen=True)
class FlashReminderRequest:
    sale_id: str
    user_id: str
    starts_at: str


@dataclass(frozen=True)
class Claim:
    """One reminder: `kind` of `subject_id` to `user_id`, with a credit of `template_id`."""

    kind: str
    subject_id: str
    user_id: str
    template_id: str


class ReminderRepository(Protocol):
    def add_credits(self, user_id: str, template_ids: list[str], now: str) -> None:
        """One more credit for each template (an "accept")."""

    def consents(self, user_id: str) -> list[Consent]: ...

    def request_flash_reminder(self, request: FlashReminderRequest) -> None: ...

    def flash_requests_starting(self, until_iso: str, limit: int = 1000) -> list[FlashReminderRequest]: ...

    def flash_request_done(self, request: FlashReminderRequest) -> None:
        """Out of the work queue (it stays, as a record)."""

    def stage_claim(self, tx, claim: Claim, now: str, on_already_sent, on_no_consent) -> None:
        """The marker (conditioned on not existing) and the credit (conditioned on > 0)."""

    def finish(self, claim: Claim, status: str) -> None:
        """SENDING -> `status`, conditioned on the marker still being SENDING."""

    def finish_returning_credit(self, claim: Claim, status: str) -> None:
        """SENDING -> `status` and the credit back, in one transaction (once)."""
