"""Fixed-window rate limits (issue 15): at most `limit` hits per `window_s` seconds for
one key ("login:addr:<ip>", "login:openid:<openid>"). The counter is shared by every
container (one conditional increment per hit), so a crowd spread over many Lambdas is
held to the same limit as one."""

from __future__ import annotations

from typing import Protocol


def window_start(epoch_s: int, window_s: int) -> int:
    return epoch_s - epoch_s % window_s


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_s: int, epoch_s: int) -> bool:
        """Count one hit in the window holding `epoch_s`; False (and nothing counted)
        once the window already holds `limit` hits."""
