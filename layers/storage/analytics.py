"""Analytics counters in the shop table, and the repository that alone knows their keys.

- Counter: pk `ANALYTICS#<kind>#<period>#<subject>`, sk `COUNTERS`; every figure a
  number attribute moved only by `ADD`. Ranked kinds (products per day or month,
  distributors per month) also sit in gsi3 `ANALYTICS#RANK#<kind>#<period>` / the amount
  they are ranked by (`gsi3n`, moved by the same `ADD`), so a ranking is one query,
  highest first. Coupon counters are listed in gsi1 `ANALYTICS#COUPONS` / template id;
  a promotion's are read by their keys (a page of promotions is one BatchGetItem), and so
  are a guide's customers' (`GUIDE_CUSTOMER`, layers/storage/guide_customers.py).
- Marker: pk `ANALYTICS#EVENT#<event_id>`, sk `COUNTED`: put (if absent) in the same
  transaction as the event's increments; it expires after 90 days (SQS keeps a message
  14 days at most).
- Buyer: pk `ANALYTICS#BUYER#<user_id>`, sk the period (a day, a month, `ALL`): the
  buyer's `first` and `second` order ids there, each set once by a conditional write.
- Visitor: pk `ANALYTICS#VISITOR#<guide>#<visitor>`, sk the period (a day, a week, a
  month, `ALL`): `first`, the event id of the visit that made them a visitor of the guide
  there, set once by the same conditional write. A day's, week's or month's slot expires
  after 120 days (no redelivery comes that late); `ALL` stays.
- Channel slot: pk `ANALYTICS#CHSLOT#<role>#<channel>#<who>` (role `visitor` or
  `buyer`), sk the period (a day, a month): `first`, the visit's event id or the order id
  that made `who` a visitor or buyer through the channel there; expires after 120 days.
- CHANNEL counters exist per day and month, each ranked in gsi3 (gmv): a period's
  channels are one query.
- DISTRIBUTOR counters exist per day, ISO week, month and `ALL`, each ranked in gsi3
  (sales) and read by key for a page of guides (one BatchGetItem).
- Campaign reviews: a CAMPAIGN counter per campaign (`ANALYTICS#CAMPAIGN#-#<kind>#<id>`),
  a CAMPAIGN_CHANNEL counter per (campaign, channel) ranked in gsi3
  `ANALYTICS#RANK#CAMPAIGN_CHANNEL#<kind>#<id>` by gmv (the review's `by_channel` is one
  query), and a CAMPAIGN_RECORD item per order placed in it and per instance started in it,
  in gsi3 `ANALYTICS#CAMPAIGN_RECORDS#<kind>#<id>#<nn>` (16 shards by the record's id, so a
  busy flash sale spreads its index writes): what the nightly recount reads back.
- Participant: pk `ANALYTICS#PARTICIPANT#<kind>#<id>#<user_id>`, sk `ALL`: the event that
  made the shopper a participant of the campaign, set once (the buyer slots' write).
- The orders of a day come from the orders' paid-date index (gsi3 `PAID#<day>#<nn>`,
  layers/storage/orders.py).
"""

from __future__ import annotations

import time

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.domain import analytics as domain
from layers.domain.analytics import Increment, Key
from layers.storage import queues
from layers.storage.base import Listed, Numbered, ShopModel
from layers.storage.errors import condition_failed
from layers.storage.orders import OrderItem, paid_day_keys, to_order
from layers.storage.tx import Tx

MARKER_TTL_S = 90 * 24 * 3600
VISITOR_SLOT_TTL_S = 120 * 24 * 3600
COUPONS_LIST = "ANALYTICS#COUPONS"
_FIGURES = ("gmv", "orders", "buyers", "new_buyers", "repeat_buyers", "refunds", "refund_count", "top_ups",
            "top_up_count", "paid_refunds", "quantity", "sales_amount", "commission", "used", "discount", "spent",
            "shares", "visits", "participants", "paid_orders", "new_customers", "groups_opened",
            "groups_succeeded", "groups_failed", "bargains_started", "bargains_succeeded", "bargains_bought",
            "assists_started", "rewards_given", "visitor_days", "buyer_days", "pickup_orders", "guide_sales")


class CounterItem(Listed, Numbered):
    kind = UnicodeAttribute(null=True)
    period = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    visitors = NumberAttribute(null=True)
    gmv = NumberAttribute(null=True)
    orders = NumberAttribute(null=True)
    buyers = NumberAttribute(null=True)
    new_buyers = NumberAttribute(null=True)
    repeat_buyers = NumberAttribute(null=True)
    refunds = NumberAttribute(null=True)
    refund_count = NumberAttribute(null=True)
    top_ups = NumberAttribute(null=True)
    top_up_count = NumberAttribute(null=True)
    paid_refunds = NumberAttribute(null=True)
    quantity = NumberAttribute(null=True)
    sales_amount = NumberAttribute(null=True)
    commission = NumberAttribute(null=True)
    used = NumberAttribute(null=True)
    discount = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)  # GUIDE_CUSTOMER
    shares = NumberAttribute(null=True)  # DISTRIBUTOR
    visits = NumberAttribute(null=True)  # DISTRIBUTOR (`visitors` is the DAY's WeChat figure's name too)
    # -- CAMPAIGN (a campaign's review) --
    participants = NumberAttribute(null=True)
    paid_orders = NumberAttribute(null=True)
    new_customers = NumberAttribute(null=True)
    groups_opened = NumberAttribute(null=True)
    groups_succeeded = NumberAttribute(null=True)
    groups_failed = NumberAttribute(null=True)
    bargains_started = NumberAttribute(null=True)
    bargains_succeeded = NumberAttribute(null=True)
    bargains_bought = NumberAttribute(null=True)
    assists_started = NumberAttribute(null=True)
    rewards_given = NumberAttribute(null=True)
    visitor_days = NumberAttribute(null=True)  # CHANNEL month: the sum of its days' distinct visitors
    buyer_days = NumberAttribute(null=True)  # CHANNEL month: the sum of its days' distinct buyers
    pickup_orders = NumberAttribute(null=True)  # STORE: paid orders collected at the store
    guide_sales = NumberAttribute(null=True)  # STORE: the payable of its guides' paid orders


class CountedItem(ShopModel):
    counted_at = NumberAttribute()


class BuyerItem(ShopModel):
    first = UnicodeAttribute(null=True)
    second = UnicodeAttribute(null=True)


def counter_key(key: Key) -> tuple[str, str]:
    return f"ANALYTICS#{key.kind}#{key.period}#{key.subject}", "COUNTERS"


def marker_key(event_id: str) -> tuple[str, str]:
    return f"ANALYTICS#EVENT#{event_id}", "COUNTED"


def buyer_key(user_id: str, period: str) -> tuple[str, str]:
    return f"ANALYTICS#BUYER#{user_id}", period


def visitor_key(distributor_id: str, visitor_id: str, period: str) -> tuple[str, str]:
    return f"ANALYTICS#VISITOR#{distributor_id}#{visitor_id}", period


def channel_slot_key(channel: str, role: str, who: str, period: str) -> tuple[str, str]:
    return f"ANALYTICS#CHSLOT#{role}#{channel}#{who}", period


def rank_key(kind: str, period: str) -> str:
    return f"ANALYTICS#RANK#{kind}#{period}"


def participant_key(ref: str, user_id: str) -> tuple[str, str]:
    return f"ANALYTICS#PARTICIPANT#{ref}#{user_id}", "ALL"


RECORDS = "ANALYTICS#CAMPAIGN_RECORDS"


def records_key(ref: str, record: str) -> str:
    """The gsi3 shard of one record (`order#<id>`, `instance#<id>`) of a campaign."""
    return queues.key(f"{RECORDS}#{ref}", record)


def _counters(item: CounterItem) -> dict:
    out = {name: int(getattr(item, name)) for name in _FIGURES if getattr(item, name) is not None}
    out.update({name: getattr(item, name) for name in ("kind", "period", "subject", "title")
                if getattr(item, name) is not None})
    if item.visitors is not None:
        out["visitors"] = int(item.visitors)
    return out


def _position(key: tuple[str, str], holder: str, most: int, ttl: int | None = None) -> int:
    """The holder's slot (1..most) in the slot item `key`, or most + 1 when all are taken by
    others. Each slot is taken once, by a write that also succeeds for the holder that has
    it: asking again for the same holder gives the same answer."""
    slots = (BuyerItem.first, BuyerItem.second)[:most]
    for n, slot in enumerate(slots, start=1):
        actions = [slot.set(holder)]
        if ttl is not None:
            actions.append(BuyerItem.ttl.set(ttl))
        try:
            BuyerItem(*key).update(actions=actions, condition=slot.does_not_exist() | (slot == holder))
            return n
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
    return len(slots) + 1


class DynamoAnalyticsRepository:
    """`layers.domain.analytics.AnalyticsRepository` on the shop table."""

    def buyer_position(self, user_id: str, period: str, order_id: str, most: int = 2) -> int:
        return _position(buyer_key(user_id, period), order_id, most)

    def visitor_first(self, distributor_id: str, visitor_id: str, period: str, event_id: str) -> bool:
        ttl = None if period == "ALL" else int(time.time()) + VISITOR_SLOT_TTL_S
        return _position(visitor_key(distributor_id, visitor_id, period), event_id, 1, ttl) == 1

    def channel_first(self, channel: str, role: str, who: str, period: str, holder: str) -> bool:
        ttl = int(time.time()) + VISITOR_SLOT_TTL_S
        return _position(channel_slot_key(channel, role, who, period), holder, 1, ttl) == 1

    def distributors(self, distributor_ids: list[str], period: str) -> dict[str, dict]:
        keys = [counter_key(Key(domain.DISTRIBUTOR, period, d)) for d in dict.fromkeys(distributor_ids)]
        return {item.subject: _counters(item) for item in CounterItem.batch_get(keys) if item.subject}

    def stage_counted(self, tx: Tx, event_id: str, on_counted) -> None:
        item = CountedItem(*marker_key(event_id), counted_at=int(time.time()), ttl=int(time.time()) + MARKER_TTL_S)
        tx.put(item, condition=CountedItem.pk.does_not_exist(), on_fail=lambda: on_counted(event_id))

    def stage_increment(self, tx: Tx, inc: Increment) -> None:
        key = inc.key
        actions = [getattr(CounterItem, name).add(value) for name, value in inc.add.items()]
        actions += [CounterItem.kind.set(key.kind), CounterItem.period.set(key.period),
                    CounterItem.subject.set(key.subject)]
        if inc.labels.get("title"):
            actions.append(CounterItem.title.set(inc.labels["title"]))
        ranked_by = domain.RANKED_BY.get(key.kind)
        if ranked_by:
            actions += [CounterItem.gsi3pk.set(rank_key(key.kind, key.period)),
                        CounterItem.gsi3n.add(inc.add.get(ranked_by, 0))]
        if key.kind == domain.CAMPAIGN_RECORD:
            actions += [CounterItem.gsi3pk.set(records_key(key.period, key.subject)), CounterItem.gsi3n.set(0)]
        if key.kind == domain.COUPON:
            actions += [CounterItem.gsi1pk.set(COUPONS_LIST), CounterItem.gsi1sk.set(key.subject)]
        tx.update(CounterItem(*counter_key(key)), actions=actions)

    def days(self, days: list[str]) -> dict[str, dict]:
        keys = [counter_key(Key(domain.DAY, d)) for d in days]
        return {item.period or item.pk.split("#")[2]: _counters(item)
                for item in CounterItem.batch_get(keys, consistent_read=True)}

    def set_visitors(self, day: str, visitors: int) -> None:
        key = Key(domain.DAY, day)
        CounterItem(*counter_key(key)).update(actions=[
            CounterItem.visitors.set(visitors), CounterItem.kind.set(key.kind), CounterItem.period.set(day),
            CounterItem.subject.set(key.subject)])

    def ranking(self, kind: str, period: str, limit: int | None) -> list[dict]:
        found = CounterItem.gsi3.query(rank_key(kind, period), scan_index_forward=False, limit=limit)
        out = []
        for item in found:
            out.append(_counters(item))
            if limit is not None and len(out) >= limit:
                break
        return out

    def coupons(self) -> list[dict]:
        return [_counters(i) for i in CounterItem.gsi1.query(COUPONS_LIST)]

    def promotions(self, promotion_ids: list[str]) -> dict[str, dict]:
        keys = [counter_key(Key(domain.PROMOTION, "-", pid)) for pid in dict.fromkeys(promotion_ids)]
        return {item.subject: _counters(item) for item in CounterItem.batch_get(keys) if item.subject}

    def paid_orders(self, day: str) -> list:
        return [to_order(item) for k in paid_day_keys(day) for item in OrderItem.gsi3.query(k)]

    def participant_first(self, ref: str, user_id: str, event_id: str) -> bool:
        return _position(participant_key(ref, user_id), event_id, 1) == 1

    def campaign(self, ref: str) -> tuple[dict | None, list[dict]]:
        try:
            item = CounterItem.get(*counter_key(Key(domain.CAMPAIGN, "-", ref)), consistent_read=True)
            counters = _counters(item)
        except CounterItem.DoesNotExist:
            counters = None
        channels = [_counters(i) for i in CounterItem.gsi3.query(rank_key(domain.CAMPAIGN_CHANNEL, ref))]
        return counters, channels

    def campaign_records(self, ref: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"order": [], "instance": []}
        for k in queues.all_keys(f"{RECORDS}#{ref}"):
            for item in CounterItem.gsi3.query(k):
                what, _, record_id = (item.subject or "").partition("#")
                out.setdefault(what, []).append(record_id)
        return out

    def first_orders(self, user_ids: list[str]) -> dict[str, str]:
        keys = [buyer_key(u, "ALL") for u in dict.fromkeys(user_ids)]
        return {item.pk.split("#", 2)[2]: item.first for item in BuyerItem.batch_get(keys, consistent_read=True)
                if item.first}
