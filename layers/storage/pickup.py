"""Pickup codes in the shop table (layers/domain/pickup.py).

- A code: pk `PICKUP#<code>`, sk `CODE`, with the order holding it. Put in the
  transaction that pays the order, conditioned on not existing: no two orders share a
  code. Read by key when store staff redeem one (strongly consistent).
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from layers.storage.base import ShopModel
from layers.storage.tx import Tx


class PickupCodeItem(ShopModel):
    order_id = UnicodeAttribute()


def code_key(code: str) -> tuple[str, str]:
    return f"PICKUP#{code}", "CODE"


class DynamoPickupCodeRepository:
    def stage_claim(self, tx: Tx, code: str, order_id: str, on_taken) -> None:
        tx.put(PickupCodeItem(*code_key(code), order_id=order_id),
               condition=PickupCodeItem.pk.does_not_exist(), on_fail=on_taken)

    def order_of(self, code: str) -> str | None:
        try:
            return PickupCodeItem.get(*code_key(code), consistent_read=True).order_id
        except PickupCodeItem.DoesNotExist:
            return None
