"""What placing an order needs to know before it writes, read at once.

Pricing an order needs the shopper (its openid), the SKUs, the shop's settings, the
shopper's coupon when one is named, the shopper's current distributor binding, the
shop's freight templates, the shopper's address book (an order may name a saved
address by its id), the live promotions with their gift SKUs, and whether the shopper
has paid an order before (a promotion may be for new customers only), and the shopper's
last visit that named a channel (an order naming none takes its channel while it is
recent: layers/domain/channels.py).
They live in different aggregates, but nothing in them decides whether the order may be
written: every such fact is written back with a condition in the placement's
transaction (stock, coupon status, the order id's absence). So the reader fetches them
in one round trip (a single BatchGetItem on DynamoDB) instead of one read each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from layers.domain.addresses import AddressBook
from layers.domain.attribution import Binding
from layers.domain.catalog import Sku
from layers.domain.channels import LastVisit
from layers.domain.members import Book
from layers.domain.promotion import Promotion
from layers.domain.user_coupon import UserCoupon
from layers.domain.users import User

if TYPE_CHECKING:  # pydantic loads only where settings are parsed
    from layers.domain.shop_settings import ShopSettings


@dataclass(frozen=True)
class PlacementFacts:
    user: User | None
    settings: ShopSettings
    skus: dict[str, Sku] = field(default_factory=dict)  # missing ids are absent
    coupon: UserCoupon | None = None  # None also when no coupon was named
    binding: Binding | None = None
    balance: Book | None = None  # the shopper's stored value (for pay_with balance)
    points: Book | None = None  # growth decides the member level
    levels: tuple[dict, ...] = ()  # the operator's member levels
    freight_templates: dict = field(default_factory=dict)  # the shop's, by id (all of them: one item)
    addresses: AddressBook | None = None  # the shopper's saved addresses
    # the shop's live promotions (all of them: one item); their gift SKUs are in `skus`
    promotions: tuple[Promotion, ...] = ()
    # True while the shopper has no paid order (their open paid orders and their buyer
    # record say so): what `new_customers_only` promotions ask
    new_customer: bool = True
    # the shopper's last visit with a channel (POST /visits), None if there is none
    last_visit: LastVisit | None = None
    # the store a pickup order names (layers/domain/stores.py Store), None if none or not asked
    store: object | None = None


class PlacementReader(Protocol):
    def read(self, user_id: str, sku_ids: list[str], coupon_id: str | None,
             store_id: str | None = None) -> PlacementFacts:
        """Everything in one round trip, read strongly consistent (a second one only when a
        live promotion names a gift SKU the first did not ask for)."""
