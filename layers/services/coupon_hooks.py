"""How an order holds, consumes and gives back a shopper's coupon, inside the order's
own transactions. Implemented by the coupons service (layers/services/coupons.py)."""

from __future__ import annotations

from layers.domain.pricing import Line
from layers.storage.tx import Tx


def hold(tx: Tx, user_id: str, coupon_id: str, order_id: str, lines: list[Line], now: str) -> int:
    """Check the coupon applies, add its hold to `tx`, and return the discount in fen."""
    from layers.services import coupons

    return coupons.hold_for_order(tx, user_id, coupon_id, order_id, lines, now)


def consume(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    from layers.services import coupons

    coupons.consume_for_order(tx, coupon_id, order_id, now)


def give_back(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    from layers.services import coupons

    coupons.give_back_for_order(tx, coupon_id, order_id, now)


def give_back_after_refund(tx: Tx, coupon_id: str, order_id: str, now: str) -> None:
    """A fully refunded order's coupon (USED by it) becomes usable again, if still valid."""
    from layers.services import coupons

    coupons.give_back_used_for_order(tx, coupon_id, order_id, now)
