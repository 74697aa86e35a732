"""The shopper's last visit that named a channel (layers/domain/channels.py).

pk `USER#<user_id>`, sk `LAST_VISIT`: `channel`, `at` (RFC 3339, UTC, one format, so
the strings order as the times do) and `scene`. Written by one conditional UpdateItem
that only moves forward in time (a visit older than the one kept changes nothing), read
by placement's one BatchGetItem (layers/storage/placement.py). It expires a year and a
day after the visit: `share_binding_ttl_s` is a year at most.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.clock import parse_iso
from layers.domain.channels import LastVisit
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed

KEPT_S = 366 * 24 * 3600


class LastVisitItem(ShopModel):
    channel = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)
    scene = NumberAttribute(null=True)


def last_visit_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "LAST_VISIT"


def to_last_visit(item: LastVisitItem | None) -> LastVisit | None:
    if item is None or not item.channel or not item.at:
        return None
    return LastVisit(item.channel, item.at, int(item.scene) if item.scene is not None else None)


class DynamoLastVisits:
    """`layers.domain.channels.LastVisits` on the shop table."""

    def record(self, user_id: str, visit: LastVisit) -> bool:
        actions = [LastVisitItem.channel.set(visit.channel), LastVisitItem.at.set(visit.at),
                   LastVisitItem.ttl.set(int(parse_iso(visit.at).timestamp()) + KEPT_S)]
        actions.append(LastVisitItem.scene.set(visit.scene) if visit.scene is not None
                       else LastVisitItem.scene.remove())
        try:
            LastVisitItem(*last_visit_key(user_id)).update(
                actions=actions, condition=LastVisitItem.at.does_not_exist() | (LastVisitItem.at <= visit.at))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get(self, user_id: str) -> LastVisit | None:
        try:
            return to_last_visit(LastVisitItem.get(*last_visit_key(user_id), consistent_read=True))
        except LastVisitItem.DoesNotExist:
            return None
