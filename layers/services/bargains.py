"""砍价: operators create bargains; a shopper starts an instance, friends cut its price
down to the floor, and the shopper buys it there.

The rules are `layers/domain/bargain.py` (and `helps.py`, shared with friend
assistance); this service reads, asks them, and writes one transaction conditioned on
what it read: a help is the help item (put if absent), the helper's daily count and the
instance's next cut, conditioned on the helps it was read with, ACTIVE and not expired;
when someone else's help landed first it reads again and takes the next cut.

Buying goes through the order service's `create_order`: the order holds the instance as
a reservation of kind "bargain" (`BargainReservation` below, plugged into the order
service's reservations), so the order's own placement transaction moves the instance to
ORDERED and takes a unit of the bargain's stock, and the transaction that closes it
unpaid gives both back. Payment reaches the instance through `order.paid`
(`on_order_paid`).
"""

from __future__ import annotations

import random
from datetime import timedelta

from layers.clock import iso
from layers.domain import bargain as rules
from layers.domain import campaign_events, errors
from layers.domain.bargain import Bargain, BargainInstance
from layers.domain.helps import AlreadyHelped, Help, beijing_day
from layers.domain.order import order_id_for, request_hash
from layers.domain.pricing import Line
from layers.observability import logger
from layers.services.outbox import CampaignStepEvents

ATTEMPTS = 10
QUOTA_TTL_S = 2 * 86400


class _Stale(Exception):
    """The instance left the version a decision was made from."""


def bargain_view(b: Bargain, remaining: int | None = None) -> dict:
    body = {"id": b.bargain_id, "sku_id": b.sku_id, "product_id": b.product_id, "title": b.title,
            "start_price": b.start_price, "price": b.start_price, "floor_price": b.floor_price,
            "helpers_needed": b.helpers_needed, "ttl_s": b.ttl_s, "starts_at": b.starts_at, "ends_at": b.ends_at,
            "stock": b.stock, "per_user_limit": b.per_user_limit,
            "helps_per_user_per_day": b.helps_per_user_per_day, "created_at": b.created_at,
            "stopped_at": b.stopped_at}
    if remaining is not None:
        body["remaining"] = remaining
    return body


class BargainService(CampaignStepEvents):
    def __init__(self, *, bargains, instances, helps, orders, catalog, timer, clock, new_tx,
                 rng: random.Random | None = None, outbox=None, publisher=None):
        """`orders`: the order service (get, replay, create_order); `catalog`: anything with
        `get_skus(ids)`; `timer`: schedules each instance's exact-time expiry."""
        self.bargains = bargains
        self.instances = instances
        self.helps = helps
        self.orders = orders
        self.catalog = catalog
        self.timer = timer
        self.clock = clock
        self.new_tx = new_tx
        self.rng = rng or random.Random()
        self.outbox = outbox  # a bargain's started / succeeded events (its campaign review)
        self.publisher = publisher

    def view(self, instance: BargainInstance) -> dict:
        return {"id": instance.instance_id, "bargain_id": instance.bargain_id, "user_id": instance.user_id,
                "sku_id": instance.sku_id, "status": instance.shown_status(self.clock.now()),
                "start_price": instance.start_price, "floor_price": instance.floor_price,
                "price_now": instance.price_now, "helps": instance.helps,
                "helpers_needed": instance.helpers_needed, "created_at": instance.created_at,
                "expires_at": instance.expires_at, "order_id": instance.order_id}

    # -- operators ------------------------------------------------------------------------

    def create_bargain(self, body) -> dict:
        """`body`: the route's BargainInput (validated there)."""
        sku = self.catalog.get_skus([body.sku_id]).get(body.sku_id)
        if sku is None or not sku.active:
            raise errors.NotFound("no such sku")
        rules.check_prices(int(sku.price), body.floor_price, body.helpers_needed)
        bargain = Bargain(
            bargain_id=rules.new_bargain_id(), sku_id=sku.sku_id, product_id=sku.product_id, title=sku.title,
            category=sku.category, start_price=int(sku.price), floor_price=body.floor_price,
            helpers_needed=body.helpers_needed, ttl_s=body.ttl_s, starts_at=iso(body.starts_at),
            ends_at=iso(body.ends_at), stock=body.stock, per_user_limit=body.per_user_limit,
            helps_per_user_per_day=body.helps_per_user_per_day, created_at=iso(self.clock.now()),
            commission=sku.commission)
        tx = self.new_tx()
        self.bargains.stage_create(tx, bargain, on_exists=None)
        tx.commit()
        return bargain_view(bargain, bargain.stock)

    def get_bargain(self, bargain_id: str) -> dict:
        bargain = self._bargain(bargain_id)
        return bargain_view(bargain, self.bargains.remaining(bargain_id))

    def list_bargains(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """Every bargain, newest first, with its remaining stock."""
        items, next_cursor = self.bargains.list_bargains(limit, cursor)
        return [bargain_view(b, remaining) for b, remaining in items], next_cursor

    def stop_bargain(self, bargain_id: str) -> dict:
        """No instance starts any more (409 INVALID_STATE); running instances keep going
        until they expire or are bought. Stopping a stopped bargain changes nothing."""
        from layers.services.campaign_stop import stop_campaign

        stopped = stop_campaign(lambda: self._bargain(bargain_id), rules.stop,
                                lambda tx, at, on_stopped: self.bargains.stage_stop(tx, bargain_id, at, on_stopped),
                                self.new_tx, iso(self.clock.now()), "bargain")
        logger.info("bargain stopped", extra={"bargain_id": bargain_id})
        return bargain_view(stopped, self.bargains.remaining(bargain_id))

    def _bargain(self, bargain_id: str) -> Bargain:
        bargain = self.bargains.get(bargain_id)
        if bargain is None:
            raise errors.NotFound("no such bargain")
        return bargain

    def _instance(self, instance_id: str) -> BargainInstance:
        instance = self.instances.get(instance_id)
        if instance is None:
            raise errors.NotFound("no such bargain instance")
        return instance

    # -- shoppers -------------------------------------------------------------------------

    def start(self, user_id: str, bargain_id: str) -> dict:
        bargain = self._bargain(bargain_id)
        now = self.clock.now()
        rules.check_window(bargain, now)
        if self.bargains.remaining(bargain_id) < 1:
            raise errors.SoldOut("this bargain is sold out")
        instance = rules.start(bargain, rules.new_instance_id(), user_id, iso(now),
                               iso(now + timedelta(seconds=bargain.ttl_s)), self.rng)
        limit = bargain.per_user_limit
        tx = self.new_tx()
        self.instances.stage_create(tx, instance, on_exists=None)
        self.bargains.stage_count_start(
            tx, bargain_id, user_id, limit,
            on_limit=lambda: errors.LimitExceeded(f"at most {limit} of this bargain per shopper"))
        # decided in this transaction: a stop committed since the read refuses the start
        self.bargains.stage_check_running(tx, bargain_id,
                                          on_stopped=lambda: errors.InvalidState("this bargain was stopped"))
        events = [campaign_events.bargain_started(instance)]
        self._stage_events(tx, events, instance.created_at)
        tx.commit()
        self._publish(events, instance.created_at)
        logger.info("bargain started", extra={"instance_id": instance.instance_id, "bargain_id": bargain_id})
        self.timer.schedule(instance.instance_id, instance.expires_at)
        return self.view(instance)

    def get_instance(self, instance_id: str) -> dict:
        return self.view(self._instance(instance_id))

    def help(self, helper_id: str, instance_id: str) -> dict:
        """One friend's cut: 201 {"cut", "price_now", "helps"}."""
        for _ in range(ATTEMPTS):
            instance = self._instance(instance_id)
            now = self.clock.now()
            now_iso = iso(now)
            cut, after = rules.help_(instance, helper_id, now, now_iso)
            bargain = self._bargain(instance.bargain_id)
            tx = self.new_tx()
            self.helps.stage_help(tx, Help(instance_id, helper_id, after.helps, cut, now_iso),
                                  on_exists=lambda: AlreadyHelped("you already helped this bargain"))
            quota = bargain.helps_per_user_per_day
            if quota:
                self.helps.stage_quota(
                    tx, bargain.bargain_id, helper_id, beijing_day(now), quota, int(now.timestamp()) + QUOTA_TTL_S,
                    on_limit=lambda q=quota: errors.LimitExceeded(f"at most {q} helps a day in this bargain"))
            self.instances.stage_change(tx, instance, after, on_stale=_Stale, unexpired_at=now_iso)
            events = campaign_events.bargain_succeeded(instance, after)
            self._stage_events(tx, events, now_iso)
            try:
                tx.commit()
            except _Stale:
                continue  # another friend's cut landed first: take the next one
            self._publish(events, now_iso)
            logger.info("bargain helped", extra={"instance_id": instance_id, "helps": after.helps, "cut": cut})
            return {"cut": cut, "price_now": after.price_now, "helps": after.helps, "status": str(after.status)}
        raise errors.RateLimited("this bargain is busy; try again in a moment")

    def helpers(self, instance_id: str) -> list[dict]:
        self._instance(instance_id)
        return [{"user_id": h.helper_id, "cut": h.cut, "at": h.at} for h in self.helps.for_instance(instance_id)]

    def buy(self, user_id: str, instance_id: str, body, idempotency_key: str | None) -> dict:
        """`body`: the route's BargainOrderInput (address, share_token)."""
        instance = self._instance(instance_id)
        raw = {"instance_id": instance_id, **body.model_dump(mode="json")}
        digest = request_hash(raw)
        order_id = order_id_for(user_id, f"bargain:{instance_id}", idempotency_key)
        if idempotency_key is not None:
            existing = self.orders.get(order_id, consistent=True)
            if existing is not None:
                return self.orders.replay(existing, digest)
        rules.check_buyable(instance, user_id, self.clock.now())
        bargain = self._bargain(instance.bargain_id)
        line = Line(sku_id=bargain.sku_id, product_id=bargain.product_id, title=bargain.title,
                    category=bargain.category, quantity=1, unit_price=instance.floor_price)
        return self.orders.create_order(
            user_id=user_id, order_id=order_id, lines=[line], reservations_=[rules.reservation(instance, order_id)],
            coupon_id=None, address=raw.get("address"), address_id=raw.get("address_id"), delivery=raw.get("delivery"),
            share_token=body.share_token,
            channel=body.channel, scene=body.scene, digest=digest,
            idempotency_key=idempotency_key, kind="bargain", commissions={bargain.sku_id: bargain.commission},
            pay_with=getattr(body, "pay_with", "wechat"), points=getattr(body, "points", None) or 0)

    # -- the order's payment, expiry ----------------------------------------------------------

    def _move(self, instance_id: str, decide) -> BargainInstance | None:
        """Read, decide (None: nothing to do), write conditioned on the version read."""
        for _ in range(ATTEMPTS):
            instance = self.instances.get(instance_id)
            if instance is None:
                return None
            after = decide(instance)
            if after is None:
                return None
            tx = self.new_tx()
            self.instances.stage_change(tx, instance, after, on_stale=_Stale)
            try:
                tx.commit()
            except _Stale:
                continue
            return after
        raise errors.RateLimited("this bargain is busy; try again in a moment")

    def on_order_paid(self, event_id: str, payload: dict) -> None:
        """`order.paid`: the bargain order's instance becomes PURCHASED (once)."""
        order = self.orders.get(payload["order_id"], consistent=True)
        if order is None or order.kind != "bargain":
            return
        for r in order.reservations:
            if r.get("kind") == "bargain":
                if self._move(r["instance_id"], lambda i: rules.order_paid(i, order.order_id)) is not None:
                    logger.info("bargain purchased", extra={"instance_id": r["instance_id"]})

    def expire_one(self, instance_id: str) -> bool:
        return self._move(instance_id, lambda i: rules.expire(i, self.clock.now())) is not None

    def expire_due(self, limit: int = 500) -> dict:
        """The expire-campaigns job's bargain part: whatever the delayed messages missed."""
        expired = 0
        for candidate in self.instances.due(iso(self.clock.now()), limit):
            try:
                expired += self.expire_one(candidate.instance_id)
            except errors.RateLimited:
                continue
        return {"bargain_instances_expired": expired}

    def on_expiry_due(self, event_id: str, payload: dict) -> None:
        if self.timer.due(payload):
            self.expire_one(payload["instance_id"])


class BargainReservation:
    """The order's reservation handler of kind "bargain": the instance and a unit of the
    bargain's stock, taken in the order's placement transaction and given back in the
    one that closes it unpaid (or refunds it in full before shipping)."""

    def __init__(self, *, bargains, instances, clock):
        self.bargains = bargains
        self.instances = instances
        self.clock = clock

    def stage_take(self, tx, reservation: dict) -> None:
        self.instances.stage_order(
            tx, reservation["instance_id"], reservation["user_id"], reservation["order_id"], iso(self.clock.now()),
            on_unavailable=lambda: rules.InstanceUnavailable(
                "this bargain cannot be ordered now (not SUCCEEDED, already ordered, or expired)"))
        self.bargains.stage_take_stock(tx, reservation["bargain_id"],
                                       on_empty=lambda: errors.SoldOut("this bargain is sold out"))

    def stage_release(self, tx, reservation: dict) -> None:
        self.bargains.stage_return_stock(tx, reservation["bargain_id"])
        instance = self.instances.get(reservation["instance_id"])
        after = rules.order_closed(instance, reservation["order_id"], self.clock.now()) if instance else None
        if after is None:
            return  # bought and refunded (PURCHASED stays), or not held by this order
        # The closing order's own condition makes this happen once; nothing else moves an
        # ORDERED instance while its order is unpaid.
        self.instances.stage_change(tx, instance, after, on_stale=None)
