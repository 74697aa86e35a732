"""助力: friend assistance. A shopper starts an instance of a campaign; friends' helps
count; at `helpers_needed` helps the owner is owed the campaign's reward coupon, given
once through the coupon service under an id derived from the instance.

    ACTIVE    --help (k < M)-->   ACTIVE
    ACTIVE    --help (k = M)-->   SUCCEEDED   reward OWED
    ACTIVE    --expiry-->         EXPIRED

The reward of a SUCCEEDED instance:

    OWED --issued(coupon)-->       ISSUED    reward_coupon_id set
    OWED --none left / not yet-->  OWED      reward_error says why; the expire-campaigns
                                             job tries again
    OWED --can never be issued-->  REFUSED   (window over, the owner's limit reached,
                                             the template gone): for the operators

With `new_users_only`, only a shopper whose first login came after the instance started
may help: that is how merchants use it to bring in new customers.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from layers.domain import errors
from layers.domain.helps import NotAllowed, check_helper, expired


class AssistStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    EXPIRED = "EXPIRED"


class RewardStatus(StrEnum):
    OWED = "OWED"
    ISSUED = "ISSUED"
    REFUSED = "REFUSED"


ACTIVE = AssistStatus.ACTIVE
SUCCEEDED = AssistStatus.SUCCEEDED
EXPIRED = AssistStatus.EXPIRED
OWED = RewardStatus.OWED
ISSUED = RewardStatus.ISSUED
REFUSED = RewardStatus.REFUSED
# Why a reward could not be issued: worth trying again later, or never.
RETRYABLE = ("SOLD_OUT", "NOT_STARTED", "RATE_LIMITED")


@dataclass(frozen=True)
class AssistCampaign:
    campaign_id: str
    name: str
    helpers_needed: int
    reward_coupon_template_id: str
    ttl_s: int
    starts_at: str
    ends_at: str
    per_user_limit: int
    new_users_only: bool
    helps_per_user_per_day: int | None
    created_at: str
    stopped_at: str | None = None  # an operator stopped it: no new instance starts


@dataclass(frozen=True)
class AssistInstance:
    instance_id: str
    campaign_id: str
    user_id: str
    helpers_needed: int
    reward_coupon_template_id: str
    new_users_only: bool
    status: str
    created_at: str
    expires_at: str
    helps: int = 0
    succeeded_at: str | None = None
    reward_status: str | None = None
    reward_coupon_id: str | None = None
    reward_error: str | None = None
    version: int = 0

    def shown_status(self, now: datetime) -> str:
        if self.status == ACTIVE and expired(self.expires_at, now):
            return EXPIRED.value
        return str(self.status)


class AssistCampaignRepository(Protocol):
    def get(self, campaign_id: str) -> AssistCampaign | None: ...

    def list_campaigns(self, limit: int, cursor: dict | None) -> tuple[list[AssistCampaign], dict | None]:
        """Every campaign, newest first."""

    def stage_create(self, tx, campaign: AssistCampaign, on_exists) -> None: ...

    def stage_count_start(self, tx, campaign_id: str, user_id: str, limit: int, on_limit) -> None:
        """Count one instance started by the shopper, while fewer than `limit`."""

    def stage_check_running(self, tx, campaign_id: str, on_stopped) -> None:
        """The campaign is not stopped (checked in the starting transaction)."""

    def stage_stop(self, tx, campaign_id: str, stopped_at: str, on_stopped) -> None:
        """Set `stopped_at`, conditioned on the campaign existing and not being stopped yet."""


class AssistInstanceRepository(Protocol):
    def get(self, instance_id: str) -> AssistInstance | None:
        """Read consistently."""

    def due(self, until_iso: str, limit: int) -> list[AssistInstance]:
        """ACTIVE instances whose expiry is at or before `until_iso`."""

    def rewards(self, status: str, limit: int, cursor: dict | None) -> tuple[list[AssistInstance], dict | None]:
        """SUCCEEDED instances whose reward is OWED or REFUSED, oldest first."""

    def stage_create(self, tx, instance: AssistInstance, on_exists) -> None: ...

    def stage_change(self, tx, before: AssistInstance, after: AssistInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        """Write `after`, conditioned on the stored instance still being `before.version`
        (and, with `unexpired_at`, on its expiry being after that time)."""


def new_campaign_id() -> str:
    return "ac" + uuid.uuid4().hex[:20]


def new_instance_id() -> str:
    return "ai" + uuid.uuid4().hex[:22]


def reward_coupon_id(instance_id: str) -> str:
    """The one reward coupon an instance can give: retries and racing helpers find it."""
    return "c" + hashlib.sha256(f"assist\x00{instance_id}".encode()).hexdigest()[:25]


def check_window(campaign: AssistCampaign, now: datetime) -> None:
    if campaign.stopped_at is not None:
        raise errors.InvalidState("this campaign was stopped")
    if now < datetime.fromisoformat(campaign.starts_at.replace("Z", "+00:00")):
        raise errors.NotStarted("this campaign has not started")
    if now >= datetime.fromisoformat(campaign.ends_at.replace("Z", "+00:00")):
        raise errors.Ended("this campaign has ended")


def start(campaign: AssistCampaign, instance_id: str, user_id: str, created_at: str,
          expires_at: str) -> AssistInstance:
    return AssistInstance(
        instance_id=instance_id, campaign_id=campaign.campaign_id, user_id=user_id,
        helpers_needed=campaign.helpers_needed, reward_coupon_template_id=campaign.reward_coupon_template_id,
        new_users_only=campaign.new_users_only, status=ACTIVE, created_at=created_at, expires_at=expires_at)


def _next(instance: AssistInstance, **changes) -> AssistInstance:
    return replace(instance, version=instance.version + 1, **changes)


def check_new_user(instance: AssistInstance, helper_first_login: str | None) -> None:
    """With new_users_only: the helper's first login came after the instance started."""
    if not instance.new_users_only:
        return
    if helper_first_login is None or helper_first_login <= instance.created_at:
        raise NotAllowed("only shoppers new to the shop since this started can help")


def help_(instance: AssistInstance, helper_id: str, now: datetime, now_iso: str) -> AssistInstance:
    """The next help; the M-th makes it SUCCEEDED with its reward OWED."""
    check_helper(instance.user_id, helper_id)
    if instance.shown_status(now) != ACTIVE:
        raise errors.InvalidState(f"this assistance is {instance.shown_status(now)}; it takes no more help")
    k = instance.helps + 1
    if k == instance.helpers_needed:
        return _next(instance, helps=k, status=SUCCEEDED, succeeded_at=now_iso, reward_status=OWED)
    return _next(instance, helps=k)


def reward_issued(instance: AssistInstance, coupon_id: str) -> AssistInstance | None:
    if instance.reward_status == ISSUED:
        return None
    return _next(instance, reward_status=ISSUED, reward_coupon_id=coupon_id, reward_error=None)


def reward_not_issued(instance: AssistInstance, code: str) -> AssistInstance | None:
    """OWED with the reason (tried again later), or REFUSED when it can never be issued."""
    status = OWED if code in RETRYABLE else REFUSED
    if instance.reward_status == status and instance.reward_error == code:
        return None
    return _next(instance, reward_status=status, reward_error=code)


def expire(instance: AssistInstance, now: datetime) -> AssistInstance | None:
    if instance.status != ACTIVE or not expired(instance.expires_at, now):
        return None
    return _next(instance, status=EXPIRED)


def stop(campaign: AssistCampaign, now: str) -> AssistCampaign:
    """An operator stops the campaign: no instance starts any more; running instances keep
    collecting helps until they expire (and earn their reward). Stopping twice changes nothing."""
    return campaign if campaign.stopped_at is not None else replace(campaign, stopped_at=now)
