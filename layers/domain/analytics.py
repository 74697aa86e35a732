"""Analytics: sums kept up to date from events, never from scans.

An event the shop emits becomes a `Fact` (what happened, to whom, how much, and the
event's own time). A fact turns into increments of counters (`increments`), keyed by
an Asia/Shanghai day or month taken from the event's own time, never from the clock of
the machine counting it: an order paid at 23:59:59 Beijing time counts on that day.
The consumer merges the increments of a whole SQS batch (`merge`) into one write per
counter, and writes them in transactions together with one marker per event (`chunks`),
so an event counts once however often it is delivered.

Distinct visitors of a guide come from the same kind of slot, one per (guide, visitor,
period): the first visit that takes it makes a visitor of that period. A channel's
distinct visitors and buyers too: one slot per (channel, visitor or buyer, day or month).

Distinct and repeat buyers come from per-(period, buyer) counters that say the order's
position among the buyer's orders in the period (1: a new buyer of the day / month /
ever; 2: the buyer just became a repeat buyer of the month; more: nothing).

Counters:

    DAY      <day>            gmv orders buyers new_buyers repeat_buyers refunds refund_count
                              top_ups top_up_count paid_refunds (refunds of the orders
                              PAID that day, on their paid day: what the recount checks)
    PRODUCT  <day>|<month> / product   quantity gmv (ranked by gmv)
    DISTRIBUTOR <day>|<week>|<month>|ALL / distributor
                                       sales_amount orders commission (ranked by sales), moved
                                       by sales only (never by refunds); shares visits visitors,
                                       moved by the guide's shares and their visits. A week is
                                       ISO (`2026-W48`, Monday to Sunday, Beijing days)
    COUPON   - / template              used discount gmv
    PROMOTION - / promotion            orders discount gmv: the orders a promotion took part
                                       in, what it took off them, and what its lines paid
    SALES    ALL / product             quantity: units sold, less the units of orders refunded
                                       in full (ranked by quantity: the storefront's `sales`)
    CHANNEL  <day>|<month> / channel   visitors orders buyers gmv (ranked by gmv): the distinct
                                       visitors that opened the mini-program through the channel
                                       (`POST /visits`), the paid orders that came through it,
                                       their distinct buyers and their payable. A month also keeps
                                       `visitor_days` and `buyer_days`, the sums of its days'
                                       distinct counts (what a range of days adds up). Orders with
                                       no channel move none (docs/channels.md)
    GUIDE_CUSTOMER ALL / <guide>#<customer>  orders spent: a customer's paid orders attributed to
                                       the guide and what they paid for goods less the goods part
                                       of refunds (the customer record's `spent`, layers/domain/
                                       customers.py), read by the guide's customers list
    CAMPAIGN - / <kind>#<id>           a campaign's review: participants orders paid_orders gmv
                                       refunds new_customers and its kind's own figures
                                       (groups_*, bargains_*, rewards_given; docs/analytics.md)
    CAMPAIGN_CHANNEL <kind>#<id> / channel  orders paid_orders gmv of its orders per channel
                                       ("-": none), ranked by gmv
    CAMPAIGN_RECORD <kind>#<id> / order#<id> | instance#<id>  one per order placed or instance
                                       started in it: what the nightly recount reads back
    STORE    <month> / store           pickup_orders guide_sales gmv (ranked by gmv), moved by
                                       sales only (never by refunds), as a guide's sales are:
                                       `pickup_orders` the paid orders collected at the store,
                                       `guide_sales` the payable of paid orders sold by its guides
                                       (wherever collected), `gmv` the payable of the paid orders
                                       that are the store's: its pickups, and its guides' orders
                                       not collected at another store, so an order is in one
                                       store's `gmv` at most (docs/stores.md)

Money is integer fen. `gmv` is the payable of paid orders; a product's `gmv` is the sum
of its lines' `paid`, what the shopper paid for them (`paid_shares.line_paid`: every
discount off, promotions, the member level's and the points too; shipping earns no
product anything). A free gift line is no product's sale.
"""

from __future__ import annotations

import csv
import io
import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from layers.domain import errors, paid_shares
from layers.domain.customers import refunded_goods

SHANGHAI = ZoneInfo("Asia/Shanghai")

SALE = "sale"
REFUND = "refund"
TOP_UP = "top_up"
SHARE = "share"  # a guide made a share (POST /shares)
VISIT = "visit"  # someone opened a guide's share (POST /shares/{token}/visits)
CHANNEL_VISIT = "channel_visit"  # the mini-program opened through a channel (POST /visits)
PLACED = "placed"  # an order placed in a campaign (`order.placed`), paid or not
MILESTONE = "milestone"  # a campaign's own step: a group opened, a bargain started, a reward given
KINDS = (SALE, REFUND, TOP_UP, SHARE, VISIT, CHANNEL_VISIT, PLACED, MILESTONE)

DAY = "DAY"
PRODUCT = "PRODUCT"
DISTRIBUTOR = "DISTRIBUTOR"
COUPON = "COUPON"
PROMOTION = "PROMOTION"
SALES = "SALES"
GUIDE_CUSTOMER = "GUIDE_CUSTOMER"
CAMPAIGN = "CAMPAIGN"
CAMPAIGN_CHANNEL = "CAMPAIGN_CHANNEL"
CAMPAIGN_RECORD = "CAMPAIGN_RECORD"
CHANNEL = "CHANNEL"
STORE = "STORE"

DAY_FIELDS = ("gmv", "orders", "buyers", "new_buyers", "repeat_buyers", "refunds", "refund_count",
              "top_ups", "top_up_count", "paid_refunds")
# The counter of each ranked kind that its ranking index is sorted by.
RANKED_BY = {PRODUCT: "gmv", DISTRIBUTOR: "sales_amount", SALES: "quantity", CHANNEL: "gmv",
             CAMPAIGN_CHANNEL: "gmv", STORE: "gmv"}


def _parse(at: str) -> datetime:
    dt = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"a time without a zone: {at!r}")
    return dt


def day_of(at: str) -> str:
    """The Asia/Shanghai day (`2026-11-22`) of an RFC 3339 time."""
    return _parse(at).astimezone(SHANGHAI).date().isoformat()


def month_of(at: str) -> str:
    return day_of(at)[:7]


def week_of_day(day: str) -> str:
    """The ISO week (`2026-W48`) of a day `YYYY-MM-DD`; Monday starts it. Its year is the
    ISO year: 2027-01-01 (a Friday) is in `2026-W53`."""
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def week_of(at: str) -> str:
    return week_of_day(day_of(at))


def parse_week(value: str | None) -> str:
    """`2026-W48`, a week that exists (W53 only in the years that have one). ASCII digits
    only: the period is a key, and `２０２６-W48` would name a week no counter is under."""
    try:
        if not re.fullmatch(r"[0-9]{4}-W[0-9]{2}", value or ""):
            raise ValueError(value)
        date.fromisocalendar(int(value[:4]), int(value[6:]), 1)
    except ValueError as exc:
        raise errors.InvalidRequest("week is an ISO week, YYYY-Www (2026-W48)") from exc
    return value


def week_days(week: str) -> list[str]:
    monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    return [(monday + timedelta(days=n)).isoformat() for n in range(7)]


def parse_period(month: str | None, week: str | None) -> str:
    """The ranking's period: exactly one of `month` and `week`."""
    if month is not None and week is not None:
        raise errors.InvalidRequest("give month or week, not both")
    return parse_week(week) if week is not None else parse_month(month)


def whole_period(days_: list[str]) -> str | None:
    """The single period the days make exactly: one day, one ISO week, one calendar month;
    else None. Distinct visitors exist only for such a period (they cannot be summed)."""
    if len(days_) == 1:
        return days_[0]
    if days_ == week_days(week_of_day(days_[0])):
        return week_of_day(days_[0])
    first = date.fromisoformat(days_[0])
    if first.day == 1 and len(days_) == monthrange(first.year, first.month)[1] and days_[-1][:7] == days_[0][:7]:
        return days_[0][:7]
    return None


def yesterday(now: datetime) -> str:
    return (now.astimezone(SHANGHAI).date() - timedelta(days=1)).isoformat()


def parse_day(value: str | None, name: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError as exc:
        raise errors.InvalidRequest(f"{name} is a day, YYYY-MM-DD") from exc


def parse_month(value: str | None) -> str:
    """`2026-11`, exactly: the period is a key, so `2026-1` (which strptime takes) or
    non-ASCII digits would name a month no counter is under, an empty answer, not a 400."""
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value or ""):
        raise errors.InvalidRequest("month is YYYY-MM")
    return value


def days(first: date, last: date, most: int = 366) -> list[str]:
    if last < first:
        raise errors.InvalidRequest("to is before from")
    if (last - first).days >= most:
        raise errors.InvalidRequest(f"at most {most} days at once")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


# -- facts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    product_id: str
    title: str
    quantity: int
    gmv: int


@dataclass(frozen=True)
class PromotionShare:
    """What one promotion did in one order: `discount`, the fen it took off its lines;
    `gmv`, what those lines paid (their `paid`)."""

    promotion_id: str
    discount: int
    gmv: int


@dataclass(frozen=True)
class Fact:
    """One event, as analytics sees it. `at` is the event's own time (paid, refund
    succeeded, topped up); `paid_at` on a refund is its order's payment time. `goods`:
    on a sale, what its lines paid (shipping apart); on a refund, the goods part of it
    (`customers.refunded_goods`). A refund carries its order's `distributor_id`."""

    event_id: str
    kind: str
    at: str
    user_id: str
    amount: int
    order_id: str | None = None
    lines: tuple[Line, ...] = ()
    distributor_id: str | None = None
    commission: int = 0
    coupon_template_id: str | None = None
    discount: int = 0
    paid_at: str | None = None
    promotions: tuple[PromotionShare, ...] = ()
    goods: int = 0
    channel: str | None = None  # the order's: campaign reviews and channels split by it
    # The campaigns (`<kind>#<id>`, `campaign_ref`) an order fact counts in; a milestone's one.
    campaigns: tuple[str, ...] = ()
    figure: str | None = None  # a milestone's: the review figure it moves (`MILESTONES`)
    subject: str | None = None  # a milestone's group or instance
    # A sale's stores: where it is collected (a pickup order's store) and the store of the
    # guide who sold it, as known when the fact was made (the STORE counters).
    pickup_store: str | None = None
    guide_store: str | None = None

    @property
    def day(self) -> str:
        return day_of(self.at)

    @property
    def month(self) -> str:
        return month_of(self.at)

    @property
    def week(self) -> str:
        return week_of(self.at)

    def to_message(self) -> dict:
        message = {k: v for k, v in self.__dict__.items()
                   if k not in ("lines", "promotions") and v not in (None, 0, ())}
        message["kind"], message["amount"] = self.kind, self.amount
        if self.campaigns:
            message["campaigns"] = list(self.campaigns)
        message["lines"] = [line.__dict__ for line in self.lines]
        if self.promotions:
            message["promotions"] = [share.__dict__ for share in self.promotions]
        return message

    @staticmethod
    def from_message(message: dict) -> Fact:
        """A fact from the analytics queue; a malformed one is `InvalidRequest`."""
        try:
            kind = message["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            fact = Fact(
                event_id=str(message["event_id"]), kind=kind, at=str(message["at"]),
                user_id=str(message["user_id"]), amount=int(message["amount"]),
                order_id=message.get("order_id"),
                lines=tuple(Line(str(x["product_id"]), str(x.get("title") or ""), int(x["quantity"]), int(x["gmv"]))
                            for x in message.get("lines") or ()),
                distributor_id=message.get("distributor_id"), commission=int(message.get("commission") or 0),
                coupon_template_id=message.get("coupon_template_id"), discount=int(message.get("discount") or 0),
                paid_at=message.get("paid_at"),
                promotions=tuple(PromotionShare(str(x["promotion_id"]), int(x["discount"]), int(x["gmv"]))
                                 for x in message.get("promotions") or ()),
                goods=int(message.get("goods") or 0), channel=message.get("channel"),
                campaigns=tuple(str(x) for x in message.get("campaigns") or ()),
                figure=message.get("figure"), subject=message.get("subject"),
                pickup_store=message.get("pickup_store"), guide_store=message.get("guide_store"))
            if fact.kind == MILESTONE and (fact.figure not in MILESTONES or len(fact.campaigns) != 1):
                raise ValueError(f"a milestone names one campaign and a known figure, not {fact.figure!r}")
            day_of(fact.at)
            if fact.paid_at:
                day_of(fact.paid_at)
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.InvalidRequest(f"not an analytics fact: {exc}") from exc
        return fact


def counts_as_sale(order) -> bool:
    """An order counts once it was paid and became an order (`order.paid`); a payment
    that arrived after it closed and went straight back (status before the refund:
    CLOSED) never did."""
    return bool(order.paid_at) and order.status_before_refund != "CLOSED"


def product_lines(order) -> tuple[Line, ...]:
    """Each product's share of what the shopper paid for the goods (every discount off,
    promotions included, shipping apart), in whole fen: the sum of its lines' `paid`
    (`paid_shares.line_paid`, the commission's base too). A free gift line is no sale: it
    counts in no product's figures nor in the storefront's sales."""
    shares = paid_shares.line_paid(order.items, order.amounts)
    lines: dict[str, Line] = {}
    for item, share in zip(order.items, shares, strict=True):
        if item.get("gift"):
            continue
        pid = item.get("product_id") or item["sku_id"]
        old = lines.get(pid)
        lines[pid] = Line(pid, item.get("title") or (old.title if old else ""),
                          int(item["quantity"]) + (old.quantity if old else 0), share + (old.gmv if old else 0))
    return tuple(lines.values())


def promotion_shares(order) -> tuple[PromotionShare, ...]:
    """Each promotion the order's lines took part in (a line names it as `promotion_id`, a
    gift line too), in the order the lines name them: the fen it took off those lines
    (`promotion_discount`) and what they paid (`paid`, as stored or derived)."""
    paid = paid_shares.line_paid(order.items, order.amounts)
    found: dict[str, tuple[int, int]] = {}
    for item, share in zip(order.items, paid, strict=True):
        promotion_id = item.get("promotion_id")
        if not promotion_id:
            continue
        discount, gmv = found.get(promotion_id, (0, 0))
        found[promotion_id] = (discount + int(item.get("promotion_discount") or 0), gmv + share)
    return tuple(PromotionShare(pid, discount, gmv) for pid, (discount, gmv) in found.items())


def pickup_store_of(order) -> str | None:
    """The store a pickup order is collected at, else None. Read defensively: orders gain
    `delivery` ({"kind": "pickup", "store_id"}) with pickup orders, and an order without it
    (every order before them, every delivered one) is collected nowhere."""
    delivery = getattr(order, "delivery", None) or {}
    return delivery.get("store_id") if delivery.get("kind", "pickup") == "pickup" else None


def sale_fact(event_id: str, order, commission: int = 0, coupon_template_id: str | None = None,
              guide_store: str | None = None) -> Fact | None:
    """`order.paid` as a fact; None for an order that does not count (see counts_as_sale).
    It names the campaigns the order is in (`order_campaigns`), where it is collected and
    `guide_store`, the store of its guide (`distributor_id`) when the sale is counted."""
    if not counts_as_sale(order):
        return None
    return Fact(event_id=event_id, kind=SALE, at=order.paid_at, user_id=order.user_id, amount=order.paid,
                order_id=order.order_id, lines=product_lines(order), distributor_id=order.distributor_id,
                commission=commission, coupon_template_id=coupon_template_id if order.coupon_id else None,
                discount=int(order.amounts.get("discount") or 0) if order.coupon_id else 0,
                promotions=promotion_shares(order), goods=sum(paid_shares.line_paid(order.items, order.amounts)),
                channel=order.channel, campaigns=order_campaigns(order, coupon_template_id),
                pickup_store=pickup_store_of(order), guide_store=guide_store if order.distributor_id else None)


def store_increments(fact: Fact) -> list[Increment]:
    """What a sale adds to its stores' month (the STORE counters above): the pickup store's
    `pickup_orders`, the guide's store's `guide_sales`, and `gmv` once, to the store the
    order is: where it is collected, else its guide's."""
    adds: dict[str, dict[str, int]] = {}
    if fact.pickup_store:
        adds.setdefault(fact.pickup_store, {})["pickup_orders"] = 1
    if fact.guide_store:
        adds.setdefault(fact.guide_store, {})["guide_sales"] = fact.amount
    owner = fact.pickup_store or fact.guide_store
    if owner:
        adds[owner]["gmv"] = fact.amount
    return [Increment(Key(STORE, fact.month, store_id), add) for store_id, add in adds.items()]


def store_row(counters: dict) -> dict:
    return {"store_id": counters["subject"], "pickup_orders": int(counters.get("pickup_orders") or 0),
            "guide_sales": int(counters.get("guide_sales") or 0), "gmv": int(counters.get("gmv") or 0)}


def refund_fact(event_id: str, order, amount: int, succeeded_at: str, completes: bool = False,
                refunded_total: int | None = None, coupon_template_id: str | None = None) -> Fact | None:
    """`order.refunded`: counts on the day it succeeded; None when its order never counted.
    The refund that `completes` the order's refund (the whole payment is back) carries its
    lines: their units no longer count as sold. A partial refund names no units.
    `refunded_total` (the order's refunds with this one) gives the goods part of it."""
    if not counts_as_sale(order):
        return None
    total = amount if refunded_total is None else refunded_total
    goods = refunded_goods(sum(paid_shares.line_paid(order.items, order.amounts)), total - amount, amount)
    return Fact(event_id=event_id, kind=REFUND, at=succeeded_at, user_id=order.user_id, amount=amount,
                order_id=order.order_id, paid_at=order.paid_at, lines=product_lines(order) if completes else (),
                distributor_id=order.distributor_id, goods=goods, channel=order.channel,
                campaigns=order_campaigns(order, coupon_template_id))


# -- campaign reviews -------------------------------------------------------------------

CAMPAIGN_KINDS = ("flash_sale", "group_buy", "bargain", "assist", "promotion", "coupon")
# A milestone figure -> the campaign kind whose step it is.
MILESTONES = {"groups_opened": "group_buy", "groups_succeeded": "group_buy", "groups_failed": "group_buy",
              "bargains_started": "bargain", "bargains_succeeded": "bargain",
              "assists_started": "assist", "rewards_given": "assist"}
# Each kind's own figures in its review (`bargains_bought`: its paid orders, moved by sales).
OWN_FIGURES = {"group_buy": ("groups_opened", "groups_succeeded", "groups_failed"),
               "bargain": ("bargains_started", "bargains_succeeded", "bargains_bought"),
               "assist": ("rewards_given",)}
# Who a participant is: a shopper who placed an order in it (these kinds), or who started
# an instance of it (a bargain's starters, an assistance campaign's initiators).
JOINED_BY_ORDER = ("flash_sale", "group_buy", "promotion", "coupon")
STARTS = {"bargains_started", "assists_started"}
ORDER_FIGURES = ("orders", "paid_orders", "gmv", "refunds", "new_customers")
REVIEW_CHANNEL_FIGURES = ("orders", "paid_orders", "gmv")
NO_CHANNEL = "-"  # the subject of an order with no channel's counter; `null` in the review


def campaign_ref(kind: str, campaign_id: str) -> str:
    return f"{kind}#{campaign_id}"


def ref_kind(ref: str) -> str:
    return ref.split("#", 1)[0]


def order_campaigns(order, coupon_template_id: str | None = None) -> tuple[str, ...]:
    """The campaigns an order is in: its flash sale, group buy or bargain (its
    reservations), each promotion a line names (`promotion_shares`), its coupon's template.
    An assistance campaign has no orders of its own: its reward is a coupon, and the
    orders that use it are that template's."""
    refs: list[str] = []
    for r in getattr(order, "reservations", ()):
        if r.get("kind") == "flash":
            refs.append(campaign_ref("flash_sale", r["sale_id"]))
        elif r.get("kind") == "group":
            refs.append(campaign_ref("group_buy", r["group_buy_id"]))
        elif r.get("kind") == "bargain":
            refs.append(campaign_ref("bargain", r["bargain_id"]))
    if getattr(order, "flash_sale_id", None):
        refs.append(campaign_ref("flash_sale", order.flash_sale_id))
    refs += [campaign_ref("promotion", share.promotion_id) for share in promotion_shares(order)]
    if getattr(order, "coupon_id", None) and coupon_template_id:
        refs.append(campaign_ref("coupon", coupon_template_id))
    return tuple(dict.fromkeys(refs))


def placed_fact(event_id: str, order, coupon_template_id: str | None = None) -> Fact | None:
    """`order.placed`: an order placed in a campaign, at its creation; None when it is in
    none. `amount` is its payable (the review counts it, it never sums it)."""
    campaigns = order_campaigns(order, coupon_template_id)
    if not campaigns:
        return None
    return Fact(event_id=event_id, kind=PLACED, at=order.created_at, user_id=order.user_id, amount=order.payable,
                order_id=order.order_id, channel=order.channel, campaigns=campaigns)


def milestone_fact(event_id: str, figure: str, campaign_id: str, subject: str, user_id: str, at: str) -> Fact:
    """A campaign's own step (`MILESTONES`): `subject` is its group or instance, `user_id`
    the shopper it is about (the group's leader, the instance's starter)."""
    if figure not in MILESTONES:
        raise ValueError(f"unknown milestone {figure!r}")
    return Fact(event_id=event_id, kind=MILESTONE, at=at, user_id=user_id, amount=0, figure=figure,
                subject=subject, campaigns=(campaign_ref(MILESTONES[figure], campaign_id),))


def joins(fact: Fact) -> list[str]:
    """The campaigns whose participant this fact's shopper may become (a slot each)."""
    if fact.kind == PLACED:
        return [ref for ref in fact.campaigns if ref_kind(ref) in JOINED_BY_ORDER]
    if fact.kind == MILESTONE and fact.figure in STARTS:
        return list(fact.campaigns)
    return []


def campaign_increments(fact: Fact, positions=None) -> list[Increment]:
    """What a fact moves in its campaigns' reviews. A placement or a start needs {ref: the
    shopper's first in that campaign}; a sale, its buyer's positions (new customers)."""
    out: list[Increment] = []
    firsts = positions if isinstance(positions, dict) else {}
    channel = fact.channel or NO_CHANNEL
    for ref in fact.campaigns:
        if fact.kind == PLACED:
            add = {"orders": 1}
            if ref in joins(fact):
                add["participants"] = int(bool(firsts.get(ref)))
            out += [Increment(Key(CAMPAIGN, "-", ref), add),
                    Increment(Key(CAMPAIGN_CHANNEL, ref, channel), {"orders": 1}),
                    Increment(Key(CAMPAIGN_RECORD, ref, f"order#{fact.order_id}"), {"orders": 1})]
        elif fact.kind == SALE:
            add = {"paid_orders": 1, "gmv": fact.amount,
                   "new_customers": int(isinstance(positions, Positions) and positions.ever == 1)}
            if ref_kind(ref) == "bargain":
                add["bargains_bought"] = 1
            out += [Increment(Key(CAMPAIGN, "-", ref), add),
                    Increment(Key(CAMPAIGN_CHANNEL, ref, channel), {"paid_orders": 1, "gmv": fact.amount})]
        elif fact.kind == REFUND:
            out.append(Increment(Key(CAMPAIGN, "-", ref), {"refunds": fact.amount}))
        elif fact.kind == MILESTONE:
            add = {fact.figure: 1}
            if fact.figure in STARTS:
                add["participants"] = int(bool(firsts.get(ref)))
                out.append(Increment(Key(CAMPAIGN_RECORD, ref, f"instance#{fact.subject}"), {"orders": 1}))
            out.append(Increment(Key(CAMPAIGN, "-", ref), add))
    return out


def guide_customer_key(distributor_id: str, customer_id: str) -> Key:
    """The counter of one customer's orders through one guide."""
    return Key(GUIDE_CUSTOMER, "ALL", f"{distributor_id}#{customer_id}")


def completes_refund(payload: dict) -> bool:
    """Whether the refund an `order.refunded` payload reports is the one that brought the
    order's refunds up to its payment (exactly one refund of an order does)."""
    total, payable, amount = (int(payload.get(k) or 0) for k in ("refunded_total", "order_payable", "amount"))
    return payable > 0 and total >= payable > total - amount


def top_up_fact(event_id: str, user_id: str, amount: int, paid_at: str) -> Fact:
    """A stored-value top-up paid (members): `top_ups`, never `gmv`."""
    return Fact(event_id=event_id, kind=TOP_UP, at=paid_at, user_id=user_id, amount=amount)


def share_fact(event_id: str, distributor_id: str, at: str) -> Fact:
    """A guide made a share: `user_id` is the guide."""
    return Fact(event_id=event_id, kind=SHARE, at=at, user_id=distributor_id, amount=0,
                distributor_id=distributor_id)


def visit_fact(event_id: str, distributor_id: str, visitor_id: str, at: str) -> Fact:
    """Someone opened a guide's share: `user_id` is the visitor."""
    return Fact(event_id=event_id, kind=VISIT, at=at, user_id=visitor_id, amount=0,
                distributor_id=distributor_id)


def channel_visit_fact(event_id: str, channel: str, visitor_id: str, at: str) -> Fact:
    """The mini-program opened through `channel`: `user_id` is the visitor."""
    return Fact(event_id=event_id, kind=CHANNEL_VISIT, at=at, user_id=visitor_id, amount=0, channel=channel)


def channel_periods(fact: Fact) -> dict[str, str]:
    """The periods a channel's counters keep: {"day", "month"}."""
    return {"day": fact.day, "month": fact.month}


def distributor_periods(fact: Fact) -> dict[str, str]:
    """The periods a guide's counters keep: {"day", "week", "month", "ever": "ALL"}."""
    return {"day": fact.day, "week": fact.week, "month": fact.month, "ever": "ALL"}


def visitor_follows(name: str, firsts: dict[str, bool]) -> bool | None:
    """Whether a visit is NOT the visitor's first of the guide in period `name`, when the
    smaller periods already settle it: not the first of the day is the first of no week,
    month or ever; not the first of the week or month is not the first ever."""
    if name in ("week", "month") and firsts.get("day") is False:
        return True
    if name == "ever" and (firsts.get("day") is False or firsts.get("week") is False
                           or firsts.get("month") is False):
        return True
    return None


# -- buyers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Positions:
    """Where this order stands among its buyer's orders: in its month (1, 2, or 3 for
    "third or later"), its day and ever (1, or 2 for "not the first")."""

    day: int
    month: int
    ever: int


def buyer_periods(fact: Fact) -> dict[str, str]:
    """The per-buyer counters a sale moves: {"day": <day>, "month": <month>, "ever": "ALL"}."""
    return {"day": fact.day, "month": fact.month, "ever": "ALL"}


# How many slots each per-buyer counter keeps: the first order of the day makes a buyer,
# the first ever a new buyer, the second of the month a repeat buyer.
SLOTS = {"day": 1, "month": 2, "ever": 1}


def ever_follows(month_position: int) -> int | None:
    """Not the buyer's first order of the month: not the first ever either (no need to ask)."""
    return 2 if month_position > 1 else None


# -- increments -------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    kind: str
    period: str  # a day, a month, or "-"
    subject: str = "-"  # a product, distributor, coupon template or promotion


@dataclass
class Increment:
    key: Key
    add: dict[str, int]
    labels: dict[str, str] = field(default_factory=dict)


def channel_increments(fact: Fact, firsts: dict[str, bool] | None) -> list[Increment]:
    """What a channel visit or a sale through a channel adds to the channel's day and
    month. `firsts`: {"day": bool, "month": bool}, whether this is the visitor's (the
    buyer's) first visit (order) through the channel in that period. The month also adds
    up the day's distinct ones (`visitor_days`, `buyer_days`)."""
    if not fact.channel:
        return []
    if firsts is None:
        raise ValueError("a channel's visit or sale needs its firsts")
    day, month = int(bool(firsts.get("day"))), int(bool(firsts.get("month")))
    periods = channel_periods(fact)
    if fact.kind == CHANNEL_VISIT:
        return [Increment(Key(CHANNEL, periods["day"], fact.channel), {"visitors": day}),
                Increment(Key(CHANNEL, periods["month"], fact.channel), {"visitors": month, "visitor_days": day})]
    sale = {"orders": 1, "gmv": fact.amount}
    return [Increment(Key(CHANNEL, periods["day"], fact.channel), {**sale, "buyers": day}),
            Increment(Key(CHANNEL, periods["month"], fact.channel), {**sale, "buyers": month, "buyer_days": day})]


def increments(fact: Fact, positions: Positions | dict[str, bool] | None = None,
               channel_firsts: dict[str, bool] | None = None) -> list[Increment]:
    """The counters one fact moves. A sale needs its buyer's positions; a visit, which of
    its periods it is the visitor's first visit of the guide in ({"day": True, ...}); a
    channel visit, and a sale through a channel, which of the channel's periods it is the
    visitor's or buyer's first in (`channel_firsts`, {"day": True, "month": False})."""
    if fact.kind == CHANNEL_VISIT:
        return channel_increments(fact, channel_firsts if channel_firsts is not None else positions)
    if fact.kind in (PLACED, MILESTONE):
        return campaign_increments(fact, positions)
    if fact.kind in (SHARE, VISIT):
        if not fact.distributor_id:
            raise ValueError(f"a {fact.kind} names its guide")
        if fact.kind == SHARE:
            return [Increment(Key(DISTRIBUTOR, period, fact.distributor_id), {"shares": 1})
                    for period in distributor_periods(fact).values()]
        if not isinstance(positions, dict):
            raise ValueError("a visit needs its visitor's firsts")
        return [Increment(Key(DISTRIBUTOR, period, fact.distributor_id),
                          {"visits": 1, "visitors": int(bool(positions.get(name)))})
                for name, period in distributor_periods(fact).items()]
    if fact.kind == SALE:
        if positions is None:
            raise ValueError("a sale needs its buyer positions")
        out = [Increment(Key(DAY, fact.day), {
            "gmv": fact.amount, "orders": 1, "buyers": int(positions.day == 1),
            "new_buyers": int(positions.ever == 1), "repeat_buyers": int(positions.month == 2)})]
        for line in fact.lines:
            for period in (fact.day, fact.month):
                out.append(Increment(Key(PRODUCT, period, line.product_id),
                                     {"quantity": line.quantity, "gmv": line.gmv}, {"title": line.title}))
        if fact.distributor_id:
            out += [Increment(Key(DISTRIBUTOR, period, fact.distributor_id),
                              {"sales_amount": fact.amount, "orders": 1, "commission": fact.commission})
                    for period in distributor_periods(fact).values()]
        if fact.coupon_template_id:
            out.append(Increment(Key(COUPON, "-", fact.coupon_template_id),
                                 {"used": 1, "discount": fact.discount, "gmv": fact.amount}))
        out += [Increment(Key(PROMOTION, "-", share.promotion_id),
                          {"orders": 1, "discount": share.discount, "gmv": share.gmv}) for share in fact.promotions]
        out += [Increment(Key(SALES, "ALL", line.product_id), {"quantity": line.quantity}) for line in fact.lines]
        if fact.distributor_id:
            out.append(Increment(guide_customer_key(fact.distributor_id, fact.user_id),
                                 {"orders": 1, "spent": fact.goods}))
        out += channel_increments(fact, channel_firsts)
        out += store_increments(fact)
        return out + campaign_increments(fact, positions)
    if fact.kind == REFUND:
        out = [Increment(Key(DAY, fact.day), {"refunds": fact.amount, "refund_count": 1})]
        if fact.paid_at:
            out.append(Increment(Key(DAY, day_of(fact.paid_at)), {"paid_refunds": fact.amount}))
        out += [Increment(Key(SALES, "ALL", line.product_id), {"quantity": -line.quantity}) for line in fact.lines]
        if fact.distributor_id and fact.goods:
            out.append(Increment(guide_customer_key(fact.distributor_id, fact.user_id), {"spent": -fact.goods}))
        return out + campaign_increments(fact)
    if fact.kind == TOP_UP:
        return [Increment(Key(DAY, fact.day), {"top_ups": fact.amount, "top_up_count": 1})]
    raise ValueError(f"unknown fact kind {fact.kind!r}")


def merge(batch: Iterable[Increment]) -> dict[Key, Increment]:
    """One increment per counter: what a whole batch adds to it."""
    merged: dict[Key, Increment] = {}
    for inc in batch:
        have = merged.get(inc.key)
        if have is None:
            merged[inc.key] = Increment(inc.key, dict(inc.add), dict(inc.labels))
            continue
        for name, value in inc.add.items():
            have.add[name] = have.add.get(name, 0) + value
        have.labels.update({k: v for k, v in inc.labels.items() if v})
    return merged


@dataclass(frozen=True)
class Chunk:
    """One transaction: these facts' markers and what they add, merged per counter."""

    facts: tuple[Fact, ...]
    increments: tuple[Increment, ...]


def chunks(planned: list[tuple[Fact, list[Increment]]], max_items: int = 100) -> list[Chunk]:
    """Group facts into transactions of at most `max_items` items (one marker per fact,
    one update per distinct counter), in order."""
    out: list[Chunk] = []
    facts: list[Fact] = []
    pending: list[Increment] = []
    keys: set[Key] = set()
    for fact, incs in planned:
        new_keys = {i.key for i in incs} - keys
        if facts and len(facts) + 1 + len(keys) + len(new_keys) > max_items:
            out.append(Chunk(tuple(facts), tuple(merge(pending).values())))
            facts, pending, keys = [], [], set()
            new_keys = {i.key for i in incs}
        if 1 + len(new_keys) > max_items:
            raise ValueError(f"{fact.event_id} alone moves more than {max_items - 1} counters")
        facts.append(fact)
        pending.extend(incs)
        keys |= new_keys
    if facts:
        out.append(Chunk(tuple(facts), tuple(merge(pending).values())))
    return out


# -- what the operators see -------------------------------------------------------------

def daily_row(day: str, counters: dict | None, visitors: int | None = None) -> dict:
    c = counters or {}
    gmv, orders, buyers = int(c.get("gmv", 0)), int(c.get("orders", 0)), int(c.get("buyers", 0))
    refunds = int(c.get("refunds", 0))
    return {"date": day, "gmv": gmv, "orders": orders, "buyers": buyers,
            "new_buyers": int(c.get("new_buyers", 0)), "repeat_buyers": int(c.get("repeat_buyers", 0)),
            "refunds": refunds, "net": gmv - refunds, "aov": gmv // orders if orders else 0,
            "top_ups": int(c.get("top_ups", 0)),
            # Conversion: the day's buyers over WeChat's visitors (None until the daily job fetched them).
            "visitors": visitors, "conversion": round(buyers / visitors, 4) if visitors else None}


GUIDE_SALES = ("sales_amount", "orders", "commission")
GUIDE_REACH = ("shares", "visits", "visitors")


def reach(counters: dict | None) -> dict[str, int]:
    """A guide's shares, visits (opened shares) and distinct visitors in a period."""
    c = counters or {}
    return {name: int(c.get(name, 0)) for name in GUIDE_REACH}


def guide_figures(counters: dict | None) -> dict[str, int]:
    c = counters or {}
    return {**{name: int(c.get(name, 0)) for name in GUIDE_SALES}, **reach(c)}


EXPORT_COLUMNS = ("distributor_id", "from", "to", "sales_amount", "orders", "commission", "shares", "visits",
                  "visitors")


def export_lines(first: str, last: str, totals: dict[str, dict[str, int]],
                 visitors: dict[str, int] | None, per: int = 500):
    """The period export as CSV text, `per` rows at a time, highest sales first (then by
    id). `visitors` None: the period is no single day, week or month, the cell is empty."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    rows = sorted(totals.items(), key=lambda kv: (-kv[1].get("sales_amount", 0), kv[0]))
    for n, (did, t) in enumerate(rows, start=1):
        writer.writerow([did, first, last, *(t.get(k, 0) for k in GUIDE_SALES), t.get("shares", 0),
                         t.get("visits", 0), "" if visitors is None else visitors.get(did, 0)])
        if n % per == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


CHANNEL_FIGURES = ("visitors", "orders", "buyers", "gmv")


def channel_totals(found: dict[str, list[dict]]) -> list[dict]:
    """`GET /admin/analytics/channels`: {period: the CHANNEL counters of that period} for
    the periods a range of days was read as (whole months and single days), summed per
    channel, highest gmv first (then by channel). One period alone (one day, one calendar
    month): its distinct visitors and buyers. Several: the sums of each day's distinct
    counts (visitor-days, buyer-days: a month gives its `visitor_days`, `buyer_days`)."""
    single = len(found) == 1
    totals: dict[str, dict] = {}
    for period, counters in found.items():
        month = len(period) == 7
        for c in counters:
            channel = c.get("subject")
            if not channel:
                continue
            have = totals.setdefault(channel, {"channel": channel, **dict.fromkeys(CHANNEL_FIGURES, 0)})
            have["orders"] += int(c.get("orders", 0))
            have["gmv"] += int(c.get("gmv", 0))
            summed = month and not single
            have["visitors"] += int(c.get("visitor_days" if summed else "visitors", 0))
            have["buyers"] += int(c.get("buyer_days" if summed else "buyers", 0))
    return sorted(totals.values(), key=lambda t: (-t["gmv"], t["channel"]))


# -- the nightly recount ----------------------------------------------------------------

RECOUNTED = ("gmv", "orders", "buyers", "paid_refunds")


def recount(orders: Iterable) -> dict[str, int]:
    """The day's figures from the orders paid that day (as the aggregates count them)."""
    gmv = count = refunded = 0
    buyers: set[str] = set()
    for order in orders:
        if not counts_as_sale(order):
            continue
        gmv += order.paid
        count += 1
        refunded += int(order.refunded_amount or 0)
        buyers.add(order.user_id)
    return {"gmv": gmv, "orders": count, "buyers": len(buyers), "paid_refunds": refunded}


def recount_channels(orders: Iterable) -> dict[str, dict[str, int]]:
    """{channel: orders, gmv, buyers} of the day from the orders paid that day (those with
    a channel), as the CHANNEL day counters count them."""
    out: dict[str, dict[str, int]] = {}
    buyers: dict[str, set[str]] = {}
    for order in orders:
        channel = getattr(order, "channel", None)
        if not channel or not counts_as_sale(order):
            continue
        have = out.setdefault(channel, {"orders": 0, "gmv": 0, "buyers": 0})
        have["orders"] += 1
        have["gmv"] += order.paid
        buyers.setdefault(channel, set()).add(order.user_id)
        have["buyers"] = len(buyers[channel])
    return out


def channel_differences(recounted: dict[str, dict[str, int]], counters: list[dict]) -> dict[str, dict]:
    """{channel: {field: {"recount", "aggregate"}}} for every channel figure that differs."""
    have = {c.get("subject"): c for c in counters}
    out: dict[str, dict] = {}
    for channel in sorted(set(recounted) | {k for k, c in have.items() if k and int(c.get("orders", 0))}):
        mine, theirs = recounted.get(channel, {}), have.get(channel, {})
        diff = {name: {"recount": int(mine.get(name, 0)), "aggregate": int(theirs.get(name, 0))}
                for name in ("orders", "gmv", "buyers") if int(mine.get(name, 0)) != int(theirs.get(name, 0))}
        if diff:
            out[channel] = diff
    return out


def differences(recounted: dict[str, int], counters: dict | None) -> dict[str, dict[str, int]]:
    """{field: {"recount", "aggregate"}} for every figure that differs."""
    c = counters or {}
    return {name: {"recount": recounted[name], "aggregate": int(c.get(name, 0))}
            for name in RECOUNTED if recounted[name] != int(c.get(name, 0))}


def parse_campaign_kind(kind: str) -> str:
    if kind not in CAMPAIGN_KINDS:
        raise errors.InvalidRequest(f"kind is one of {', '.join(CAMPAIGN_KINDS)}")
    return kind


def review(kind: str, counters: dict | None, channels: list[dict]) -> dict:
    """A campaign's review from its CAMPAIGN counter and its CAMPAIGN_CHANNEL counters
    (largest gmv first; the orders with no channel under `"channel": null`)."""
    c = counters or {}
    out = {"participants": int(c.get("participants", 0)),
           **{name: int(c.get(name, 0)) for name in ORDER_FIGURES},
           **{name: int(c.get(name, 0)) for name in OWN_FIGURES.get(kind, ())}}
    rows = [{"channel": None if ch["subject"] == NO_CHANNEL else ch["subject"],
             **{name: int(ch.get(name, 0)) for name in REVIEW_CHANNEL_FIGURES}} for ch in channels]
    out["by_channel"] = sorted(rows, key=lambda r: (-r["gmv"], -r["orders"], r["channel"] or ""))
    return out


def recount_review(kind: str, orders: Iterable, first_orders: set[str], groups: Iterable = (),
                   instances: Iterable = ()) -> dict:
    """A campaign's review again from its records: its orders (as placed, each once),
    `first_orders` (the order ids that are their buyer's first paid order ever, the buyer
    slots), its groups (a group buy) or its instances (a bargain, an assistance campaign).
    The same definitions as `campaign_increments`."""
    out = dict.fromkeys(("participants", *ORDER_FIGURES, *OWN_FIGURES.get(kind, ())), 0)
    channels: dict[str | None, dict] = {}
    shoppers: set[str] = set()
    for order in orders:
        out["orders"] += 1
        shoppers.add(order.user_id)
        row = channels.setdefault(order.channel, {"channel": order.channel, **dict.fromkeys(REVIEW_CHANNEL_FIGURES, 0)})
        row["orders"] += 1
        if counts_as_sale(order):
            out["paid_orders"] += 1
            out["gmv"] += order.paid
            out["refunds"] += int(order.refunded_amount or 0)
            out["new_customers"] += int(order.order_id in first_orders)
            row["paid_orders"] += 1
            row["gmv"] += order.paid
            if kind == "bargain":
                out["bargains_bought"] += 1
    if kind in JOINED_BY_ORDER:
        out["participants"] = len(shoppers)
    for group in groups:
        opened = group.expires_at is not None  # set by the leader's payment, which opens it
        out["groups_opened"] += int(opened)
        out["groups_succeeded"] += int(str(group.status) == "SUCCEEDED")
        out["groups_failed"] += int(opened and str(group.status) == "FAILED")
    starters: set[str] = set()
    for instance in instances:
        starters.add(instance.user_id)
        if kind == "bargain":
            out["bargains_started"] += 1
            out["bargains_succeeded"] += int(instance.succeeded_at is not None)
        elif kind == "assist":
            out["rewards_given"] += int(str(instance.reward_status) == "ISSUED")
    if kind in ("bargain", "assist"):
        out["participants"] = len(starters)
    out["by_channel"] = sorted(channels.values(), key=lambda r: (-r["gmv"], -r["orders"], r["channel"] or ""))
    return out


def review_differences(recounted: dict, counted: dict) -> dict[str, dict]:
    """{figure: {"recount", "aggregate"}} for every figure of a review that differs
    (`by_channel` compared as a whole, order apart)."""
    out = {name: {"recount": value, "aggregate": counted.get(name, 0)}
           for name, value in recounted.items() if name != "by_channel" and value != counted.get(name, 0)}

    def channels(review_: dict) -> dict:
        return {r["channel"]: tuple(r[n] for n in REVIEW_CHANNEL_FIGURES) for r in review_.get("by_channel", ())
                if any(r[n] for n in REVIEW_CHANNEL_FIGURES)}

    if channels(recounted) != channels(counted):
        out["by_channel"] = {"recount": recounted["by_channel"], "aggregate": counted.get("by_channel", [])}
    return out


# -- collaborators ----------------------------------------------------------------------

class AnalyticsRepository(Protocol):
    def buyer_position(self, user_id: str, period: str, order_id: str, most: int = 2) -> int:
        """The order's place among the buyer's first `most` orders in `period` (most + 1:
        later); recording it is idempotent: the same order asks again, the same answer."""

    def visitor_first(self, distributor_id: str, visitor_id: str, period: str, event_id: str) -> bool:
        """Whether the visit `event_id` is the visitor's first of the guide in `period`;
        idempotent as `buyer_position`: the visit that took the slot is told True again."""

    def channel_first(self, channel: str, role: str, who: str, period: str, holder: str) -> bool:
        """Whether `holder` (a visit's event id, an order id) is the first of `who` (a
        visitor: role "visitor"; a buyer: "buyer") through `channel` in `period`;
        idempotent as `visitor_first`."""

    def distributors(self, distributor_ids: list[str], period: str) -> dict[str, dict]:
        """{guide: their DISTRIBUTOR counters of `period`} for the guides that have any."""

    def stage_counted(self, tx, event_id: str, on_counted) -> None:
        """The event's marker; the commit fails with `on_counted(event_id)` if it exists."""

    def stage_increment(self, tx, inc: Increment) -> None: ...

    def days(self, days: list[str]) -> dict[str, dict]:
        """{day: counters (visitors included)} for the days that have any."""

    def set_visitors(self, day: str, visitors: int) -> None: ...

    def ranking(self, kind: str, period: str, limit: int) -> list[dict]:
        """The counters of `kind` in `period`, the highest `RANKED_BY[kind]` first."""

    def coupons(self) -> list[dict]: ...

    def promotions(self, promotion_ids: list[str]) -> dict[str, dict]:
        """{promotion id: its counters} for the promotions that have any."""

    def paid_orders(self, day: str) -> list:
        """The orders paid on `day` (Asia/Shanghai), from the paid-date index."""

    def participant_first(self, ref: str, user_id: str, event_id: str) -> bool:
        """Whether the event makes its shopper a participant of the campaign `ref` (the
        first to take the slot (campaign, shopper)); idempotent as `visitor_first`."""

    def campaign(self, ref: str) -> tuple[dict | None, list[dict]]:
        """The campaign's CAMPAIGN counter (None: nothing counted) and its CAMPAIGN_CHANNEL
        counters."""

    def campaign_records(self, ref: str) -> dict[str, list[str]]:
        """{"order": [order ids], "instance": [instance ids]} the campaign's review counted."""

    def first_orders(self, user_ids: list[str]) -> dict[str, str]:
        """{buyer: the order id that took their "ever" buyer slot} (their first paid order)."""


class VisitsNotReady(Exception):
    """WeChat has not made the day's figures yet (an empty list): ask again later."""


class VisitStats(Protocol):
    def daily_visitors(self, day: str) -> int:
        """WeChat's unique visitors (`visit_uv`) of the mini-program on `day`;
        VisitsNotReady while WeChat has no figures for it."""
