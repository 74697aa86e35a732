"""How the live promotions take part in an order: pure functions on integer fen.

The kinds and their tiers are `layers/domain/promotion.py`. Here:

- **Who takes part.** A promotion is weighed when it is live at the order's time and, for a
  `new_customers_only` one, when the shopper has no paid order yet. A line is in its scope
  when the promotion covers the whole shop, names the line's product, or names its
  category or that category's parent.
- **Each line in at most one promotion, the one that saves most.** Over the lines not
  taken yet, every promotion is worked out alone; the one saving the shopper most takes
  its lines, and the others are worked out again over what is left, until none saves
  anything (ties: the promotion created first, then its id). A promotion's lines are those
  that count towards it: every in-scope line for a threshold (满减, 满折, 满赠); for 第N件
  and 打包价 only the lines that got a unit at the lower price, so the rest stay free for
  another promotion. Worked out greedily, not over every partition of the cart: the
  answer is one a shopper can follow ("this promotion saves most, so it took these
  lines"), and it is never worse than no promotion.
- **The best tier reached.** Each tier reached is worked out; the one saving most applies.
- **What comes off, on list prices** (the member level's discount and the coupon are
  capped by what is left, in `layers/domain/checkout.py`):
  - 满减: `value` fen, over its lines in proportion to their goods;
  - 满折: the goods less `value` percent of them, the part paid rounded down (the
    shopper's favour), over its lines in proportion;
  - 第N件: every N-th unit of one SKU at `value` percent of its price, the part paid
    rounded down, per line;
  - 打包价: the most expensive in-scope units first, N at a time, each N for `value` fen,
    as long as a bundle costs less than its units; over the bundled units' lines in
    proportion to what their bundled units cost;
  - 满赠: nothing off: `value` units of the gift SKU as a line of its own, at 0 fen,
    while the gift has that much stock (otherwise the order goes ahead without it and
    `gifts_unavailable` says so). For "which saves most" a gift is worth its list price.
- **Nearly reached.** For a promotion with lines in the cart and a tier not reached yet,
  how much (fen or pieces) more would reach the next tier: what the checkout page nudges
  with ("再买 30 元减 50").

Every split is exact: `share` gives whole fen summing to the amount (largest remainder,
the earlier line first on a tie), and no line ever loses more than its own goods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from layers.domain import promotion as kinds
from layers.domain.paid_shares import share
from layers.domain.pricing import Line
from layers.domain.promotion import Promotion, Tier


@dataclass(frozen=True)
class Gift:
    """What the order's read knows of a gift SKU."""

    sku_id: str
    product_id: str
    title: str
    unit_price: int  # its list price: what the gift is worth to the shopper
    available: int  # the units an order can take (stock, less what the order buys of it)


@dataclass(frozen=True)
class Applied:
    promotion: Promotion
    tier: Tier
    discount: int  # fen off the goods (0 for a gift)
    line_discounts: dict[str, int]  # sku id -> fen off that line, summing to `discount`
    sku_ids: tuple[str, ...]  # the lines taking part in it
    gift: Gift | None = None
    gift_quantity: int = 0

    @property
    def saving(self) -> int:
        return self.discount + (self.gift.unit_price * self.gift_quantity if self.gift else 0)

    def as_dict(self) -> dict:
        out = {"id": self.promotion.promotion_id, "name": self.promotion.name, "kind": self.promotion.kind,
               "tier": _tier_view(self.tier), "discount": self.discount, "sku_ids": list(self.sku_ids)}
        if self.gift is not None:
            out["gift"] = {"sku_id": self.gift.sku_id, "title": self.gift.title, "quantity": self.gift_quantity}
        return out


@dataclass(frozen=True)
class Nudge:
    promotion: Promotion
    tier: Tier
    missing_amount: int | None = None  # fen more of in-scope goods
    missing_quantity: int | None = None  # pieces more

    def as_dict(self) -> dict:
        out = {"id": self.promotion.promotion_id, "name": self.promotion.name, "kind": self.promotion.kind,
               "tier": _tier_view(self.tier), "message": nudge_text(self)}
        if self.missing_amount is not None:
            out["missing_amount"] = self.missing_amount
        if self.missing_quantity is not None:
            out["missing_quantity"] = self.missing_quantity
        return out


@dataclass(frozen=True)
class Outcome:
    applied: tuple[Applied, ...] = ()
    nudges: tuple[Nudge, ...] = ()
    # promotions whose gift tier was reached but whose gift has no stock left
    gifts_unavailable: tuple[Promotion, ...] = ()

    @property
    def line_discounts(self) -> dict[str, int]:
        """Sku id -> fen its promotion took off it (a line is in at most one promotion)."""
        return {sku_id: off for a in self.applied for sku_id, off in a.line_discounts.items()}

    @property
    def discount(self) -> int:
        return sum(a.discount for a in self.applied)

    @property
    def coupons_allowed(self) -> bool:
        """False when a promotion the order takes part in says `with_coupons: false`."""
        return all(a.promotion.with_coupons for a in self.applied)

    def promotion_of(self, sku_id: str) -> Applied | None:
        for a in self.applied:
            if sku_id in a.sku_ids:
                return a
        return None

    def gifts(self) -> list[Applied]:
        return [a for a in self.applied if a.gift is not None and a.gift_quantity > 0]


def in_scope(promotion: Promotion, line: Line) -> bool:
    return (promotion.whole_shop or line.product_id in promotion.product_ids
            or any(c in promotion.category_ids for c in line.category_ids))


def _pay_percent(amount: int, percent: int) -> int:
    """What is paid of `amount` at `percent`: rounded down, in the shopper's favour."""
    return amount * percent // 100


def _reached(tier: Tier, goods: int, pieces: int) -> bool:
    if tier.threshold is not None:
        return goods >= tier.threshold
    return pieces >= (tier.min_quantity or 0)


def _proportional(lines: list[Line], amount: int) -> dict[str, int]:
    return dict(zip((ln.sku_id for ln in lines), share([ln.amount for ln in lines], amount), strict=True))


def _nth(tier: Tier, lines: list[Line]) -> dict[str, int]:
    """第N件: per line (one SKU), every N-th unit at `value` percent."""
    n = tier.min_quantity or 2
    off = {}
    for ln in lines:
        units = ln.quantity // n
        per_unit = ln.unit_price - _pay_percent(ln.unit_price, tier.value)
        if units and per_unit:
            off[ln.sku_id] = units * per_unit
    return off


def _bundle(tier: Tier, lines: list[Line]) -> dict[str, int]:
    """打包价: the dearest units first, N at a time, each N for `value`, while that saves."""
    n = tier.min_quantity or 2
    units = sorted(((ln.unit_price, i) for i, ln in enumerate(lines) for _ in range(ln.quantity)),
                   key=lambda u: (-u[0], u[1]))
    bundled = [0] * len(lines)  # fen of each line's units put in a bundle
    saving = 0
    for start in range(0, len(units) - n + 1, n):
        group = units[start:start + n]
        cost = sum(price for price, _ in group)
        if cost <= tier.value:
            break  # cheaper units follow: no later bundle saves either
        saving += cost - tier.value
        for price, i in group:
            bundled[i] += price
    if not saving:
        return {}
    shares = share(bundled, saving)
    return {lines[i].sku_id: s for i, s in enumerate(shares) if bundled[i]}


def _work_out(promotion: Promotion, lines: list[Line], gifts: dict[str, Gift]) -> Applied | None:
    """The promotion alone over these (in-scope) lines: its best tier reached, or None."""
    goods = sum(ln.amount for ln in lines)
    pieces = sum(ln.quantity for ln in lines)
    best: Applied | None = None
    for tier in promotion.tiers:
        gift, gift_quantity = None, 0
        if promotion.kind in (kinds.NTH_ITEM, kinds.BUNDLE):
            off = _nth(tier, lines) if promotion.kind == kinds.NTH_ITEM else _bundle(tier, lines)
            taking = [ln for ln in lines if ln.sku_id in off]
        else:
            if not _reached(tier, goods, pieces):
                continue
            taking = lines
            if promotion.kind == kinds.AMOUNT_OFF:
                off = _proportional(lines, min(tier.value, goods))
            elif promotion.kind == kinds.PERCENT_OFF:
                off = _proportional(lines, goods - _pay_percent(goods, tier.value))
            else:  # GIFT
                off = {}
                gift = gifts.get(promotion.gift_sku_id or "")
                if gift is None or gift.available < tier.value:
                    continue
                gift_quantity = tier.value
        discount = sum(off.values())
        if not taking or (discount == 0 and gift_quantity == 0):
            continue
        candidate = Applied(promotion=promotion, tier=tier, discount=discount,
                            line_discounts={k: v for k, v in off.items() if v},
                            sku_ids=tuple(ln.sku_id for ln in taking), gift=gift, gift_quantity=gift_quantity)
        if best is None or candidate.saving > best.saving:
            best = candidate
    return best


def weighed(promotions, now: datetime, new_customer: bool) -> list[Promotion]:
    """The promotions an order at `now` weighs, in the order ties are broken in."""
    live = [p for p in promotions if p.is_live(now) and (new_customer or not p.new_customers_only)]
    return sorted(live, key=lambda p: (p.created_at, p.promotion_id))


def apply(lines: list[Line], promotions, now: datetime, *, new_customer: bool,
          gifts: dict[str, Gift] | None = None) -> Outcome:
    """Which promotions the order takes part in, what each takes off which line, the gifts
    it gets, and the tiers nearly reached. `promotions`: the shop's live ones (filtered
    here by time and `new_customers_only`); `gifts`: the gift SKUs as the order's read saw
    them (a gift missing here counts as out of stock)."""
    gifts = gifts or {}
    candidates = weighed(promotions, now, new_customer)
    free = list(lines)
    applied: list[Applied] = []
    left = list(candidates)
    while left and free:
        best, best_at = None, -1
        for n, p in enumerate(left):
            scoped = [ln for ln in free if in_scope(p, ln)]
            if not scoped:
                continue
            worked = _work_out(p, scoped, gifts)
            if worked is not None and (best is None or worked.saving > best.saving):
                best, best_at = worked, n
        if best is None:
            break
        applied.append(best)
        left.pop(best_at)
        taken = set(best.sku_ids)
        free = [ln for ln in free if ln.sku_id not in taken]
    return Outcome(applied=tuple(applied), nudges=tuple(_nudges(lines, candidates, applied)),
                   gifts_unavailable=tuple(_gifts_unavailable(lines, candidates, applied, gifts)))


def _nudges(lines: list[Line], candidates: list[Promotion], applied: list[Applied]) -> list[Nudge]:
    """For each weighed promotion with in-scope lines: the next tier by threshold or pieces
    above what its lines reach (for one applied: above the tier it applied with)."""
    out = []
    by_id = {a.promotion.promotion_id: a for a in applied}
    taken = {sku for a in applied for sku in a.sku_ids}
    for p in candidates:
        mine = by_id.get(p.promotion_id)
        if p.kind == kinds.NTH_ITEM:
            if mine is None:
                scoped = [ln for ln in lines if in_scope(p, ln) and ln.sku_id not in taken]
                tier = p.tiers[0]
                most = max((ln.quantity for ln in scoped), default=0)
                if scoped and most < (tier.min_quantity or 2):
                    out.append(Nudge(p, tier, missing_quantity=(tier.min_quantity or 2) - most))
            continue
        if mine is not None:
            scoped = [ln for ln in lines if ln.sku_id in mine.sku_ids]
        else:
            scoped = [ln for ln in lines if in_scope(p, ln) and ln.sku_id not in taken]
        if not scoped:
            continue
        goods = sum(ln.amount for ln in scoped)
        pieces = sum(ln.quantity for ln in scoped)
        for tier in p.tiers:  # lowest condition first
            if mine is not None and _rank(tier) <= _rank(mine.tier):
                continue
            if p.kind == kinds.BUNDLE:
                n = tier.min_quantity or 2
                if pieces % n or not pieces:
                    out.append(Nudge(p, tier, missing_quantity=n - pieces % n))
                break
            if _reached(tier, goods, pieces):
                continue
            if tier.threshold is not None:
                out.append(Nudge(p, tier, missing_amount=tier.threshold - goods))
            else:
                out.append(Nudge(p, tier, missing_quantity=(tier.min_quantity or 0) - pieces))
            break
    return out


def _rank(tier: Tier) -> tuple[int, int]:
    return (tier.threshold or 0, tier.min_quantity or 0)


def _gifts_unavailable(lines, candidates, applied, gifts) -> list[Promotion]:
    """Gift promotions whose tier the cart reaches but whose gift is out of stock."""
    got = {a.promotion.promotion_id for a in applied}
    out = []
    for p in candidates:
        if p.kind != kinds.GIFT or p.promotion_id in got:
            continue
        scoped = [ln for ln in lines if in_scope(p, ln)]
        goods, pieces = sum(ln.amount for ln in scoped), sum(ln.quantity for ln in scoped)
        if scoped and any(_reached(t, goods, pieces) for t in p.tiers):
            gift = gifts.get(p.gift_sku_id or "")
            if gift is None or gift.available < min(t.value for t in p.tiers):
                out.append(p)
    return out


# -- words for the checkout page ---------------------------------------------------------

def yuan(fen: int) -> str:
    """Fen as people write yuan: 3000 -> "30", 2990 -> "29.9", 2995 -> "29.95"."""
    whole, cents = divmod(int(fen), 100)
    if not cents:
        return str(whole)
    return f"{whole}.{cents:02d}".rstrip("0")


def _discount_words(promotion: Promotion, tier: Tier) -> str:
    if promotion.kind == kinds.AMOUNT_OFF:
        return f"减{yuan(tier.value)}元"
    if promotion.kind == kinds.PERCENT_OFF:
        return f"打{tier.value / 10:g}折"
    if promotion.kind == kinds.GIFT:
        return f"送赠品×{tier.value}"
    if promotion.kind == kinds.BUNDLE:
        return f"{tier.min_quantity}件{yuan(tier.value)}元"
    price = "免费" if tier.value == 0 else "半价" if tier.value == 50 else f"打{tier.value / 10:g}折"
    return f"享第{tier.min_quantity}件{price}"


def nudge_text(nudge: Nudge) -> str:
    """"再买30元减50元", "再买1件打8折", "再买1件3件99元", "再买1件享第2件半价"."""
    more = (f"{yuan(nudge.missing_amount)}元" if nudge.missing_amount is not None
            else f"{nudge.missing_quantity}件")
    return f"再买{more}{_discount_words(nudge.promotion, nudge.tier)}"


def _tier_view(tier: Tier) -> dict:
    return {k: v for k, v in (("threshold", tier.threshold), ("min_quantity", tier.min_quantity),
                              ("value", tier.value)) if v is not None}


# -- each line's paid ----------------------------------------------------------------------

def share_capped(weights: list[int], caps: list[int], amount: int) -> list[int]:
    """`amount` over lines in proportion to `weights`, no line above its cap, exact to the
    fen: what a line cannot take goes to the others, in proportion again. `amount` must
    not exceed the caps' sum."""
    if amount > sum(caps):
        raise ValueError("more to share than the lines can take")
    shares = [0] * len(weights)
    left = amount
    while left > 0:
        open_ = [i for i in range(len(weights)) if shares[i] < caps[i]]
        w = [weights[i] if weights[i] > 0 else 0 for i in open_]
        if sum(w) == 0:  # nothing weighs: by what each can still take
            w = [caps[i] - shares[i] for i in open_]
        part = share(w, left)
        moved = 0
        for i, s in zip(open_, part, strict=True):
            take = min(s, caps[i] - shares[i])
            shares[i] += take
            moved += take
        left -= moved
        if moved == 0:  # rounding left every share at 0: one fen at a time, in order
            for i in open_:
                if left and shares[i] < caps[i]:
                    shares[i] += 1
                    left -= 1
    return shares


def paid_per_line(goods: list[int], *, member_off: int, promotion_offs: list[int], coupon_off: int,
              coupon_weights: list[int], points_off: int) -> list[int]:
    """Each line's `paid`: its goods less its share of every discount, in the order they
    come off. The member level's discount over every line in proportion to its goods; the
    promotions' as they fell on each line (`promotion_offs`, scaled down in proportion when
    the member level left less than they would take); the coupon over the lines it covers
    (`coupon_weights`: each line's goods in the coupon's scope after its promotion, 0 out
    of scope); points over every line in proportion to what is left of it. Each step is
    capped by what is left of each line, so no line pays below 0, and the lines sum
    exactly to the goods less every discount."""
    left = list(goods)

    def take(weights: list[int], amount: int) -> None:
        got = share_capped(weights, left, amount)
        for i, g in enumerate(got):
            left[i] -= g

    take(goods, member_off)
    promotion_total = min(sum(promotion_offs), sum(left))
    take(promotion_offs, promotion_total)
    take(coupon_weights, min(coupon_off, sum(left)))
    take(list(left), min(points_off, sum(left)))
    return left
