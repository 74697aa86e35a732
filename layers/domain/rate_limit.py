"""Fixed-window rate limits: at most `limit` hits per `window_s` seconds for
one key ("login:addr:<ip>", "login:openid:<openid>"). The counter is shared by every
container (one conditional increment per hit), so a crowd spread over many Lambdas is
held to the same limit as one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# A shopper's writes (docs/rate-limits.md): at most this many per family (orders, claims,
# helps, top-ups, addresses) per window, per shopper, counted across every container. A real shopper
# does a handful a minute; a client in a loop is held here, long before it can use up the
# stage's throttle or the shop's write capacity for everyone else.
SHOPPER_WRITE_LIMIT = 20
SHOPPER_WRITE_WINDOW_S = 60
SHOPPER_WRITE_FAMILIES = ("orders", "claims", "helps", "top-ups", "addresses", "uploads", "phone")


def window_start(epoch_s: int, window_s: int) -> int:
    return epoch_s - epoch_s % window_s


def retry_after(epoch_s: int, window_s: int) -> int:
    """Seconds until the window holding `epoch_s` ends (what `Retry-After` says)."""
    return max(1, window_s - epoch_s % window_s)


def shopper_key(user_id: str, family: str) -> str:
    return f"shopper:{family}:{user_id}"


def shopper_limited(epoch_s: int) -> Exception:
    from layers.domain import errors

    return errors.RateLimited("too many requests from this shopper; wait a moment",
                              retry_after=retry_after(epoch_s, SHOPPER_WRITE_WINDOW_S))


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_s: int, epoch_s: int) -> bool:
        """Count one hit in the window holding `epoch_s`; False (and nothing counted)
        once the window already holds `limit` hits."""

    def stage_hit(self, tx, key: str, limit: int, window_s: int, epoch_s: int,
                  on_full: Callable[[], Exception]) -> None:
        """The same hit as a part of `tx`: the transaction fails with `on_full()` once the
        window holds `limit` hits (no round trip of its own)."""
