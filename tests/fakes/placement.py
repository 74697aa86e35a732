"""In-memory twin of layers/storage/placement.py: the same facts, composed from the
in-memory repositories that hold them (one "round trip" is free here)."""

from __future__ import annotations

from layers.domain.placement import PlacementFacts


class MemoryPlacementReader:
    def __init__(self, users, stock, coupons=None, bindings=None, members=None, freight=None,
                 addresses=None, promotions=None, paid_before=None, last_visits=None, stores=None) -> None:
        """`users.get_user`, `stock.get_skus` / `stock.load_settings`, `coupons.get`
        (user coupons), `bindings.get_binding` (the distributor repository)."""
        self.users = users
        self.stock = stock
        self.coupons = coupons
        self.bindings = bindings
        self.members = members
        self.freight = freight  # `all()`: the freight repository's twin
        self.addresses = addresses  # `get(user_id)`: the address book repository's twin
        self.promotions = promotions  # `live()`: the promotion repository's twin
        self.paid_before = paid_before  # (user_id) -> bool: has the shopper paid an order
        self.last_visits = last_visits  # `get(user_id)`: the shopper's last visit with a channel
        self.stores = stores  # `get(store_id)`: the store repository's twin
        self.calls = 0

    def read(self, user_id: str, sku_ids: list[str], coupon_id: str | None,
             store_id: str | None = None) -> PlacementFacts:
        self.calls += 1
        promotions = tuple(self.promotions.live()) if self.promotions is not None else ()
        gifts = [p.gift_sku_id for p in promotions if p.gift_sku_id]
        return PlacementFacts(
            user=self.users.get_user(user_id),
            settings=self.stock.load_settings(),
            skus=self.stock.get_skus(list(dict.fromkeys([*sku_ids, *gifts]))),
            promotions=promotions,
            new_customer=not (self.paid_before(user_id) if self.paid_before is not None else False),
            coupon=self.coupons.get(coupon_id) if coupon_id and self.coupons is not None else None,
            binding=self.bindings.get_binding(user_id) if self.bindings is not None else None,
            balance=self.members.get_book(user_id, "balance") if self.members is not None else None,
            points=self.members.get_book(user_id, "points") if self.members is not None else None,
            levels=tuple(self.members.get_levels()) if self.members is not None else (),
            freight_templates=self.freight.all() if self.freight is not None else {},
            addresses=self.addresses.get(user_id) if self.addresses is not None else None,
            last_visit=self.last_visits.get(user_id) if self.last_visits is not None else None,
            store=self.stores.get(store_id) if store_id and self.stores is not None else None)
