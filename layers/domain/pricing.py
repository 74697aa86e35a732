"""Pricing: pure functions on integer fen. The server prices every order itself."""

from __future__ import annotations

from dataclasses import dataclass

from layers.domain import errors


@dataclass(frozen=True)
class Line:
    sku_id: str
    product_id: str
    title: str
    category: str | None
    quantity: int
    unit_price: int
    # the product's category and that category's parent (a promotion's scope names either)
    category_ids: tuple[str, ...] = ()
    # what the line's promotion takes off it: a coupon applies to what is left
    promotion_off: int = 0

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity

    @property
    def net(self) -> int:
        """The line's goods after its promotion: what a coupon's threshold and share see."""
        return self.amount - self.promotion_off


@dataclass(frozen=True)
class Amounts:
    goods: int
    discount: int
    shipping: int
    payable: int
    # -- present in the order's amounts only when they apply --
    member_discount: int = 0
    points_discount: int = 0
    promotion_discount: int = 0

    def as_dict(self) -> dict:
        amounts = {"goods": self.goods, "discount": self.discount,
                   "shipping": self.shipping, "payable": self.payable}
        if self.member_discount:
            amounts["member_discount"] = self.member_discount
        if self.points_discount:
            amounts["points_discount"] = self.points_discount
        if self.promotion_discount:
            amounts["promotion_discount"] = self.promotion_discount
        return amounts


def goods_total(lines: list[Line]) -> int:
    return sum(line.amount for line in lines)


def shipping_for(goods: int, fee: int, free_threshold: int) -> int:
    """A flat fee, waived once the goods reach the threshold (0 = never waived)."""
    if fee == 0 or (free_threshold and goods >= free_threshold):
        return 0
    return fee


def price(lines: list[Line], discount: int, shipping: int, member_discount: int = 0,
          points_discount: int = 0, promotion_discount: int = 0) -> Amounts:
    """payable = goods - discount - member_discount - promotion_discount - points_discount
    + shipping. `discount` is the coupon's."""
    goods = goods_total(lines)
    if not 0 <= discount + member_discount + points_discount + promotion_discount <= goods:
        raise ValueError("a discount is between 0 and the goods amount")
    payable = goods - discount - member_discount - promotion_discount - points_discount + shipping
    if payable < 1:
        # WeChat Pay's smallest payment is 1 fen.
        raise errors.NotAcceptable("the order's payable amount must be at least 1 fen")
    return Amounts(goods=goods, discount=discount, shipping=shipping, payable=payable,
                   member_discount=member_discount, points_discount=points_discount,
                   promotion_discount=promotion_discount)


def merge_quantities(items: list[tuple[str, int]]) -> dict[str, int]:
    """The same SKU twice in one order is one line with the summed quantity."""
    merged: dict[str, int] = {}
    for sku_id, quantity in items:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    return merged


def prorate(total: int, parts: list[int], amount: int) -> list[int]:
    """Split `amount` over `parts` in proportion, in whole fen, summing exactly to `amount`
    (largest remainder). Used for refunds and commissions per line."""
    if total <= 0:
        return [0 for _ in parts]
    shares = [amount * p // total for p in parts]
    rest = amount - sum(shares)
    order = sorted(range(len(parts)), key=lambda i: (amount * parts[i]) % total, reverse=True)
    for i in order[:rest]:
        shares[i] += 1
    return shares
