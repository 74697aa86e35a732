"""The console's lists of bargains and assistance campaigns, in memory and on
DynamoDB Local alike (gsi1, newest first)."""

from __future__ import annotations

import uuid

from layers.domain.assistance import AssistCampaign
from tests.contract.test_campaign_repositories import Env, Fail, _bargain, _commit, env

__all__ = ["env"]  # the fixture, from the repositories' contract


def _all(list_page) -> list:
    found, cursor = [], None
    for _ in range(1000):
        page, cursor = list_page(2, cursor)
        found += page
        if not cursor:
            break
    return found


class TestCampaignLists:
    def test_bargains_newest_first_with_their_remaining_stock(self, env: Env):
        older = _bargain(created_at="2026-11-29T01:00:00Z", stock=3)
        newer = _bargain(created_at="2026-11-29T01:00:01Z", stock=4)
        for b in (older, newer):
            _commit(env, lambda tx, b=b: env.bargains.stage_create(tx, b, on_exists=Fail))
        _commit(env, lambda tx: env.bargains.stage_take_stock(tx, older.bargain_id, on_empty=Fail))
        mine = [(b.bargain_id, remaining) for b, remaining in _all(env.bargains.list_bargains)
                if b.bargain_id in (older.bargain_id, newer.bargain_id)]
        assert mine == [(newer.bargain_id, 4), (older.bargain_id, 2)]

    def test_campaigns_newest_first(self, env: Env):
        made = []
        for second in (0, 1):
            campaign = AssistCampaign(campaign_id="ac" + uuid.uuid4().hex[:12], name="集赞", helpers_needed=3,
                                      reward_coupon_template_id="ct1", ttl_s=3600, starts_at="2026-11-29T01:00:00Z",
                                      ends_at="2026-11-30T01:00:00Z", per_user_limit=1, new_users_only=True,
                                      helps_per_user_per_day=None, created_at=f"2026-11-29T01:00:0{second}Z")
            _commit(env, lambda tx, c=campaign: env.campaigns.stage_create(tx, c, on_exists=Fail))
            made.append(campaign)
        mine = [c for c in _all(env.campaigns.list_campaigns) if c in made]
        assert mine == made[::-1]
