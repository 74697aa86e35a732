"""Who brought a customer: pure rules on plain values (times as RFC 3339 UTC strings,
which compare correctly as strings because they share one format).

- Last touch (最后触达): a visit binds the visitor to the sharer until now + ttl; a later
  visit of another distributor's share replaces it.
- A distributor never earns on their own purchases: visiting one's own share binds
  nothing, and one's own share token on an order attributes nothing.
- For an order, a valid share token (someone else's) wins over the binding; otherwise the
  binding, if it has not expired; otherwise nobody.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    customer_id: str
    distributor_id: str
    bound_at: str
    expires_at: str
    share_token: str | None = None

    def active(self, now: str) -> bool:
        return self.expires_at > now


def binds(visitor_id: str, sharer_id: str, ttl_s: int) -> bool:
    """Whether opening `sharer_id`'s share binds `visitor_id` at all."""
    return visitor_id != sharer_id and ttl_s > 0


def replaces(current: Binding | None, bound_at: str) -> bool:
    """A touch at `bound_at` replaces the current binding unless that one is later (a
    delayed retry of an older visit must not undo a newer one)."""
    return current is None or current.bound_at <= bound_at


def attribute(buyer_id: str, token_sharer_id: str | None, binding: Binding | None, now: str) -> str | None:
    """The distributor an order counts for, or None. `token_sharer_id` is the sharer of
    the order's share token when that token is genuine and its sharer still a distributor."""
    if token_sharer_id is not None and token_sharer_id != buyer_id:
        return token_sharer_id
    if binding is not None and binding.active(now) and binding.distributor_id != buyer_id:
        return binding.distributor_id
    return None
