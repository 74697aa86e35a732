"""门店自提 / 核销: store staff redeem a shopper's pickup code; a pickup order not
collected within the shop's `pickup_window_s` is refunded in full.

Who may redeem at store S (`POST /stores/{S}/redemptions`): a console operator placed in
S (role `store`), an owner or operator of the console (they see every store), or a guide
of S in the mini-program. They redeem S's own pickup orders only: a code of an order to
be collected at another store is 404 at S, as an unknown code is (a store's staff see
and hand over only their own store's orders, and the answer says nothing of another
store's). A code is redeemed once: 409 ALREADY_REDEEMED after the first, whoever asks
again. Every attempt counts against
the staff member's limit (`REDEEM_LIMIT` a minute), a wrong code included: guessing
12-digit codes needs millions of tries.

The rules are `layers/domain/pickup.py`; the redemption itself is
`OrderService.redeem` (the receipt transition).
"""

from __future__ import annotations

from datetime import timedelta

from layers.clock import iso
from layers.domain import errors, rate_limit
from layers.domain import pickup as rules
from layers.observability import logger


class PickupService:
    def __init__(self, *, orders, order_repository, codes, stores, rate_limiter, refunds, clock):
        self.orders = orders  # layers.services.orders.OrderService
        self.order_repository = order_repository
        self.codes = codes  # layers.domain.pickup.PickupCodeRepository
        self.stores = stores  # layers.domain.stores.StoreRepository
        self.rate_limiter = rate_limiter
        self.refunds = refunds  # layers.services.refunds.RefundService
        self.clock = clock

    # -- who may redeem ---------------------------------------------------------------------

    def check_guide(self, user_id: str, store_id: str) -> None:
        """A shopper redeeming in the mini-program: a guide of this very store (403 else)."""
        if self.stores.store_of_guide(user_id) != store_id:
            raise errors.Forbidden("only this store's staff may redeem pickup codes here")

    def check_operator(self, operator_id: str, is_store_staff: bool, store_id: str) -> None:
        """A console operator: a store's staff member of this store; owners and operators
        may redeem at any store's page (they see every store), that store's orders."""
        if is_store_staff and self.stores.staff_of_operator(operator_id) != store_id:
            raise errors.NotFound("no such store")

    # -- redemption ---------------------------------------------------------------------------

    def redeem(self, store_id: str, code: str, staff_id: str) -> dict:
        """The order the code names, COMPLETED (200); 409 ALREADY_REDEEMED after the first
        redemption; 404 for a code of no paid pickup order of this store. The caller
        has checked that `staff_id` is staff of `store_id`."""
        epoch = int(self.clock.now().timestamp())
        if not self.rate_limiter.hit(f"redeem:{staff_id}", rules.REDEEM_LIMIT, rules.REDEEM_WINDOW_S, epoch):
            logger.warning("redemption attempts limited", extra={"store_id": store_id})
            raise errors.RateLimited("too many redemption attempts; wait a moment",
                                     retry_after=rate_limit.retry_after(epoch, rules.REDEEM_WINDOW_S))
        store = self.stores.get(store_id)
        if store is None:
            raise errors.NotFound("no such store")
        normalized = rules.normalized_code(code)
        order_id = self.codes.order_of(normalized) if normalized else None
        if order_id is None:
            raise errors.NotFound("no paid pickup order has this code")
        return self.orders.redeem(order_id, store_id, staff_id)

    # -- a store's pickup orders (the console) ------------------------------------------------

    def waiting(self, store_id: str | None, limit: int = 200) -> list[dict]:
        """Paid pickup orders not collected yet, soonest to end their window first: of one
        store, or (None) of every store. Read from their work queue (eventually
        consistent: a list to look at, not to decide from)."""
        far = iso(self.clock.now() + timedelta(days=366))  # every window ends before this
        found = [o for o in self.order_repository.due(rules.PICKUP_ORDERS, far, limit * 4 if store_id else limit)
                 if store_id is None or rules.store_of(o) == store_id]
        return [self.orders.view(o) for o in found[:limit]]

    # -- job: expire-pickups --------------------------------------------------------------

    def refund_expired(self, limit: int = 200) -> dict:
        """Pickup orders whose window ended, still paid and not redeemed: refunded in full,
        each re-read and its refund conditioned on that read (a redemption in the same
        instant wins or loses cleanly); a refund asked twice is the same refund."""
        now = iso(self.clock.now())
        refunded = 0
        for candidate in self.order_repository.due(rules.PICKUP_ORDERS, now, limit):
            if not rules.due_for_refund(candidate, now):
                continue
            refund = self.refunds.refund_in_full(candidate.order_id, "PICKUP_EXPIRED",
                                                 only_if=lambda o: rules.due_for_refund(o, now))
            if refund is not None:
                refunded += 1
                logger.info("uncollected pickup order refunded", extra={"order_id": candidate.order_id})
        return {"pickup_refunded": refunded}
