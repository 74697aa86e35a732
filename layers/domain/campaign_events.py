"""The events a campaign's own steps emit, for its review (layers/domain/analytics.py
`MILESTONES`): a group opened, succeeded or failed; a bargain started or reaching its
floor; an assistance instance started or its reward given.

Each is staged through the outbox in the transaction of the change it reports, and its
id names the fact (`group.opened:<group_id>`), so a retried change is the same event,
counted once downstream. Payload: `{"figure", "campaign_id", "subject", "user_id", "at"}`.
"""

from __future__ import annotations

from layers.domain.order import Event

# event type -> the review figure it moves
FIGURES = {"group.opened": "groups_opened", "group.succeeded": "groups_succeeded", "group.failed": "groups_failed",
           "bargain.started": "bargains_started", "bargain.succeeded": "bargains_succeeded",
           "assist.started": "assists_started", "assist.rewarded": "rewards_given"}


def _event(kind: str, campaign_id: str, subject: str, user_id: str, at: str) -> Event:
    return Event(kind, subject, {"figure": FIGURES[kind], "campaign_id": campaign_id, "subject": subject,
                                 "user_id": user_id, "at": at})


def group_events(before, after, at: str) -> list[Event]:
    """A group's move `before -> after` (layers/domain/group_buy.py): opened when the
    leader's payment takes it out of PENDING; succeeded when it reaches SUCCEEDED; failed
    when an opened group fails (a PENDING group whose leader never paid was never opened)."""
    if after is None or str(before.status) == str(after.status):
        return []
    out = []
    if str(before.status) == "PENDING" and str(after.status) in ("OPEN", "SUCCEEDED"):
        out.append("group.opened")
    if str(after.status) == "SUCCEEDED":
        out.append("group.succeeded")
    if str(after.status) == "FAILED" and str(before.status) == "OPEN":
        out.append("group.failed")
    return [_event(kind, after.group_buy_id, after.group_id, after.leader_id, at) for kind in out]


def bargain_started(instance) -> Event:
    return _event("bargain.started", instance.bargain_id, instance.instance_id, instance.user_id,
                  instance.created_at)


def bargain_succeeded(before, after) -> list[Event]:
    """The help that brought the price to the floor."""
    if before.succeeded_at is not None or after.succeeded_at is None:
        return []
    return [_event("bargain.succeeded", after.bargain_id, after.instance_id, after.user_id, after.succeeded_at)]


def assist_started(instance) -> Event:
    return _event("assist.started", instance.campaign_id, instance.instance_id, instance.user_id,
                  instance.created_at)


def assist_rewarded(before, after, at: str) -> list[Event]:
    """The reward coupon issued (OWED -> ISSUED)."""
    if str(before.reward_status) == "ISSUED" or str(after.reward_status) != "ISSUED":
        return []
    return [_event("assist.rewarded", after.campaign_id, after.instance_id, after.user_id, at)]
