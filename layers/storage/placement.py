"""`layers.domain.placement.PlacementReader` on the shop table: the shopper, the SKUs, the
shop's settings (unless cached), the named coupon, the shopper's binding, books and
address book, the member levels, the freight templates, the live promotions and what
says whether the shopper has paid before, in ONE BatchGetItem, strongly consistent. Each
item is turned into its domain value by the storage module that owns it; this module only
knows which keys to ask for.

Gift SKUs: a live gift promotion's SKU must be read with the order (its stock decides
whether the gift is given), but which promotions are live is only known once the batch
is back. So the reader remembers, per container, the gift SKUs the last read of the live
promotions named, and asks for them in the next batch. Gift promotions change seldom, so
the batch nearly always holds them; when it does not (a gift promotion just made), the
missing SKUs are read in a second, small batch. The memory only saves a round trip:
what the order decides from is always read in this call.

"Paid before" (a promotion for new customers only): the shopper's order counts (an order
PAID, SHIPPED or REFUNDING now, exact: moved in the order's own transactions) and their
buyer record of the analytics (an order ever counted as a sale, which covers completed
orders; it is written a moment after payment, when the order is PAID and so counted by
the first).

The shopper's last visit with a channel (layers/storage/channels.py) is one more key of
the same batch: an order that names no channel takes that visit's. So is the store a
pickup order names (layers/storage/stores.py): whether it takes pickups is read with
the rest.
"""

from __future__ import annotations

from layers.domain.placement import PlacementFacts
from layers.storage.addresses import AddressBookItem, to_address_book
from layers.storage.addresses import book_key as address_book_key
from layers.storage.analytics import BuyerItem, buyer_key
from layers.storage.base import ShopModel
from layers.storage.catalog import (
    SETTINGS_KEY,
    DynamoSettingsRepository,
    SettingsItem,
    SkuItem,
    sku_key,
    to_sku,
)
from layers.storage.channels import LastVisitItem, last_visit_key, to_last_visit
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
from layers.storage.orders import OrderCountsItem, counts_key
from layers.storage.promotions import LIVE_KEY, PromotionsLiveItem, to_live
from layers.storage.stores import StoreItem, store_key, to_store
from layers.storage.tx import batch_get_raw
from layers.storage.users import UserItem, to_user, user_key

# BatchGetItem takes at most 100 keys; an order has at most a few dozen lines.
_MAX_KEYS = 100


class DynamoPlacementReader:
    def __init__(self, settings: DynamoSettingsRepository, live_key: tuple[str, str] = LIVE_KEY) -> None:
        self.settings = settings
        self.live_key = live_key  # the live promotions' item (tests give one of their own)
        # the gift SKUs the last read of the live promotions named (see the module's docstring)
        self.gift_skus: tuple[str, ...] = ()

    def read(self, user_id: str, sku_ids: list[str], coupon_id: str | None,
             store_id: str | None = None) -> PlacementFacts:
        wanted: dict[tuple[str, str], type[ShopModel]] = {user_key(user_id): UserItem,
                                                          binding_key(user_id): BindingItem}
        for sku_id in dict.fromkeys([*sku_ids, *self.gift_skus]):
            wanted[sku_key(sku_id)] = SkuItem
        if coupon_id:
            wanted[coupon_key(coupon_id)] = UserCouponItem
        wanted[book_key(user_id, BALANCE)] = BookItem
        wanted[book_key(user_id, POINTS)] = BookItem
        wanted[LEVELS_KEY] = LevelsItem
        wanted[TEMPLATES_KEY] = FreightTemplatesItem
        wanted[address_book_key(user_id)] = AddressBookItem
        wanted[self.live_key] = PromotionsLiveItem
        wanted[counts_key(user_id)] = OrderCountsItem
        wanted[buyer_key(user_id, "ALL")] = BuyerItem
        wanted[last_visit_key(user_id)] = LastVisitItem
        if store_id:  # a pickup order's store, in the same batch
            wanted[store_key(store_id)] = StoreItem
        settings = self.settings.cached()
        if settings is None:
            wanted[SETTINGS_KEY] = SettingsItem
        if len(wanted) > _MAX_KEYS:
            raise ValueError(f"too many keys for one read: {len(wanted)}")
        found = {key: wanted[key].from_raw_data(raw) for key, raw in batch_get_raw(list(wanted), consistent=True).items()}
        promotions = tuple(to_live(found.get(self.live_key)))
        gifts = tuple(dict.fromkeys(p.gift_sku_id for p in promotions if p.gift_sku_id))
        if gifts != self.gift_skus:
            missing = [sku_key(g) for g in gifts if sku_key(g) not in wanted]
            if missing:  # a gift promotion new to this container: its SKUs, read now
                found.update({key: SkuItem.from_raw_data(raw) for key, raw in batch_get_raw(missing, consistent=True).items()})
            self.gift_skus = gifts
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
            addresses=to_address_book(user_id, found.get(address_book_key(user_id))),
            promotions=promotions,
            new_customer=not _paid_before(found.get(counts_key(user_id)), found.get(buyer_key(user_id, "ALL"))),
            last_visit=to_last_visit(found.get(last_visit_key(user_id))),
            store=to_store(found[store_key(store_id)]) if store_id and store_key(store_id) in found else None)


def _paid_before(counts: OrderCountsItem | None, buyer: BuyerItem | None) -> bool:
    if buyer is not None and buyer.first:
        return True
    return counts is not None and any(int(getattr(counts, name) or 0) > 0 for name in ("paid", "shipped", "refunding"))

