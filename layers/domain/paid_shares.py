"""What the shopper paid for the goods, and each order line's share of it.

An order's goods are paid for with `payable - shipping`: the list price less every
discount (the coupon, the member level's discount, the points spent). Money nobody
paid earns no commission and is no product's gmv, so both are computed on these
shares, never on the goods less the coupon alone.

The shares are whole fen, in proportion to each line's goods (`unit_price * quantity`),
and sum exactly to the paid goods (largest remainder). Tie rule: when two lines' left-over
fractions are equal, the fen goes to the line listed first in the order; the result
therefore depends only on the lines and the amount, never on anything else, and a
recount gives the same shares.

Pure. Orders priced with promotions store each line's `paid` (shared out per discount, over
the lines that discount covers: layers/domain/promotion_pricing.py); `line_paid` reads it, and
derives it with `line_shares` for an order stored before lines carried it.
"""

from __future__ import annotations


def paid_goods(amounts: dict) -> int:
    """`payable - shipping` of an order's amounts, never below 0."""
    return max(0, int(amounts["payable"]) - int(amounts.get("shipping") or 0))


def share(line_goods: list[int], amount: int) -> list[int]:
    """`amount` split over lines in proportion to `line_goods`, exact to the fen.

    Each line gets floor(amount * goods_i / total); the fen left over go one each to the
    lines with the largest remainders, the earlier line first on a tie. A line never
    gets more than its own goods when `amount` is at most the total."""
    total = sum(line_goods)
    if total <= 0 or amount <= 0:
        return [0 for _ in line_goods]
    shares = [amount * g // total for g in line_goods]
    left = amount - sum(shares)
    # sorted() is stable: equal remainders keep the lines' order (earlier line first)
    by_remainder = sorted(range(len(line_goods)), key=lambda i: -((amount * line_goods[i]) % total))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def line_goods(items) -> list[int]:
    return [int(i["unit_price"]) * int(i["quantity"]) for i in items]


def line_shares(items, amounts: dict) -> list[int]:
    """Each order line's share of what the shopper paid for the goods."""
    goods = line_goods(items)
    return share(goods, min(paid_goods(amounts), sum(goods)))


def line_paid(items, amounts: dict) -> list[int]:
    """Each order line's `paid`, as the order stores it; for an order stored before lines
    carried it, derived (`line_shares`). What a refund of a line is bounded by, and what
    its commission, points and product figures are counted on."""
    if items and all(i.get("paid") is not None for i in items):
        return [int(i["paid"]) for i in items]
    return line_shares(items, amounts)
