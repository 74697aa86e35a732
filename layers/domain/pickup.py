"""门店自提 / 核销: an order collected in a store, and its pickup code.

An order placed with `"delivery": {"kind": "pickup", "store_id"}` ships nowhere: it has
no address and no shipping fee, and the store must hand orders over (`pickup: true`).
Once paid it gets a pickup code: 12 digits from `secrets` (10^12 codes, so guessing one
of the few thousand open ones takes millions of tries, and redemption is rate-limited
per staff member and needs a staff member's credentials). The code is unique among
stored codes: a uniqueness item for it is written, conditioned on not existing, in the
very transaction that pays the order; on the (astronomically rare) collision another
code is drawn.

    PAID (pickup) --redeemed by store staff--> COMPLETED   the receipt transition
        (layers/domain/order.py `confirm_receipt`), so commissions and points follow as
        for a confirmed receipt; the shipping information goes to WeChat as 用户自提.
    PAID (pickup) --window over, not redeemed--> refunded in full (the pickup-expiry job)

The code is shown only to its shopper; every other view shows it masked (`mask`).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from layers.clock import iso, parse_iso
from layers.domain import errors, stores

CODE_DIGITS = 12
# The reminder (with the shopper's consent) goes this long before the window ends.
REMIND_LEAD = timedelta(hours=24)
# Work queue of paid pickup orders, by the end of their window (the repository keeps it).
PICKUP_ORDERS = "PICKUP_ORDERS"
# Redemption attempts a staff member may make per window: a person types a handful a
# minute; guessing 12-digit codes needs millions.
REDEEM_LIMIT = 20
REDEEM_WINDOW_S = 60
PICKUP = "pickup"


def new_code() -> str:
    """A fresh 12-digit code, uniformly from the OS's CSPRNG."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def normalized_code(text: str | None) -> str | None:
    """What a person typed or a scanner read: digits only (spaces and dashes dropped);
    None unless exactly 12 digits remain."""
    digits = "".join(ch for ch in (text or "") if ch.isdigit())
    return digits if len(digits) == CODE_DIGITS and digits.isascii() else None


def mask(code: str | None) -> str | None:
    """The code as views other than its shopper's show it: its last 4 digits."""
    if not code:
        return None
    return "*" * 4 + code[-4:]


def store_id_of(delivery: dict | None) -> str | None:
    """The store a request's `delivery` names for pickup; None when it ships."""
    if delivery and delivery.get("kind") == PICKUP:
        return delivery.get("store_id")
    return None


def is_pickup(order) -> bool:
    return (getattr(order, "delivery", None) or {}).get("kind") == PICKUP


def store_of(order) -> str | None:
    return (order.delivery or {}).get("store_id") if is_pickup(order) else None


def check_store(store, store_id: str) -> None:
    """The store an order names for pickup: it exists (404: an unknown store is like any
    unknown id) and hands orders over (422 PICKUP_NOT_OFFERED)."""
    stores.check_pickup(store)


def issued(change, code: str, window_s: int, now: str):
    """The payment `change` of a pickup order, with its code and the end of its window
    (`pickup.due_at`); any other order's change as it is."""
    after = change.after
    if not is_pickup(after) or (after.pickup or {}).get("code"):
        return change
    due_at = iso(parse_iso(now) + timedelta(seconds=window_s))
    pickup = {"store_id": store_of(after), "code": code, "due_at": due_at}
    return replace(change, after=replace(after, pickup=pickup))


def redeemable(order, store_id: str) -> None:
    """Whether the staff of `store_id` may redeem this order now: a paid pickup order to
    be collected at that store (404 for a code of no paid pickup order of this store: a
    store's staff see and redeem their own store's pickup orders only, and a code typed
    at the wrong store says nothing of the order; 409 ALREADY_REDEEMED once completed)."""
    if order is None or not is_pickup(order) or not (order.pickup or {}).get("code"):
        raise errors.NotFound("no paid pickup order has this code")
    if store_of(order) != store_id:
        raise errors.NotFound("no paid pickup order of this store has this code")
    if order.status == "COMPLETED":
        raise errors.AlreadyRedeemed("this code was already redeemed",
                                     redeemed_at=(order.pickup or {}).get("redeemed_at"))
    if order.status != "PAID":
        raise errors.NotFound("no paid pickup order has this code")


def redeemed(order, store_id: str, by: str, now: str) -> dict:
    """The order's `pickup` once redeemed: where, by whom, when."""
    return {**(order.pickup or {}), "redeemed_at": now, "redeemed_store_id": store_id, "redeemed_by": by}


def view(order, for_shopper: bool) -> dict | None:
    """`pickup` in an order's body: the code itself only for its shopper."""
    if not is_pickup(order):
        return None
    p = order.pickup or {}
    body = {"store_id": store_of(order), "code": None, "due_at": p.get("due_at"),
            "redeemed_at": p.get("redeemed_at")}
    if p.get("code"):
        body["code"] = p["code"] if for_shopper else mask(p["code"])
    if p.get("redeemed_store_id"):
        body["redeemed_store_id"] = p["redeemed_store_id"]
    return body


def due_for_refund(order, now_iso: str) -> bool:
    """Past its window, still paid and not redeemed: refunded in full."""
    return (is_pickup(order) and order.status == "PAID" and bool((order.pickup or {}).get("due_at"))
            and order.pickup["due_at"] <= now_iso)


class PickupCodeRepository(Protocol):
    """Which order holds a pickup code: one item per code, so no two orders share one."""

    def stage_claim(self, tx, code: str, order_id: str, on_taken) -> None:
        """The code is this order's, in `tx`: fails with `on_taken()` if another holds it."""

    def order_of(self, code: str) -> str | None: ...
