"""Promotions (满减, 满折, 满赠, 第N件, 打包价) in the shop table; the only module that knows
their keys.

- Each promotion: pk `PROMOTION#<id>`, sk `PROMOTION`: the promotion as compact JSON
  (`encode`), with `status` and `version` beside it for the conditions. Listed newest first
  in gsi1 `PROMOTIONS` / `<created_at>#<id>` (the operators' history).
- The live ones: pk `PROMOTIONS`, sk `LIVE` (`LIVE_KEY`): every promotion not stopped and
  not ended as of the item's last write, as one compact JSON list, and `version`, bumped
  by every write.

Why one live item: every order weighs every live promotion, and placing an order reads
what it needs in one strongly consistent BatchGetItem (layers/storage/placement.py); one
fixed key joins that batch whatever the order holds, without a query or a second round
trip. `to_live` turns the item (or its absence) into promotions, for that read and this one.

Writes are transactions of the promotion's own item and the live item, the live item
conditioned on the version read (compare-and-set, as the freight templates): a write that
lost to another is read again and redone, so two operators creating promotions at once
both keep theirs, and a stop racing a create loses neither. Every write also drops the
promotions that have ended by then, so the item holds at most `MAX_LIVE` (409
LIMIT_EXCEEDED past it) and stays small: 50 promotions of 100 shop-made product ids each
are about 140 KB, and even 100 product and 100 category ids of `MAX_ID` characters each
fit DynamoDB's 400 KB (tests/contract/test_promotion_repository.py checks both).
"""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.clock import iso
from layers.domain import errors
from layers.domain.promotion import ACTIVE, MAX_LIVE, Promotion, Tier
from layers.domain.promotion import stop as stopped
from layers.storage.base import Listed, ShopModel
from layers.storage.tx import Tx

LIVE_KEY = ("PROMOTIONS", "LIVE")
PROMOTIONS = "PROMOTIONS"  # gsi1: every promotion, newest first
_ATTEMPTS = 10  # writes lost to other writes, redone before giving up (busy: 429)


class PromotionItem(Listed):
    promotion = UnicodeAttribute()  # compact JSON (`encode`)
    status = UnicodeAttribute()
    version = NumberAttribute()


class PromotionsLiveItem(ShopModel):
    promotions = UnicodeAttribute(null=True)  # compact JSON: [encoded promotion, ...], oldest first
    version = NumberAttribute(null=True)


def promotion_key(promotion_id: str) -> tuple[str, str]:
    return f"PROMOTION#{promotion_id}", "PROMOTION"


def encode(p: Promotion) -> dict:
    """A promotion as the items store it: a tier as `[value, threshold, min_quantity]`,
    flags and empty scopes only when they say something."""
    d = {"id": p.promotion_id, "name": p.name, "kind": p.kind,
         "tiers": [[t.value, t.threshold, t.min_quantity] for t in p.tiers],
         "starts": p.starts_at, "ends": p.ends_at, "status": p.status, "created_at": p.created_at,
         "version": p.version}
    optional = {"gift": p.gift_sku_id, "products": sorted(p.product_ids), "categories": sorted(p.category_ids),
                "new": p.new_customers_only, "no_coupons": not p.with_coupons, "stopped_at": p.stopped_at}
    d.update({k: v for k, v in optional.items() if v})
    return d


def decode(d: dict) -> Promotion:
    return Promotion(
        promotion_id=d["id"], name=d["name"], kind=d["kind"],
        tiers=tuple(Tier(value=int(v), threshold=None if t is None else int(t),
                         min_quantity=None if q is None else int(q)) for v, t, q in d["tiers"]),
        starts_at=d["starts"], ends_at=d["ends"], gift_sku_id=d.get("gift"),
        product_ids=frozenset(d.get("products") or ()), category_ids=frozenset(d.get("categories") or ()),
        new_customers_only=bool(d.get("new")), with_coupons=not d.get("no_coupons"),
        status=d.get("status") or ACTIVE, created_at=d.get("created_at") or "", stopped_at=d.get("stopped_at"),
        version=int(d.get("version") or 1))


def _json(value) -> str:
    # Chinese as UTF-8 and no spaces: pynamodb's JSONAttribute would spend six bytes a character.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dump(promotions) -> str:
    """The live item's `promotions`."""
    return _json([encode(p) for p in promotions])


def to_live(item: PromotionsLiveItem | None) -> list[Promotion]:
    """The promotions of the live item, oldest first (None: none was ever made), as read
    here or in another read's batch (order placement's). Some may have ended since the
    item's last write: whoever prices keeps those `is_live` at the order's time."""
    if item is None:
        return []
    return [decode(d) for d in json.loads(item.promotions or "[]")]


class _Lost(Exception):
    """The live item (or the promotion) changed since it was read: read again, redo."""


class DynamoPromotionRepository:
    """`layers.domain.promotion.PromotionRepository` on the shop table. `live_key` and
    `listed_as` are the live item's key and the gsi1 list (tests give their own)."""

    def __init__(self, live_key: tuple[str, str] = LIVE_KEY, listed_as: str = PROMOTIONS) -> None:
        self.live_key = live_key
        self.listed_as = listed_as

    def _live(self) -> tuple[list[Promotion], int | None]:
        """The live promotions and the item's version (None: no item yet)."""
        try:
            item = PromotionsLiveItem.get(*self.live_key, consistent_read=True)
        except PromotionsLiveItem.DoesNotExist:
            return [], None
        return to_live(item), int(item.version or 0)

    def _stage_live(self, tx: Tx, promotions: list[Promotion], read_version: int | None) -> None:
        condition = (PromotionsLiveItem.pk.does_not_exist() if read_version is None
                     else PromotionsLiveItem.version == read_version)
        tx.put(PromotionsLiveItem(*self.live_key, promotions=dump(promotions), version=(read_version or 0) + 1),
               condition=condition, on_fail=_Lost)

    def _item(self, p: Promotion) -> PromotionItem:
        return PromotionItem(*promotion_key(p.promotion_id), promotion=_json(encode(p)), status=p.status,
                             version=p.version, gsi1pk=self.listed_as, gsi1sk=f"{p.created_at}#{p.promotion_id}")

    def create(self, promotion: Promotion, now: datetime) -> Promotion:
        for _ in range(_ATTEMPTS):
            live, version = self._live()
            kept = [p for p in live if not p.has_ended(now)]
            if not promotion.has_ended(now):
                if len(kept) >= MAX_LIVE:
                    raise errors.LimitExceeded(
                        f"at most {MAX_LIVE} promotions not ended at once: stop one, or wait for one to end")
                kept.append(promotion)
            tx = Tx().put(self._item(promotion), condition=PromotionItem.pk.does_not_exist(),
                          on_fail=lambda: errors.InvalidState(f"promotion {promotion.promotion_id} exists"))
            self._stage_live(tx, kept, version)
            try:
                tx.commit()
            except _Lost:
                continue
            return promotion
        raise errors.RateLimited("the promotions are being changed; try again", retry_after=1)

    def get(self, promotion_id: str) -> Promotion | None:
        try:
            item = PromotionItem.get(*promotion_key(promotion_id), consistent_read=True)
        except PromotionItem.DoesNotExist:
            return None
        return decode(json.loads(item.promotion))

    def stop(self, promotion_id: str, now: datetime) -> Promotion:
        for _ in range(_ATTEMPTS):
            current = self.get(promotion_id)
            if current is None:
                raise errors.NotFound("no such promotion")
            if current.status != ACTIVE:
                return current  # stopped already: a retry is answered as it is
            after = stopped(current, iso(now))
            live, version = self._live()
            kept = [p for p in live if p.promotion_id != promotion_id and not p.has_ended(now)]
            tx = Tx().put(self._item(after),
                          condition=(PromotionItem.status == ACTIVE) & (PromotionItem.version == current.version),
                          on_fail=_Lost)
            self._stage_live(tx, kept, version)
            try:
                tx.commit()
            except _Lost:
                continue
            return after
        raise errors.RateLimited("the promotions are being changed; try again", retry_after=1)

    def live(self) -> list[Promotion]:
        return self._live()[0]

    def page(self, limit: int, cursor: dict | None) -> tuple[list[Promotion], dict | None]:
        result = PromotionItem.gsi1.query(self.listed_as, scan_index_forward=False, limit=limit,
                                          last_evaluated_key=cursor)
        return [decode(json.loads(i.promotion)) for i in result], result.last_evaluated_key
