"""Commission rules: pure functions on integer fen and basis points.

- Tier: a template lists its tiers from the lowest level to the highest; a distributor
  sits in the LAST listed tier whose thresholds (sales count and sales amount, both,
  an absent one being 0) their sales reach. Below every tier they earn 0.
- Amount: a line's commissionable base is its `paid` (`paid_shares.line_paid`: what the
  shopper paid for it, every discount off: promotions, the coupon, the member level's
  discount, the points spent; shipping never earning), so a line with a bigger discount
  earns less. An order stored before lines carried `paid` gets it derived, in proportion
  to the lines' goods (exact to the fen, ties to the earlier line), as before. Each line
  earns floor(base * rate_bps / 10000), its rate being the product's own (`fixed`) or the
  distributor's tier rate (`tier`); a free gift line earns nothing. Rounding is always
  down, per line, so the shop never pays a fen more than the rates say.
- Reversal: after refunds totalling R of a paid P, none naming lines, what the order may
  still earn is floor(accrued * (P - R) / P). Refunds of lines take back the lines they
  name: with L_i fen refunded of line i (base b_i, earning a_i), the lines keep
  K = sum floor(a_i * (b_i - L_i) / b_i), and the refunds that named no lines (U = R - L,
  L = sum L_i) take their proportion of what is left: kept = floor(K * (P - L - U) / (P - L)).
  Without refunds of lines this is the first rule. Each refund reverses the difference
  between what is still held and that target (never negative); the target depends only
  on the totals, so refunds applied in any order, or twice, reverse the same total.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.domain import paid_shares

BPS = 10_000


@dataclass(frozen=True)
class Tier:
    name: str
    rate_bps: int
    min_sales_count: int = 0
    min_sales_amount: int = 0

    def reached(self, sales_count: int, sales_amount: int) -> bool:
        return sales_count >= self.min_sales_count and sales_amount >= self.min_sales_amount

    def as_dict(self) -> dict:
        return {"name": self.name, "rate_bps": self.rate_bps,
                "min_sales_count": self.min_sales_count, "min_sales_amount": self.min_sales_amount}


NO_TIER = Tier(name="", rate_bps=0)


def tiers_from(raw: list[dict]) -> list[Tier]:
    return [Tier(name=t["name"], rate_bps=int(t["rate_bps"]),
                 min_sales_count=int(t.get("min_sales_count") or 0),
                 min_sales_amount=int(t.get("min_sales_amount") or 0)) for t in raw]


def choose_tier(tiers: list[Tier], sales_count: int, sales_amount: int) -> Tier:
    """The highest (last listed) tier whose thresholds the sales reach; NO_TIER if none."""
    chosen = NO_TIER
    for tier in tiers:
        if tier.reached(sales_count, sales_amount):
            chosen = tier
    return chosen


def line_rate(commission: dict | None, tier_rate_bps: int) -> int:
    """A line's rate: the product's fixed rate, else the distributor's tier rate."""
    if commission and commission.get("mode") == "fixed" and commission.get("rate_bps") is not None:
        return int(commission["rate_bps"])
    return tier_rate_bps


def line_commission(base: int, commission: dict | None, tier_rate_bps: int) -> tuple[int, int]:
    """One line's (rate_bps, amount): the rate `line_rate` chooses, on `base` fen (never
    below 0), rounded down. An order's lines and a distributor's "what one unit earns me"
    (GET /me/distribution/products) both come here, so the two cannot disagree."""
    rate = line_rate(commission, tier_rate_bps)
    return rate, max(0, base) * rate // BPS


@dataclass(frozen=True)
class LineCommission:
    sku_id: str
    base: int  # the line's share of goods after discount, fen
    rate_bps: int
    amount: int


def order_commission(items: list[dict], amounts: dict, tier_rate_bps: int) -> list[LineCommission]:
    """Per-line commission of an order. `items` are order items: `sku_id`, `quantity`,
    `unit_price`, `commission` ({"mode", "rate_bps"} or None), `paid` (stored, or derived
    from `amounts` for an order stored before lines carried it), `gift`."""
    result = []
    for ln, paid in zip(items, paid_shares.line_paid(items, amounts), strict=True):
        base = 0 if ln.get("gift") else max(0, paid)
        rate, amount = line_commission(base, ln.get("commission"), tier_rate_bps)
        result.append(LineCommission(sku_id=ln["sku_id"], base=base, rate_bps=rate, amount=amount))
    return result


def kept_after_refunds(accrued: int, paid: int, refunded: int) -> int:
    """What an order's commission may still be after `refunded` of `paid` went back."""
    if paid <= 0:
        return 0
    left = min(max(paid - refunded, 0), paid)
    return accrued * left // paid


def reversal(accrued: int, already_reversed: int, paid: int, refunded_total: int) -> int:
    """How much more to reverse now that `refunded_total` has been refunded in all."""
    held = accrued - already_reversed
    return max(0, held - kept_after_refunds(accrued, paid, refunded_total))


def kept_by_lines(values: list[int], bases: list[int], line_refunded: list[int], paid: int,
                  refunded_total: int) -> int:
    """What the lines' `values` (their commissions, or their bases) still count for after
    refunds totalling `refunded_total` of `paid`, `line_refunded[i]` of them naming line i
    (see the module's docstring)."""
    named = sum(line_refunded)
    if named <= 0:
        return kept_after_refunds(sum(values), paid, refunded_total)
    rest = paid - named
    if rest <= 0:
        return 0
    kept = sum(v * max(0, b - r) // b for v, b, r in zip(values, bases, line_refunded, strict=True) if b > 0)
    others = min(max(0, refunded_total - named), rest)
    return kept * (rest - others) // rest


def base_after_refunds(base: int, paid: int, refunded: int) -> int:
    """The commissionable sales an order still counts for (tier thresholds)."""
    return kept_after_refunds(base, paid, refunded)


def check_rate_cap(rates_bps: list[int], max_bps: int) -> None:
    """Refuses a commission rate above the shop's `max_commission_bps` (an owner raises
    the setting to pay more: a non-owner cannot make a shopper's pay on their own)."""
    from layers.domain import errors

    over = [r for r in rates_bps if r > max_bps]
    if over:
        raise errors.InvalidRequest(f"rate_bps {max(over)} is above the shop's max_commission_bps ({max_bps}); "
                                    "an owner can raise the setting")


def coupon_only_amount(stored_lines: list[dict], items: list[dict], discount: int) -> int:
    """What an order's lines earned under the rule before commissions were on the paid
    goods (goods less the coupon only), at the rates the commission stored per line.
    Used to count how many accrued commissions the paid-goods rule would have changed."""
    rates = [int(ln.get("rate_bps") or 0) for ln in stored_lines]
    goods = paid_shares.line_goods(items)
    shares = paid_shares.share(goods, min(max(0, sum(goods) - discount), sum(goods)))
    return sum(s * r // BPS for s, r in zip(shares, rates, strict=False))


def paid_goods_amount(stored_lines: list[dict], items: list[dict], amounts: dict) -> int:
    """What the same lines earn on the paid goods (the rule now), at the stored rates."""
    rates = [int(ln.get("rate_bps") or 0) for ln in stored_lines]
    shares = paid_shares.line_shares(items, amounts)
    return sum(s * r // BPS for s, r in zip(shares, rates, strict=False))
