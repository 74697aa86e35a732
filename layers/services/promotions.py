"""Promotions (满减, 满折, 满赠, 第N件, 打包价): operators create and stop them and read their
figures; shoppers see the live ones, each with a label for the mini-program.

What a promotion is and what the operator may set is layers/domain/promotion.py; where it
lives (its own item, and the one live item order placement reads) layers/storage/promotions.py.
How an order is priced with them is the order placement's. The figures (orders, discount,
gmv) are counted by the analytics consumer from paid orders (layers/domain/analytics.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from layers.clock import iso
from layers.domain import errors
from layers.domain.promotion import (
    AMOUNT_OFF,
    BUNDLE,
    GIFT,
    NTH_ITEM,
    PERCENT_OFF,
    Promotion,
    PromotionRepository,
    Tier,
    promotion_from,
    promotion_view,
)

FIGURES = ("orders", "discount", "gmv")
# What a shopper is shown of a promotion: not its history (status, created, stopped).
_ADMIN_ONLY = ("status", "created_at", "stopped_at", "live")


class PromotionService:
    def __init__(self, *, promotions: PromotionRepository, figures: Callable[[list[str]], dict[str, dict]],
                 clock, new_id):
        """`figures(ids)`: {promotion id: its analytics counters} for those that have any."""
        self.promotions = promotions
        self.figures = figures
        self.clock = clock
        self.new_id = new_id

    # -- operators ----------------------------------------------------------------------------

    def create(self, body: Any) -> dict:
        """201's body: the promotion made (refused, naming the field, by `promotion_from`)."""
        now = self.clock.now()
        promotion = promotion_from(_fields(body), self.new_id("pr"), iso(now))
        return self._views([self.promotions.create(promotion, now)], now)[0]

    def stop(self, promotion_id: str) -> dict:
        """The promotion, stopped for good; stopping it again answers it as it is."""
        now = self.clock.now()
        return self._views([self.promotions.stop(promotion_id, now)], now)[0]

    def get(self, promotion_id: str) -> dict:
        promotion = self.promotions.get(promotion_id)
        if promotion is None:
            raise errors.NotFound("no such promotion")
        return self._views([promotion], self.clock.now())[0]

    def page(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """Every promotion, newest first, each with its figures."""
        found, next_key = self.promotions.page(limit, cursor)
        return self._views(found, self.clock.now()), next_key

    def _views(self, promotions: list[Promotion], now: datetime) -> list[dict]:
        counted = self.figures([p.promotion_id for p in promotions]) if promotions else {}
        views = []
        for p in promotions:
            view = promotion_view(p, now)
            view["label"] = label(p)
            view["figures"] = {name: int((counted.get(p.promotion_id) or {}).get(name) or 0) for name in FIGURES}
            views.append(view)
        return views

    # -- shoppers -----------------------------------------------------------------------------

    def live(self, limit: int, cursor: dict | None, now: datetime | None = None) -> tuple[list[dict], dict | None]:
        """A page of the promotions live now (started, not ended, not stopped), soonest to
        end first, each with its `label`. At most MAX_LIVE of them: paged by position."""
        now = now or self.clock.now()
        found = sorted((p for p in self.promotions.live() if p.is_live(now)),
                       key=lambda p: (datetime.fromisoformat(p.ends_at), p.promotion_id))
        start = int((cursor or {}).get("o", 0))
        views = [shopper_view(p) for p in found[start:start + limit]]
        return views, ({"o": start + limit} if start + limit < len(found) else None)


def shopper_view(p: Promotion) -> dict:
    view = {k: v for k, v in promotion_view(p).items() if k not in _ADMIN_ONLY}
    view["label"] = label(p)
    return view


# -- labels ------------------------------------------------------------------------------------

def yuan(fen: int) -> str:
    """Fen as yuan for people: 30000 -> "300", 29950 -> "299.5", 1 -> "0.01"."""
    whole, cents = divmod(int(fen), 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")


def discount_words(percent: int) -> str:
    """Pay `percent` percent, as a Chinese discount: 80 -> "8折", 85 -> "8.5折", 50 -> "5折"."""
    tens, rest = divmod(int(percent), 10)
    return f"{tens}折" if rest == 0 else f"{tens}.{rest}折"


def _condition(t: Tier) -> str:
    return f"满{t.min_quantity}件" if t.min_quantity is not None else f"满{yuan(t.threshold or 0)}"


def tier_label(kind: str, t: Tier) -> str:
    """One tier as the mini-program shows it: 满300减50, 满2件8折, 满199赠1件赠品, 第2件半价, 3件99元."""
    if kind == AMOUNT_OFF:
        return f"{_condition(t)}减{yuan(t.value)}"
    if kind == PERCENT_OFF:
        return f"{_condition(t)}{'' if t.min_quantity is not None else '打'}{discount_words(t.value)}"
    if kind == GIFT:
        return f"{_condition(t)}赠{t.value}件赠品"
    if kind == NTH_ITEM:
        price = "免费" if t.value == 0 else "半价" if t.value == 50 else discount_words(t.value)
        return f"第{t.min_quantity}件{price}"
    if kind == BUNDLE:
        return f"{t.min_quantity}件{yuan(t.value)}元"
    raise ValueError(f"unknown kind {kind!r}")


def label(p: Promotion) -> str:
    """Every tier, lowest first: 满300减50，满500减100."""
    return "，".join(tier_label(p.kind, t) for t in p.tiers)


def _fields(body: Any) -> dict:
    return body.model_dump() if hasattr(body, "model_dump") else dict(body)
