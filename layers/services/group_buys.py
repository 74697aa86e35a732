"""拼团: operators create group buys; a shopper opens a group with an order at the group
price and leads it; friends join with orders of their own; the group succeeds when
`group_size` members have paid, or fails at its expiry and every paid member is
refunded in full, automatically and once.

The rules are `layers/domain/group_buy.py`. Seats are taken and given back by the
order's own transactions: an order holds its seat as a reservation of kind "group"
(`GroupReservation` below), so the placement transaction takes the seat (conditioned
on the group being OPEN, unexpired and not full, the shopper not in it yet) with a
unit of the activity's stock, and the transaction that closes the order unpaid gives
them back. A payment reaches the group through `order.paid` (`on_order_paid`): counted
once, on the member item's `paid` flag and the group's version in one transaction.
Expiry is a delayed message per group on the events queue (`ExpiryTimer`, as bargains
use: no extra AWS resource, the same consumer, at most 15 minutes a hop) and the
`expire-groups` sweep over a sparse index for whatever a message missed.
"""

from __future__ import annotations

from layers.clock import iso, parse_iso
from layers.domain import campaign_events, errors
from layers.domain import group_buy as rules
from layers.domain.group_buy import Group, GroupBuy, Member
from layers.domain.order import order_id_for, request_hash
from layers.domain.pricing import Line
from layers.observability import logger
from layers.services.outbox import CampaignStepEvents

ATTEMPTS = 10
REFUND_REASON = "拼团未成功，自动退款"


class _Stale(Exception):
    """The group (or the member) moved since it was read."""


def group_buy_view(g: GroupBuy, remaining: int | None = None) -> dict:
    body = {"id": g.group_buy_id, "sku_id": g.sku_id, "product_id": g.product_id, "title": g.title,
            "price": g.price, "group_size": g.group_size, "group_ttl_s": g.group_ttl_s, "starts_at": g.starts_at,
            "ends_at": g.ends_at, "stock": g.stock, "per_user_limit": g.per_user_limit,
            "success_min_paid": g.success_min_paid, "created_at": g.created_at,
            "stopped_at": g.stopped_at}
    if remaining is not None:
        body["remaining"] = remaining
    return body


def group_reservation_of(order) -> dict | None:
    for r in order.reservations:
        if r.get("kind") == "group":
            return r
    return None


class GroupBuyService(CampaignStepEvents):
    def __init__(self, *, group_buys, groups, orders, refunds, catalog, timer, clock, new_tx, outbox=None,
                 publisher=None):
        """`orders`: the order service (get, replay, create_order); `refunds`: the refund
        service (refund_in_full); `catalog`: anything with `get_skus(ids)`; `timer`:
        schedules each group's exact-time expiry; `outbox` and `publisher`: a group's
        opened / succeeded / failed events (its campaign review)."""
        self.outbox = outbox
        self.publisher = publisher
        self.group_buys = group_buys
        self.groups = groups
        self.orders = orders
        self.refunds = refunds
        self.catalog = catalog
        self.timer = timer
        self.clock = clock
        self.new_tx = new_tx

    # -- views ------------------------------------------------------------------------------

    def view(self, group: Group) -> dict:
        members = self.groups.members(group.group_id)
        return {"id": group.group_id, "group_buy_id": group.group_buy_id, "status": str(group.status),
                "group_size": group.group_size, "paid_count": group.paid_count, "seats_left": group.seats_left,
                "expires_at": group.expires_at, "leader_id": group.leader_id, "created_at": group.created_at,
                "members": [{"user_id": m.user_id, "leader": m.leader, "paid": m.paid} for m in members]}

    def get_group(self, group_id: str) -> dict:
        return self.view(self._group(group_id))

    def _group(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            raise errors.NotFound("no such group")
        return group

    def _group_buy(self, group_buy_id: str) -> GroupBuy:
        group_buy = self.group_buys.get(group_buy_id)
        if group_buy is None:
            raise errors.NotFound("no such group buy")
        return group_buy

    # -- operators --------------------------------------------------------------------------

    def create_group_buy(self, body) -> dict:
        """`body`: the route's GroupBuyInput (validated there)."""
        sku = self.catalog.get_skus([body.sku_id]).get(body.sku_id)
        if sku is None or not sku.active:
            raise errors.NotFound("no such sku")
        rules.check_activity(body.group_size, body.success_min_paid)
        group_buy = GroupBuy(
            group_buy_id=rules.new_group_buy_id(), sku_id=sku.sku_id, product_id=sku.product_id, title=sku.title,
            category=sku.category, price=body.price, group_size=body.group_size, group_ttl_s=body.group_ttl_s,
            starts_at=iso(body.starts_at), ends_at=iso(body.ends_at), stock=body.stock,
            per_user_limit=body.per_user_limit, created_at=iso(self.clock.now()),
            success_min_paid=body.success_min_paid, commission=sku.commission)
        tx = self.new_tx()
        self.group_buys.stage_create(tx, group_buy, on_exists=None)
        tx.commit()
        return group_buy_view(group_buy, group_buy.stock)

    def get_group_buy(self, group_buy_id: str) -> dict:
        return group_buy_view(self._group_buy(group_buy_id), self.group_buys.remaining(group_buy_id))

    # -- the console --
    def stop_group_buy(self, group_buy_id: str) -> dict:
        """No group opens in the activity any more (groups already open fill until they
        expire). Stopping a stopped activity changes nothing."""
        from layers.services.campaign_stop import stop_campaign

        group_buy = stop_campaign(lambda: self._group_buy(group_buy_id), rules.stop,
                                  lambda tx, at, on_stopped: self.group_buys.stage_stop(tx, group_buy_id, at,
                                                                                         on_stopped=on_stopped),
                                  self.new_tx, iso(self.clock.now()), "group buy")
        return group_buy_view(group_buy, self.group_buys.remaining(group_buy_id))

    def list_group_buys(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """Every activity, newest first, with its remaining stock."""
        items, next_cursor = self.group_buys.list_group_buys(limit, cursor)
        return [group_buy_view(g, remaining) for g, remaining in items], next_cursor

    def list_groups(self, group_buy_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """The activity's groups, newest first, whatever their status (PENDING: leader not
        paid; OPEN; SUCCEEDED; FAILED): each with its seats taken (paid or held by an unpaid
        order) of `group_size`, and its expiry."""
        self._group_buy(group_buy_id)  # 404 for no such activity
        groups, next_cursor = self.groups.list_groups(group_buy_id, limit, cursor)
        return [{"id": g.group_id, "group_buy_id": g.group_buy_id, "status": str(g.status),
                 "leader_id": g.leader_id, "group_size": g.group_size, "seats_taken": g.seats_taken,
                 "seats_left": g.seats_left, "paid_count": g.paid_count, "expires_at": g.expires_at,
                 "created_at": g.created_at} for g in groups], next_cursor

    # -- shoppers: opening and joining --------------------------------------------------------

    def open(self, user_id: str, group_buy_id: str, body, idempotency_key: str | None) -> dict:
        """`body`: the route's GroupOrderInput. The caller's order opens a PENDING group."""
        raw = {"group_buy_id": group_buy_id, **body.model_dump(mode="json")}
        digest = request_hash(raw)
        order_id = order_id_for(user_id, f"group-open:{group_buy_id}", idempotency_key)
        existing = self._existing(order_id, idempotency_key)
        if existing is not None:
            return self.orders.replay(existing, digest)
        group_buy = self._group_buy(group_buy_id)
        rules.check_window(group_buy, self.clock.now())
        if self.group_buys.remaining(group_buy_id) < 1:
            raise errors.SoldOut("this group buy is sold out")
        group_id = rules.new_group_id()
        return self._order(user_id, order_id, group_buy, group_id, True, raw, body, digest, idempotency_key,
                           expires_by=group_buy.ends_at)

    def join(self, user_id: str, group_id: str, body, idempotency_key: str | None) -> dict:
        raw = {"group_id": group_id, **body.model_dump(mode="json")}
        digest = request_hash(raw)
        order_id = order_id_for(user_id, f"group:{group_id}", idempotency_key)
        existing = self._existing(order_id, idempotency_key)
        if existing is not None:
            return self.orders.replay(existing, digest)
        group = self._group(group_id)
        rules.check_joinable(group, self.groups.member(group_id, user_id), self.clock.now())
        group_buy = self._group_buy(group.group_buy_id)
        return self._order(user_id, order_id, group_buy, group_id, False, raw, body, digest, idempotency_key,
                           expires_by=rules.order_expiry_cap(group, group_buy))

    def _existing(self, order_id: str, idempotency_key: str | None):
        if idempotency_key is None:
            return None
        return self.orders.get(order_id, consistent=True)

    def _order(self, user_id, order_id, group_buy: GroupBuy, group_id, leader, raw, body, digest, key,
               expires_by) -> dict:
        line = Line(sku_id=group_buy.sku_id, product_id=group_buy.product_id, title=group_buy.title,
                    category=group_buy.category, quantity=1, unit_price=group_buy.price)
        answer = self.orders.create_order(
            user_id=user_id, order_id=order_id, lines=[line],
            reservations_=[rules.reservation(group_buy, group_id, user_id, order_id, leader)],
            coupon_id=None, address=raw.get("address"), address_id=raw.get("address_id"), delivery=raw.get("delivery"),
            share_token=body.share_token,
            channel=body.channel, scene=body.scene, digest=digest,
            idempotency_key=key, kind="group", commissions={group_buy.sku_id: group_buy.commission},
            expires_by=expires_by, pay_with=getattr(body, "pay_with", "wechat"),
            points=getattr(body, "points", None) or 0)
        logger.info("group order placed", extra={"group_id": group_id, "order_id": order_id, "leader": leader})
        return answer

    # -- payments ------------------------------------------------------------------------------

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`: a group order's payment counted once; the last seat's makes the
        group SUCCEEDED; one whose group has FAILED is refunded in full."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None or order.kind != "group" or not order.paid_at:
            return  # not a group order, or not paid (an event is only ever sent once it is)
        r = group_reservation_of(order)
        if r is None:
            return
        group_id, user_id = r["group_id"], r["user_id"]
        paid_at = parse_iso(order.paid_at or iso(self.clock.now()))
        for _ in range(ATTEMPTS):
            group = self.groups.get(group_id)
            member = self.groups.member(group_id, user_id)
            if group is None or member is None or member.order_id != order.order_id:
                # Its seat is gone (given back when the order closed or was refunded): refund.
                self._refund(order.order_id, group_id, "seat released")
                return
            if member.paid:
                return  # counted already (a duplicate event)
            after = rules.count_payment(group, paid_at)
            if after is None:
                self._refund(order.order_id, group_id, "group failed")
                return
            tx = self.new_tx()
            self.groups.stage_change(tx, group, after, on_stale=_Stale)
            self.groups.stage_paid(tx, group_id, user_id, order.order_id, on_stale=_Stale)
            now = iso(self.clock.now())
            events = campaign_events.group_events(group, after, order.paid_at or now)
            self._stage_events(tx, events, now)
            try:
                tx.commit()
            except _Stale:
                continue  # a join, another payment or the expiry landed first: decide again
            self._publish(events, now)
            logger.info("group payment counted", extra={"group_id": group_id, "order_id": order.order_id,
                                                        "paid_count": after.paid_count, "status": str(after.status)})
            if group.status == rules.PENDING and after.status == rules.OPEN:
                self.timer.schedule(group_id, after.expires_at)
            return
        raise errors.RateLimited("this group is busy; try again in a moment")

    def _refund(self, order_id: str, group_id: str, why: str) -> None:
        logger.warning("group order refunded in full", extra={"order_id": order_id, "group_id": group_id,
                                                              "why": why})
        self.refunds.refund_in_full(order_id, REFUND_REASON)

    # -- expiry ---------------------------------------------------------------------------------

    def _move(self, group_id: str, decide) -> Group | None:
        for _ in range(ATTEMPTS):
            group = self.groups.get(group_id)
            if group is None:
                return None
            after = decide(group)
            if after is None:
                return group
            tx = self.new_tx()
            self.groups.stage_change(tx, group, after, on_stale=_Stale)
            now = iso(self.clock.now())
            events = campaign_events.group_events(group, after, after.ended_at or now)
            self._stage_events(tx, events, now)
            try:
                tx.commit()
            except _Stale:
                continue
            self._publish(events, now)
            return after
        raise errors.RateLimited("this group is busy; try again in a moment")

    def expire_one(self, group_id: str) -> Group | None:
        """Expire the group if its time has come; refund every paid member of a FAILED one
        (each once: the refund's id is derived from its order), then mark it done."""
        group = self._move(group_id, lambda g: rules.expire(g, self.clock.now()))
        if group is None or group.status != rules.FAILED or group.refunds_done:
            return group
        for member in self.groups.members(group_id):
            if member.paid:
                self._refund(member.order_id, group_id, "group failed")
        return self._move(group_id, rules.refunds_asked)

    def expire_due(self, limit: int = 500) -> dict:
        """The expire-groups job: whatever the delayed messages missed, and refunds of
        failed groups still to ask for."""
        counts = {"groups_succeeded": 0, "groups_failed": 0, "skipped": 0}
        for candidate in self.groups.due(iso(self.clock.now()), limit):
            try:
                group = self.expire_one(candidate.group_id)
            except (errors.RateLimited, errors.UpstreamUnavailable):
                counts["skipped"] += 1
                continue
            if group is not None and candidate.status == rules.OPEN and group.status == rules.SUCCEEDED:
                counts["groups_succeeded"] += 1
            elif group is not None and group.status == rules.FAILED:
                counts["groups_failed"] += 1
        return counts

    def on_expiry_due(self, event_id: str, payload: dict) -> None:
        if self.timer.due(payload):
            self.expire_one(payload["instance_id"])

    # -- shipping -------------------------------------------------------------------------------

    def check_shippable(self, order) -> None:
        """409 INVALID_STATE for a group order whose group has not SUCCEEDED."""
        if order.kind != "group":
            return
        r = group_reservation_of(order)
        rules.shippable(self.groups.get(r["group_id"]) if r else None)


class GroupReservation:
    """The order's reservation handler of kind "group": a seat in the group (the leader's
    opens it) and a unit of the activity's stock, taken in the order's placement
    transaction and given back in the one that closes it unpaid (or refunds it in full
    before shipping, while the group is still open)."""

    def __init__(self, *, group_buys, groups, clock):
        self.group_buys = group_buys
        self.groups = groups
        self.clock = clock

    def stage_take(self, tx, reservation: dict) -> None:
        group_buy = self.group_buys.get(reservation["group_buy_id"])
        if group_buy is None:
            raise errors.NotFound("no such group buy")
        now = iso(self.clock.now())
        group_id, user_id, order_id = reservation["group_id"], reservation["user_id"], reservation["order_id"]
        if reservation.get("leader"):
            group, leader = rules.open_group(group_buy, group_id, user_id, order_id, now)
            self.groups.stage_open(tx, group, leader, on_exists=lambda: rules.GroupUnavailable(
                "this group has already ended; it cannot be opened again"))
        else:
            member = Member(group_id, user_id, order_id, leader=False, joined_at=now)
            self.groups.stage_join(
                tx, group_id, member, now,
                on_unavailable=lambda: rules.refusal(self.groups.get(group_id), None, self.clock.now()),
                on_joined=lambda: rules.AlreadyJoined("you are already in this group"))
        limit = group_buy.per_user_limit
        opening = bool(reservation.get("leader"))
        self.group_buys.stage_take(
            tx, group_buy.group_buy_id, user_id, limit,
            on_empty=lambda: self._not_taken(group_buy.group_buy_id, opening),
            on_limit=lambda: errors.LimitExceeded(f"at most {limit} orders of this group buy per shopper"),
            opening=opening)

    def _not_taken(self, group_buy_id: str, opening: bool) -> errors.DomainError:
        """Why the activity's unit was refused: stopped meanwhile (for an opening), else sold out."""
        now = self.group_buys.get(group_buy_id)
        if opening and now is not None and now.stopped_at is not None:
            return errors.Ended("this group buy was stopped")
        return errors.SoldOut("this group buy is sold out")

    def stage_release(self, tx, reservation: dict) -> None:
        self.group_buys.stage_give_back(tx, reservation["group_buy_id"], reservation["user_id"])
        group_id, user_id, order_id = reservation["group_id"], reservation["user_id"], reservation["order_id"]
        group = self.groups.get(group_id)
        member = self.groups.member(group_id, user_id)
        if group is None or member is None or member.order_id != order_id:
            return  # the seat is not this order's (it never took one again after a close)
        after = rules.seat_given_back(group, member.paid)
        if after is None:
            return  # SUCCEEDED or FAILED: the group's members stay what they were
        self.groups.stage_seat_back(tx, group, after, on_moved=lambda: errors.RateLimited(
            "the group changed meanwhile; try again in a moment"))
        self.groups.stage_leave(tx, group_id, user_id, order_id)
