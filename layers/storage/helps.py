"""Friends' helps (bargains and friend assistance) in the shop table.

- A help: pk `HELPS#<instance_id>`, sk `HELPER#<helper_id>`, with its sequence number
  and cut; put only if absent, so a helper helps an instance once however many times
  they tap at once.
- A helper's daily count in a campaign: pk `HELPQUOTA#<campaign_id>#<helper_id>`, sk the
  Beijing day, `helps` < the campaign's limit; the helper's own item (never hot), gone
  by TTL two days later.

`DynamoHelpRepository` implements `layers.domain.helps.HelpRepository`.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.domain.helps import Help
from layers.storage.base import ShopModel


class HelpItem(ShopModel):
    instance_id = UnicodeAttribute()
    helper_id = UnicodeAttribute()
    seq = NumberAttribute()
    cut = NumberAttribute(default=0)
    at = UnicodeAttribute()


class HelpQuotaItem(ShopModel):
    helps = NumberAttribute(default=0)


def help_key(instance_id: str, helper_id: str) -> tuple[str, str]:
    return f"HELPS#{instance_id}", f"HELPER#{helper_id}"


def quota_key(campaign_id: str, helper_id: str, day: str) -> tuple[str, str]:
    return f"HELPQUOTA#{campaign_id}#{helper_id}", day


def _help(item: HelpItem) -> Help:
    return Help(instance_id=item.instance_id, helper_id=item.helper_id, seq=int(item.seq), cut=int(item.cut or 0),
                at=item.at)


class DynamoHelpRepository:
    def stage_help(self, tx, help_: Help, on_exists) -> None:
        item = HelpItem(*help_key(help_.instance_id, help_.helper_id), instance_id=help_.instance_id,
                        helper_id=help_.helper_id, seq=help_.seq, cut=help_.cut, at=help_.at)
        tx.put(item, condition=HelpItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_quota(self, tx, campaign_id: str, helper_id: str, day: str, limit: int, expires_at: int,
                    on_limit) -> None:
        tx.update(HelpQuotaItem(*quota_key(campaign_id, helper_id, day)),
                  actions=[HelpQuotaItem.helps.add(1), HelpQuotaItem.ttl.set(expires_at)],
                  condition=HelpQuotaItem.helps.does_not_exist() | (HelpQuotaItem.helps < limit),
                  on_fail=on_limit)

    def for_instance(self, instance_id: str) -> list[Help]:
        found = [_help(i) for i in HelpItem.query(f"HELPS#{instance_id}", HelpItem.sk.startswith("HELPER#"),
                                                  consistent_read=True)]
        return sorted(found, key=lambda h: h.seq)
