"""Friend assistance (助力) in the shop table.

- Campaign: pk `ASSIST#<id>`, sk `CAMPAIGN`.
- Instances a shopper started: pk `ASSIST#<id>`, sk `USER#<user_id>`, `started`
  (< per_user_limit, by condition, in the instance's creating transaction).
- Instance: pk `ASSIST_INSTANCE#<id>`, sk `INSTANCE`. gsi2 is a sparse queue by state:
  `ASSISTS_EXPIRING#<nn>` / `<expires_at>#<id>` while ACTIVE (the expire-campaigns
  sweep); `ASSIST_REWARDS#<nn>` / `<reward_status>#<succeeded_at>#<id>` while its reward
  is OWED (tried again by the job) or REFUSED (for the operators); none once issued.
- The console lists campaigns by gsi1 `ASSIST_CAMPAIGNS` / `<created_at>#<id>`.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from layers.domain import assistance as domain
from layers.domain.assistance import AssistCampaign, AssistInstance
from layers.storage import queues
from layers.storage.base import Listed, Queued, ShopModel, changed, requeued, values_of

EXPIRING = "ASSISTS_EXPIRING"
REWARDS = "ASSIST_REWARDS"
CAMPAIGNS = "ASSIST_CAMPAIGNS"  # gsi1, every campaign


class AssistCampaignItem(Listed):  # listed
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    helpers_needed = NumberAttribute()
    reward_coupon_template_id = UnicodeAttribute()
    ttl_s = NumberAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    per_user_limit = NumberAttribute()
    new_users_only = BooleanAttribute(default=False)
    helps_per_user_per_day = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    stopped_at = UnicodeAttribute(null=True)


class AssistStartedItem(ShopModel):
    started = NumberAttribute(default=0)


class AssistInstanceItem(Queued):
    instance_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    helpers_needed = NumberAttribute()
    reward_coupon_template_id = UnicodeAttribute()
    new_users_only = BooleanAttribute(default=False)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    helps = NumberAttribute(default=0)
    succeeded_at = UnicodeAttribute(null=True)
    reward_status = UnicodeAttribute(null=True)
    reward_coupon_id = UnicodeAttribute(null=True)
    reward_error = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


def campaign_key(campaign_id: str) -> tuple[str, str]:
    return f"ASSIST#{campaign_id}", "CAMPAIGN"


def started_key(campaign_id: str, user_id: str) -> tuple[str, str]:
    return f"ASSIST#{campaign_id}", f"USER#{user_id}"


def instance_key(instance_id: str) -> tuple[str, str]:
    return f"ASSIST_INSTANCE#{instance_id}", "INSTANCE"


_CAMPAIGN_FIELDS = [f.name for f in fields(AssistCampaign)]
_INSTANCE_FIELDS = [f.name for f in fields(AssistInstance)]
_TRANSITION_FIELDS = ["status", "helps", "succeeded_at", "reward_status", "reward_coupon_id", "reward_error"]
_INT = {"helpers_needed", "ttl_s", "per_user_limit", "helps_per_user_per_day", "helps", "version"}


def _campaign(item: AssistCampaignItem) -> AssistCampaign:
    values = values_of(item, _CAMPAIGN_FIELDS, _INT)
    values["new_users_only"] = bool(values["new_users_only"])
    return AssistCampaign(**values)


def _instance(item: AssistInstanceItem) -> AssistInstance:
    values = values_of(item, _INSTANCE_FIELDS, _INT)
    values["new_users_only"] = bool(values["new_users_only"])
    values["helps"] = values["helps"] or 0
    values["version"] = values["version"] or 0
    return AssistInstance(**values)


def _queue(instance: AssistInstance) -> tuple[str, str] | None:
    if instance.status == domain.ACTIVE:
        return queues.key(EXPIRING, instance.instance_id), f"{instance.expires_at}#{instance.instance_id}"
    if instance.reward_status in (domain.OWED, domain.REFUSED):
        return (queues.key(REWARDS, instance.instance_id),
                f"{instance.reward_status}#{instance.succeeded_at}#{instance.instance_id}")
    return None


def _encode(name: str, value):
    return str(value) if name in ("status", "reward_status") and value is not None else value


class DynamoAssistCampaignRepository:
    """`layers.domain.assistance.AssistCampaignRepository` on the shop table."""

    def get(self, campaign_id: str) -> AssistCampaign | None:
        try:
            return _campaign(AssistCampaignItem.get(*campaign_key(campaign_id)))
        except AssistCampaignItem.DoesNotExist:
            return None

    def stage_create(self, tx, campaign: AssistCampaign, on_exists) -> None:
        item = AssistCampaignItem(*campaign_key(campaign.campaign_id),
                                  **{n: getattr(campaign, n) for n in _CAMPAIGN_FIELDS},
                                  gsi1pk=CAMPAIGNS, gsi1sk=f"{campaign.created_at}#{campaign.campaign_id}")
        tx.put(item, condition=AssistCampaignItem.pk.does_not_exist(), on_fail=on_exists)

    def list_campaigns(self, limit: int, cursor: dict | None) -> tuple[list[AssistCampaign], dict | None]:
        """Every campaign, newest first."""
        result = AssistCampaignItem.gsi1.query(CAMPAIGNS, scan_index_forward=False, limit=limit,
                                               last_evaluated_key=cursor)
        return [_campaign(i) for i in result], result.last_evaluated_key

    def stage_count_start(self, tx, campaign_id: str, user_id: str, limit: int, on_limit) -> None:
        tx.update(AssistStartedItem(*started_key(campaign_id, user_id)), actions=[AssistStartedItem.started.add(1)],
                  condition=AssistStartedItem.started.does_not_exist() | (AssistStartedItem.started < limit),
                  on_fail=on_limit)

    def stage_check_running(self, tx, campaign_id: str, on_stopped) -> None:
        tx.check(AssistCampaignItem, *campaign_key(campaign_id),
                 condition=AssistCampaignItem.pk.exists() & AssistCampaignItem.stopped_at.does_not_exist(),
                 on_fail=on_stopped)

    def stage_stop(self, tx, campaign_id: str, stopped_at: str, on_stopped) -> None:
        tx.update(AssistCampaignItem(*campaign_key(campaign_id)), actions=[AssistCampaignItem.stopped_at.set(stopped_at)],
                  condition=AssistCampaignItem.pk.exists() & AssistCampaignItem.stopped_at.does_not_exist(),
                  on_fail=on_stopped)


class DynamoAssistInstanceRepository:
    """`layers.domain.assistance.AssistInstanceRepository` on the shop table."""

    def get(self, instance_id: str) -> AssistInstance | None:
        try:
            return _instance(AssistInstanceItem.get(*instance_key(instance_id), consistent_read=True))
        except AssistInstanceItem.DoesNotExist:
            return None

    def due(self, until_iso: str, limit: int = 100) -> list[AssistInstance]:
        found = queues.merged(
            EXPIRING,
            lambda k: AssistInstanceItem.gsi2.query(k, AssistInstanceItem.gsi2sk <= f"{until_iso}#~", limit=limit),
            lambda i: i.gsi2sk, limit)
        return [_instance(i) for i in found]

    def rewards(self, status: str, limit: int, cursor: dict | None):
        """Across the 16 queue shards, oldest success first; the cursor is the last one's sort key."""
        lower = (cursor or {}).get("after") or f"{status}#"
        found = [i for i in queues.merged(
            REWARDS,
            lambda k: AssistInstanceItem.gsi2.query(
                k, AssistInstanceItem.gsi2sk.between(lower, f"{status}#~"), limit=limit + 2),
            lambda i: i.gsi2sk, limit + 2) if i.gsi2sk != lower]
        page, more = found[:limit], len(found) > limit
        return [_instance(i) for i in page], ({"after": page[-1].gsi2sk} if more and page else None)

    def stage_create(self, tx, instance: AssistInstance, on_exists) -> None:
        values = {n: _encode(n, getattr(instance, n)) for n in _INSTANCE_FIELDS}
        queue = _queue(instance)
        item = AssistInstanceItem(*instance_key(instance.instance_id), **values,
                                  gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None)
        tx.put(item, condition=AssistInstanceItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx, before: AssistInstance, after: AssistInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        actions = [*changed(AssistInstanceItem, before, after, _TRANSITION_FIELDS, _encode),
                   *requeued(AssistInstanceItem, _queue(before), _queue(after)),
                   AssistInstanceItem.version.set(after.version)]
        condition = (AssistInstanceItem.pk.exists() & (AssistInstanceItem.version == before.version)
                     & (AssistInstanceItem.helps == before.helps))
        if unexpired_at is not None:
            condition &= AssistInstanceItem.expires_at > unexpired_at
        tx.update(AssistInstanceItem(*instance_key(before.instance_id)), actions=actions, condition=condition,
                  on_fail=on_stale)
