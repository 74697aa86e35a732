"""助力: friend assistance. The same help machinery as bargains, with a count: the
`helpers_needed`-th help makes the instance SUCCEEDED with its reward OWED, and the
owner gets the campaign's reward coupon through the coupon service, exactly once (the
coupon's id is derived from the instance, so a retry or a racing caller finds the same
coupon). A reward that cannot be issued now (none left, the window not open yet) stays
OWED and the expire-campaigns job tries again; one that never can (window over, the
owner's limit reached) is REFUSED. Both are listed for operators
(`GET /admin/assist-rewards`).
"""

from __future__ import annotations

from datetime import timedelta

from layers.clock import iso
from layers.domain import assistance as rules
from layers.domain import campaign_events, errors
from layers.domain.assistance import AssistCampaign, AssistInstance
from layers.domain.helps import AlreadyHelped, Help, beijing_day
from layers.observability import logger
from layers.services.outbox import CampaignStepEvents

ATTEMPTS = 10
QUOTA_TTL_S = 2 * 86400


class _Stale(Exception):
    """The instance left the version a decision was made from."""


def campaign_view(c: AssistCampaign) -> dict:
    return {"id": c.campaign_id, "name": c.name, "helpers_needed": c.helpers_needed,
            "reward_coupon_template_id": c.reward_coupon_template_id, "ttl_s": c.ttl_s,
            "starts_at": c.starts_at, "ends_at": c.ends_at, "per_user_limit": c.per_user_limit,
            "new_users_only": c.new_users_only, "helps_per_user_per_day": c.helps_per_user_per_day,
            "created_at": c.created_at, "stopped_at": c.stopped_at}


class AssistService(CampaignStepEvents):
    def __init__(self, *, campaigns, instances, helps, users, coupons, templates, timer, clock, new_tx,
                 outbox=None, publisher=None):
        """`coupons`: the coupon service (`issue_reward`); `templates`: anything with
        `get(template_id)`; `users`: `get_user(id)` (first login time)."""
        self.campaigns = campaigns
        self.instances = instances
        self.helps = helps
        self.users = users
        self.coupons = coupons
        self.templates = templates
        self.timer = timer
        self.clock = clock
        self.new_tx = new_tx
        self.outbox = outbox  # an instance's started / rewarded events (its campaign review)
        self.publisher = publisher

    def view(self, i: AssistInstance) -> dict:
        return {"id": i.instance_id, "campaign_id": i.campaign_id, "user_id": i.user_id,
                "status": i.shown_status(self.clock.now()), "helps": i.helps, "helpers_needed": i.helpers_needed,
                "created_at": i.created_at, "expires_at": i.expires_at, "reward_coupon_id": i.reward_coupon_id,
                "reward_status": i.reward_status, "reward_error": i.reward_error}

    # -- operators ------------------------------------------------------------------------

    def create_campaign(self, body) -> dict:
        """`body`: the route's AssistCampaignInput (validated there)."""
        if self.templates.get(body.reward_coupon_template_id) is None:
            raise errors.NotFound("no such coupon template")
        campaign = AssistCampaign(
            campaign_id=rules.new_campaign_id(), name=body.name, helpers_needed=body.helpers_needed,
            reward_coupon_template_id=body.reward_coupon_template_id, ttl_s=body.ttl_s,
            starts_at=iso(body.starts_at), ends_at=iso(body.ends_at), per_user_limit=body.per_user_limit,
            new_users_only=bool(body.new_users_only), helps_per_user_per_day=body.helps_per_user_per_day,
            created_at=iso(self.clock.now()))
        tx = self.new_tx()
        self.campaigns.stage_create(tx, campaign, on_exists=None)
        tx.commit()
        return campaign_view(campaign)

    def get_campaign(self, campaign_id: str) -> dict:
        return campaign_view(self._campaign(campaign_id))

    def rewards(self, status: str | None, limit: int, cursor: dict | None):
        status = status or rules.OWED.value
        if status not in (rules.OWED, rules.REFUSED):
            raise errors.InvalidRequest("status is OWED or REFUSED")
        items, next_key = self.instances.rewards(status, limit, cursor)
        return [self.view(i) for i in items], next_key

    def list_campaigns(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """Every campaign, newest first."""
        items, next_cursor = self.campaigns.list_campaigns(limit, cursor)
        return [campaign_view(c) for c in items], next_cursor

    def stop_campaign(self, campaign_id: str) -> dict:
        """No instance starts any more (409 INVALID_STATE); running instances keep
        collecting helps until they expire. Stopping a stopped campaign changes nothing."""
        from layers.services.campaign_stop import stop_campaign

        stopped = stop_campaign(lambda: self._campaign(campaign_id), rules.stop,
                                lambda tx, at, on_stopped: self.campaigns.stage_stop(tx, campaign_id, at, on_stopped),
                                self.new_tx, iso(self.clock.now()), "campaign")
        logger.info("campaign stopped", extra={"campaign_id": campaign_id})
        return campaign_view(stopped)

    def _campaign(self, campaign_id: str) -> AssistCampaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise errors.NotFound("no such assistance campaign")
        return campaign

    def _instance(self, instance_id: str) -> AssistInstance:
        instance = self.instances.get(instance_id)
        if instance is None:
            raise errors.NotFound("no such assistance instance")
        return instance

    # -- shoppers -------------------------------------------------------------------------

    def start(self, user_id: str, campaign_id: str) -> dict:
        campaign = self._campaign(campaign_id)
        now = self.clock.now()
        rules.check_window(campaign, now)
        instance = rules.start(campaign, rules.new_instance_id(), user_id, iso(now),
                               iso(now + timedelta(seconds=campaign.ttl_s)))
        limit = campaign.per_user_limit
        tx = self.new_tx()
        self.instances.stage_create(tx, instance, on_exists=None)
        self.campaigns.stage_count_start(
            tx, campaign_id, user_id, limit,
            on_limit=lambda: errors.LimitExceeded(f"at most {limit} of this campaign per shopper"))
        # decided in this transaction: a stop committed since the read refuses the start
        self.campaigns.stage_check_running(tx, campaign_id,
                                           on_stopped=lambda: errors.InvalidState("this campaign was stopped"))
        events = [campaign_events.assist_started(instance)]
        self._stage_events(tx, events, instance.created_at)
        tx.commit()
        self._publish(events, instance.created_at)
        self.timer.schedule(instance.instance_id, instance.expires_at)
        return self.view(instance)

    def get_instance(self, instance_id: str) -> dict:
        return self.view(self._instance(instance_id))

    def help(self, helper_id: str, instance_id: str) -> dict:
        instance = self._instance(instance_id)
        if instance.new_users_only:
            user = self.users.get_user(helper_id)
            rules.check_new_user(instance, user.created_at if user else None)
        for attempt in range(ATTEMPTS):
            if attempt:
                instance = self._instance(instance_id)
            now = self.clock.now()
            now_iso = iso(now)
            after = rules.help_(instance, helper_id, now, now_iso)
            campaign = self._campaign(instance.campaign_id)
            tx = self.new_tx()
            self.helps.stage_help(tx, Help(instance_id, helper_id, after.helps, 0, now_iso),
                                  on_exists=lambda: AlreadyHelped("you already helped"))
            quota = campaign.helps_per_user_per_day
            if quota:
                self.helps.stage_quota(
                    tx, campaign.campaign_id, helper_id, beijing_day(now), quota, int(now.timestamp()) + QUOTA_TTL_S,
                    on_limit=lambda q=quota: errors.LimitExceeded(f"at most {q} helps a day in this campaign"))
            self.instances.stage_change(tx, instance, after, on_stale=_Stale, unexpired_at=now_iso)
            try:
                tx.commit()
            except _Stale:
                continue
            if after.reward_status == rules.OWED:
                after = self.give_reward(instance_id) or after
            return {"helps": after.helps, "helpers_needed": after.helpers_needed, "status": str(after.status),
                    "reward_coupon_id": after.reward_coupon_id}
        raise errors.RateLimited("this assistance is busy; try again in a moment")

    # -- the reward ---------------------------------------------------------------------------

    def give_reward(self, instance_id: str) -> AssistInstance | None:
        """Issue the OWED reward of a SUCCEEDED instance, or record why it could not be."""
        instance = self.instances.get(instance_id)
        if instance is None or instance.reward_status != rules.OWED:
            return instance
        coupon_id = rules.reward_coupon_id(instance_id)
        try:
            self.coupons.issue_reward(instance.reward_coupon_template_id, instance.user_id, coupon_id,
                                      source="assist")
            decide = lambda i: rules.reward_issued(i, coupon_id)  # noqa: E731
            logger.info("assistance reward issued", extra={"instance_id": instance_id, "coupon_id": coupon_id})
        except (errors.SoldOut, errors.LimitExceeded, errors.NotStarted, errors.Ended, errors.NotFound,
                errors.RateLimited) as exc:
            code = exc.code
            decide = lambda i: rules.reward_not_issued(i, code)  # noqa: E731
            logger.warning("assistance reward not issued", extra={"instance_id": instance_id, "reason": code})
        for _ in range(ATTEMPTS):
            current = self.instances.get(instance_id)
            if current.reward_status == rules.ISSUED:
                return current
            after = decide(current)
            if after is None:
                return current
            tx = self.new_tx()
            self.instances.stage_change(tx, current, after, on_stale=_Stale)
            now = iso(self.clock.now())
            events = campaign_events.assist_rewarded(current, after, now)
            self._stage_events(tx, events, now)
            try:
                tx.commit()
            except _Stale:
                continue
            self._publish(events, now)
            return after
        return None

    def retry_rewards(self, limit: int = 200) -> dict:
        """The expire-campaigns job's reward part: every OWED reward, tried again."""
        issued = owed = 0
        items, _ = self.instances.rewards(rules.OWED.value, limit, None)
        for candidate in items:
            result = self.give_reward(candidate.instance_id)
            if result is not None and result.reward_status == rules.ISSUED:
                issued += 1
            else:
                owed += 1
        return {"rewards_issued": issued, "rewards_owed": owed}

    # -- expiry -------------------------------------------------------------------------------

    def expire_one(self, instance_id: str) -> bool:
        for _ in range(ATTEMPTS):
            instance = self.instances.get(instance_id)
            after = rules.expire(instance, self.clock.now()) if instance else None
            if after is None:
                return False
            tx = self.new_tx()
            self.instances.stage_change(tx, instance, after, on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            return True
        return False

    def expire_due(self, limit: int = 500) -> dict:
        expired = sum(self.expire_one(c.instance_id) for c in self.instances.due(iso(self.clock.now()), limit))
        return {"assist_instances_expired": expired}

    def on_expiry_due(self, event_id: str, payload: dict) -> None:
        if self.timer.due(payload):
            self.expire_one(payload["instance_id"])
