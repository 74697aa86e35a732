"""A promotion (满减, 满折, 满赠, 第N件, 打包价): what the operator sets up, checked; its
statuses; pure.

A promotion is not claimed: every order of a live promotion's goods takes part by itself
(how, and how much comes off, is `layers/domain/promotion_pricing.py`). The kinds:

- `amount_off` (满减): from `threshold` fen of in-scope goods, `value` fen off.
- `percent_off` (满折): from `threshold` fen or `min_quantity` pieces, pay `value` percent.
- `gift` (满赠): from `threshold` fen or `min_quantity` pieces, `value` units of
  `gift_sku_id` free, as a line of its own.
- `nth_item` (第N件): every `min_quantity`-th unit of one SKU at `value` percent
  (第2件半价 is `min_quantity: 2, value: 50`; 0 makes it free).
- `bundle` (打包价): `min_quantity` in-scope pieces for `value` fen (3件99元).

A promotion has one to five tiers (满100减10, 满200减30); the best tier reached applies.

    ACTIVE  --stop-->  STOPPED    (for good: a stopped promotion never applies again)

An ACTIVE promotion is live between `starts_at` (included) and `ends_at` (excluded); its
status does not change at `ends_at` (nothing has to run then): `is_live` asks the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from layers.domain import errors

AMOUNT_OFF = "amount_off"
PERCENT_OFF = "percent_off"
GIFT = "gift"
NTH_ITEM = "nth_item"
BUNDLE = "bundle"
KINDS = (AMOUNT_OFF, PERCENT_OFF, GIFT, NTH_ITEM, BUNDLE)

ACTIVE = "ACTIVE"
STOPPED = "STOPPED"
STATUSES = (ACTIVE, STOPPED)

MAX_TIERS = 5
MAX_NAME = 30
MAX_SCOPE = 100  # product ids, and category ids, each
# An id in a scope: the shop's own are 22 characters (`p_` and 20 hex). Bounded so that
# MAX_LIVE promotions with full scopes still fit the one live item (layers/storage/promotions.py).
MAX_ID = 32
MAX_GIFT_UNITS = 10
MAX_MONEY = 100_000_000  # fen: ¥1,000,000
MAX_PIECES = 999
# Live (not stopped, not ended) promotions at once: every order weighs all of them, and
# they are read in one item with the order's other facts (layers/storage/promotions.py).
MAX_LIVE = 50


@dataclass(frozen=True)
class Tier:
    value: int
    threshold: int | None = None  # fen of in-scope goods at list price
    min_quantity: int | None = None  # in-scope pieces


@dataclass(frozen=True)
class Promotion:
    promotion_id: str
    name: str
    kind: str
    tiers: tuple[Tier, ...]
    starts_at: str
    ends_at: str
    gift_sku_id: str | None = None
    product_ids: frozenset[str] = field(default_factory=frozenset)
    category_ids: frozenset[str] = field(default_factory=frozenset)
    new_customers_only: bool = False
    with_coupons: bool = True
    status: str = ACTIVE
    created_at: str = ""
    stopped_at: str | None = None
    version: int = 1

    @property
    def whole_shop(self) -> bool:
        return not self.product_ids and not self.category_ids

    def is_live(self, now: datetime) -> bool:
        return (self.status == ACTIVE and datetime.fromisoformat(self.starts_at) <= now
                < datetime.fromisoformat(self.ends_at))

    def has_ended(self, now: datetime) -> bool:
        return self.status != ACTIVE or now >= datetime.fromisoformat(self.ends_at)


def stop(promotion: Promotion, now: str) -> Promotion:
    """ACTIVE -> STOPPED. Stopping a stopped promotion is answered as it is (a retry)."""
    if promotion.status == STOPPED:
        return promotion
    return replace(promotion, status=STOPPED, stopped_at=now, version=promotion.version + 1)


# -- checking what the operator sends -----------------------------------------------------

def _where(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "body"


def _bad(path: tuple, reason: str, text: str, **details) -> errors.DomainError:
    return errors.InvalidRequest(f"{_where(path)}: {text}", path=list(path), reason=reason, **details)


def _int(value, path: tuple, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, "type", "an integer")
    if not low <= value <= high:
        raise _bad(path, "range", f"from {low} to {high}", low=low, high=high)
    return value


def _ids(values, path: tuple) -> frozenset[str]:
    if values is None:
        return frozenset()
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) and v for v in values):
        raise _bad(path, "type", "a list of ids")
    if any(len(v) > MAX_ID for v in values):
        raise _bad(path, "range", f"ids of at most {MAX_ID} characters")
    if len(values) > MAX_SCOPE:
        raise _bad(path, "range", f"at most {MAX_SCOPE}")
    return frozenset(values)


def _when(value, path: tuple) -> datetime:
    if not isinstance(value, str):
        raise _bad(path, "type", "a time with its offset, e.g. 2026-12-12T00:00:00+08:00")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(path, "format", "a time with its offset, e.g. 2026-12-12T00:00:00+08:00") from None
    if at.tzinfo is None:
        raise _bad(path, "format", "a time with its offset, e.g. 2026-12-12T00:00:00+08:00")
    # Kept as the API shows times (RFC 3339 in UTC, whole seconds), whatever offset was sent.
    try:
        return at.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # year 1 or 9999 moved past the calendar's edge by its offset
        raise _bad(path, "range", "a time between the years 1 and 9999") from None


def _utc(at: datetime) -> str:
    # isoformat, not strftime: it writes every year with four digits (strftime: `1-01-01`)
    return at.isoformat().replace("+00:00", "Z")


def _tier(kind: str, body, path: tuple) -> Tier:
    if not isinstance(body, dict):
        raise _bad(path, "type", "an object with value, and threshold or min_quantity")
    threshold, pieces = body.get("threshold"), body.get("min_quantity")
    if threshold is not None:
        threshold = _int(threshold, (*path, "threshold"), 1, MAX_MONEY)
    if pieces is not None:
        pieces = _int(pieces, (*path, "min_quantity"), 1, MAX_PIECES)
    value = body.get("value")
    if kind == AMOUNT_OFF:
        if threshold is None or pieces is not None:
            raise _bad(path, "condition", "满减 is from a threshold in fen (threshold), not pieces")
        # less than the threshold: an order reaching it always has something left to pay
        value = _int(value, (*path, "value"), 1, threshold - 1)
    elif kind in (PERCENT_OFF, GIFT):
        if (threshold is None) == (pieces is None):
            raise _bad(path, "condition", "from a threshold in fen or from min_quantity pieces: one of the two")
        value = (_int(value, (*path, "value"), 1, 99) if kind == PERCENT_OFF
                 else _int(value, (*path, "value"), 1, MAX_GIFT_UNITS))
    elif kind == NTH_ITEM:
        if pieces is None or threshold is not None or pieces < 2:
            raise _bad(path, "condition", "第N件 names min_quantity (N, 2 or more) and no threshold")
        value = _int(value, (*path, "value"), 0, 99)
    else:  # BUNDLE
        if pieces is None or threshold is not None or pieces < 2:
            raise _bad(path, "condition", "打包价 names min_quantity (2 or more pieces) and no threshold")
        value = _int(value, (*path, "value"), 1, MAX_MONEY)
    return Tier(value=value, threshold=threshold, min_quantity=pieces)


def _rank(tier: Tier) -> tuple[int, int]:
    return (tier.threshold or 0, tier.min_quantity or 0)


def promotion_from(body: dict, promotion_id: str, now: str) -> Promotion:
    """A promotion from the API's body (`POST /admin/promotions`), checked; raises
    `errors.InvalidRequest` naming the field. Tiers are kept from the lowest condition up;
    two tiers with the same condition, or a higher tier giving less, are refused (the
    operator meant something else)."""
    if not isinstance(body, dict):
        raise _bad((), "type", "the promotion is an object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise _bad(("name",), "name", f"1 to {MAX_NAME} characters")
    kind = body.get("kind")
    if kind not in KINDS:
        raise _bad(("kind",), "kind", f"one of {', '.join(KINDS)}")
    tiers_in = body.get("tiers")
    if not isinstance(tiers_in, list) or not 1 <= len(tiers_in) <= MAX_TIERS:
        raise _bad(("tiers",), "range", f"1 to {MAX_TIERS} tiers")
    tiers = sorted((_tier(kind, t, ("tiers", n)) for n, t in enumerate(tiers_in)), key=_rank)
    if len({_rank(t) for t in tiers}) < len(tiers):
        raise _bad(("tiers",), "duplicate", "two tiers with the same condition")
    if len({(t.threshold is None) for t in tiers}) > 1:
        raise _bad(("tiers",), "condition", "all tiers by threshold, or all by min_quantity")
    for low, high in zip(tiers, tiers[1:], strict=False):
        better = high.value < low.value if kind in (PERCENT_OFF, NTH_ITEM) else high.value > low.value
        if kind == BUNDLE:
            # more pieces for a bundle price: each piece must come out cheaper
            better = high.value * low.min_quantity < low.value * high.min_quantity
        if not better:
            raise _bad(("tiers",), "order", "a higher tier must give more than a lower one")
    gift_sku_id = body.get("gift_sku_id")
    if kind == GIFT:
        if not isinstance(gift_sku_id, str) or not gift_sku_id:
            raise _bad(("gift_sku_id",), "required", "满赠 names the gift's SKU")
    elif gift_sku_id is not None:
        raise _bad(("gift_sku_id",), "not_allowed", "only a gift promotion names a gift SKU")
    scope = body.get("scope") or {}
    if not isinstance(scope, dict):
        raise _bad(("scope",), "type", "an object with product_ids and/or category_ids")
    product_ids = _ids(scope.get("product_ids"), ("scope", "product_ids"))
    category_ids = _ids(scope.get("category_ids"), ("scope", "category_ids"))
    starts, ends = _when(body.get("starts_at"), ("starts_at",)), _when(body.get("ends_at"), ("ends_at",))
    if ends <= starts:
        raise _bad(("ends_at",), "order", "after starts_at")
    if ends <= datetime.fromisoformat(now.replace("Z", "+00:00")):
        raise _bad(("ends_at",), "past", "in the future")
    for flag in ("new_customers_only", "with_coupons"):
        if body.get(flag) is not None and not isinstance(body.get(flag), bool):
            raise _bad((flag,), "type", "true or false")
    return Promotion(
        promotion_id=promotion_id, name=name.strip(), kind=kind, tiers=tuple(tiers),
        starts_at=_utc(starts), ends_at=_utc(ends), gift_sku_id=gift_sku_id,
        product_ids=product_ids, category_ids=category_ids,
        new_customers_only=bool(body.get("new_customers_only") or False),
        with_coupons=body.get("with_coupons") is not False, created_at=now)


def promotion_view(p: Promotion, now: datetime | None = None) -> dict:
    """The API's JSON of a promotion: what `promotion_from` takes, with its id, status and
    times; `live` when `now` is given."""
    view = {
        "id": p.promotion_id, "name": p.name, "kind": p.kind,
        "tiers": [{k: v for k, v in (("threshold", t.threshold), ("min_quantity", t.min_quantity),
                                     ("value", t.value)) if v is not None} for t in p.tiers],
        "scope": {"product_ids": sorted(p.product_ids), "category_ids": sorted(p.category_ids)},
        "starts_at": p.starts_at, "ends_at": p.ends_at, "new_customers_only": p.new_customers_only,
        "with_coupons": p.with_coupons, "status": p.status, "created_at": p.created_at,
        "stopped_at": p.stopped_at,
    }
    if p.gift_sku_id:
        view["gift_sku_id"] = p.gift_sku_id
    if now is not None:
        view["live"] = p.is_live(now)
    return view


class PromotionRepository(Protocol):
    def create(self, promotion: Promotion, now: datetime) -> Promotion:
        """Store it, and among the live ones when it has not ended; 409 LIMIT_EXCEEDED past
        MAX_LIVE promotions not ended at once."""

    def get(self, promotion_id: str) -> Promotion | None: ...

    def stop(self, promotion_id: str, now: datetime) -> Promotion:
        """ACTIVE -> STOPPED, and out of the live ones, in one write; 404 for no such id."""

    def live(self) -> list[Promotion]:
        """The promotions not stopped and (as of their last write) not ended: the ones an
        order weighs. Whoever prices filters them by `is_live` at the order's time."""

    def page(self, limit: int, cursor: dict | None) -> tuple[list[Promotion], dict | None]:
        """Every promotion, newest first."""
