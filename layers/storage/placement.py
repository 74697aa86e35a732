"""`layers.domain.placement.PlacementReader` on the shop table: the shopper, the SKUs, the
shop's settings (unless cached), the named coupon, the shopper's binding, books and
address book, the member levels and the freight templates in ONE BatchGetItem, strongly
consistent. Each item is turned into its domain value by the
storage module that owns it; this module only knows which keys to ask for.
"""

from __future__ import annotations

import time

from layers.domain import errors
from layers.domain.placement import PlacementFacts
from layers.storage.addresses import AddressBookItem, to_address_book
from layers.storage.addresses import book_key as address_book_key
from layers.storage.base import ShopModel
from layers.storage.catalog import (
    SETTINGS_KEY,
    DynamoSettingsRepository,
    SettingsItem,
    SkuItem,
    sku_key,
    to_sku,
)
from layers.storage.coupons import UserCouponItem, coupon_key, to_coupon
from layers.storage.distribution import BindingItem, binding_key, to_binding
from layers.storage.freight import TEMPLATES_KEY, FreightTemplatesItem, to_templates
from layers.storage.members import (
    BALANCE,
    LEVELS_KEY,
    POINTS,
    BookItem,
    LevelsItem,
    book_key,
    to_book,
)
from layers.storage.tx import connection
from layers.storage.users import UserItem, to_user, user_key

# BatchGetItem takes at most 100 keys; an order has at most a few dozen lines.
_MAX_KEYS = 100
_ROUNDS = 5  # unprocessed keys (throttling) are asked again, a few times


class DynamoPlacementReader:
    def __init__(self, settings: DynamoSettingsRepository) -> None:
        self.settings = settings

    def read(self, user_id: str, sku_ids: list[str], coupon_id: str | None) -> PlacementFacts:
        wanted: dict[tuple[str, str], type[ShopModel]] = {user_key(user_id): UserItem,
                                                          binding_key(user_id): BindingItem}
        for sku_id in dict.fromkeys(sku_ids):
            wanted[sku_key(sku_id)] = SkuItem
        if coupon_id:
            wanted[coupon_key(coupon_id)] = UserCouponItem
        wanted[book_key(user_id, BALANCE)] = BookItem
        wanted[book_key(user_id, POINTS)] = BookItem
        wanted[LEVELS_KEY] = LevelsItem
        wanted[TEMPLATES_KEY] = FreightTemplatesItem
        wanted[address_book_key(user_id)] = AddressBookItem
        settings = self.settings.cached()
        if settings is None:
            wanted[SETTINGS_KEY] = SettingsItem
        if len(wanted) > _MAX_KEYS:
            raise ValueError(f"too many keys for one read: {len(wanted)}")
        found = {key: wanted[key].from_raw_data(raw) for key, raw in _batch_get(list(wanted)).items()}
        if settings is None:
            settings = self.settings.remember(found.get(SETTINGS_KEY))
        user = found.get(user_key(user_id))
        binding = found.get(binding_key(user_id))
        coupon = found.get(coupon_key(coupon_id)) if coupon_id else None
        return PlacementFacts(
            user=to_user(user) if user is not None else None,
            settings=settings,
            skus={item.sku_id: to_sku(item) for key, item in found.items() if isinstance(item, SkuItem)},
            coupon=to_coupon(coupon) if coupon is not None else None,
            binding=to_binding(binding) if binding is not None else None,
            balance=to_book(user_id, found.get(book_key(user_id, BALANCE))),
            points=to_book(user_id, found.get(book_key(user_id, POINTS))),
            levels=tuple(found[LEVELS_KEY].levels or ()) if LEVELS_KEY in found else (),
            freight_templates=to_templates(found.get(TEMPLATES_KEY)),
            addresses=to_address_book(user_id, found.get(address_book_key(user_id))))


def _batch_get(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Raw items by (pk, sk); absent keys are absent."""
    table = ShopModel.Meta.table_name
    request = {table: {"ConsistentRead": True, "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys]}}
    found: dict[tuple[str, str], dict] = {}
    for attempt in range(_ROUNDS):
        if attempt:
            time.sleep(0.01 * 2 ** attempt)
        data = connection().dispatch("BatchGetItem", {"RequestItems": request})
        for raw in data.get("Responses", {}).get(table, []):
            found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
        request = data.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise errors.RateLimited("busy; try again in a moment")  # DynamoDB kept throttling this read
