"""Coupon grants (定向发券): an operator gives one template to a list of customers or to a
tag's members; a goodwill coupon is the same grant with one target.

How a grant runs, and why it survives what a Lambda does:

- `start` stores the grant RUNNING (a list's targets stored with it) and sends a
  `coupon_grant.run` message on the events queue.
- The message's handler (`on_run_due`) works batches for at most `budget_s` seconds,
  each batch counted with a write conditioned on the grant's step, then sends the next
  message if the grant is not DONE. A Lambda that times out or dies mid-batch loses only
  that batch's count; the next runner works the same batch again, finds the coupons it
  already gave (their ids derive from the grant and the user) and counts them once.
- The `run-coupon-grants` job picks up any RUNNING grant whose progress has not moved for
  `STALLED_AFTER_S` (a lost message, a handler that kept failing), the same way.

Coupons are issued through `CouponService.issue_granted`, the same shard counters and
per-shopper counts as a claim: a grant never gives more than the template's total, nor
more than its per-user limit to anyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from layers.clock import iso
from layers.domain import coupon_grant as rules
from layers.domain import coupon_template as templates_rules
from layers.domain import errors
from layers.domain.coupon_grant import CouponGrant, CouponGrantRepository, TagMembers
from layers.domain.coupon_template import CouponTemplate, CouponTemplateRepository
from layers.domain.user_coupon import UserCoupon, UserCouponRepository
from layers.observability import logger
from layers.services.coupons import coupon_view

# A RUNNING grant whose progress has not moved for this long has lost its runner.
STALLED_AFTER_S = 120
# How long one events-queue message may work before it hands the grant on: the consumer's
# Lambda has 60 s for a batch of up to 10 records, any of which may be a grant's (a batch
# of targets started before the budget ran out is finished, so allow for one more).
MESSAGE_BUDGET_S = 4.0
# How long the sweep job may work (its Lambda has 300 s).
SWEEP_BUDGET_S = 240.0
RUN_EVENT = "coupon_grant.run"


def grant_view(g: CouponGrant) -> dict:
    return {"id": g.grant_id, "template_id": g.template_id, "tag": g.tag, "note": g.note,
            "status": str(g.status), "total": g.total, "issued": g.issued, "skipped": g.skipped_total,
            "skipped_by_reason": {r: g.skipped.get(r, 0) for r in rules.SKIP_REASONS},
            "progress": rules.progress_percent(g), "created_at": g.created_at, "updated_at": g.updated_at,
            "finished_at": g.finished_at, "created_by": g.created_by, "reason": g.reason}


class NoTags:
    """`TagMembers` while the shop has no customer tags: every tag is unknown."""

    def count(self, tag: str) -> int | None:
        return None

    def user_ids(self, tag: str, cursor: dict | None, limit: int):
        return [], None


@dataclass
class Batch:
    """One batch a runner took: the grant as read, its targets and what follows them."""
    grant: CouponGrant
    template: CouponTemplate
    user_ids: list[str]
    next_cursor: dict | None
    last: bool
    outcomes: dict[str, str] = field(default_factory=dict)


class CouponGrantService:
    def __init__(self, *, grants: CouponGrantRepository, templates: CouponTemplateRepository, coupons,
                 user_coupons: UserCouponRepository, users, tags: TagMembers, clock, schedule: Callable[[str, int], None] | None = None,
                 notify: Callable[[UserCoupon], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic, workers: int = 1):
        self.grants = grants
        self.templates = templates
        self.coupons = coupons  # CouponService: .issue_granted(template, user_id, coupon_id, source)
        self.user_coupons = user_coupons
        self.users = users  # .get_user(user_id) -> User | None
        self.tags = tags
        self.clock = clock
        self.schedule = schedule  # (grant_id, step): send the message that runs the grant on
        self.notify = notify  # the shopper's coupon_received message (at most once per coupon)
        self.monotonic = monotonic
        # Targets of one batch worked at once: each is a few DynamoDB round trips that wait on
        # the network, not the CPU. Two of them race only on the template's counter shards,
        # whose conditions keep the total and the limit exact however many run.
        self.workers = workers

    # -- starting -------------------------------------------------------------------------

    def start(self, template_id: str, *, user_ids: list[str] | None = None, tag: str | None = None,
              note: str = "", by: str = "", reason: str | None = None, grant_id: str | None = None,
              hand_on: bool = True, idempotency_key: str | None = None) -> dict:
        """A new RUNNING grant, handed to the queue. With an `idempotency_key` the grant's id
        derives from it: the same key and request answer that grant again, another request
        under it is IdempotencyKeyReused. Raises NotFound (template, tag), Ended (its coupons
        would already be expired) or InvalidRequest (targets)."""
        distinct = rules.distinct_targets(user_ids) if user_ids is not None else None
        asked = None
        if idempotency_key is not None:
            grant_id = rules.keyed_grant_id(idempotency_key)
            asked = rules.request_hash(template_id, distinct, tag, note)
            earlier = self._keyed(grant_id, asked)
            if earlier is not None:
                return earlier
        template = self._template(template_id)
        templates_rules.check_givable(template, self.clock.now())
        tag_size = None
        if tag is not None:
            tag_size = self.tags.count(tag)
            if tag_size is None:
                raise errors.NotFound(f"no tag named {tag!r}")
        now = iso(self.clock.now())
        grant = rules.start(grant_id or rules.new_grant_id(), template_id, user_ids=distinct, tag=tag,
                            tag_size=tag_size, note=note, now=now, by=by, reason=reason, request_hash=asked)
        try:
            self.grants.create(grant, rules.in_batches(distinct))
        except errors.InvalidState:
            earlier = self._keyed(grant.grant_id, asked) if asked is not None else None
            if earlier is None:
                raise
            return earlier  # a concurrent retry under the same key created it
        if hand_on:
            self._schedule(grant)
        return grant_view(grant)

    def _keyed(self, grant_id: str, asked: str) -> dict | None:
        earlier = self.grants.get(grant_id)
        if earlier is None:
            return None
        if earlier.request_hash != asked:
            raise errors.IdempotencyKeyReused("this Idempotency-Key was used for another grant")
        return grant_view(earlier)

    def give_one(self, user_id: str, template_id: str, reason: str, request_key: str, by: str = "") -> dict:
        """A goodwill coupon: a grant with one target whose id derives from the request key,
        run to its end before answering. The same key answers the same coupon; a refusal
        (limit reached, none left, window closed) is the grant's skip, raised as the claim's
        error. Answers the user coupon and the grant's id."""
        grant_id = rules.goodwill_grant_id(user_id, template_id, request_key)
        if self.users.get_user(user_id) is None:
            raise errors.NotFound("no such user")
        grant = self.grants.get(grant_id)
        if grant is None:
            try:
                self.start(template_id, user_ids=[user_id], note=reason, by=by, reason=reason, grant_id=grant_id,
                           hand_on=False)
            except errors.InvalidState:
                pass  # a concurrent retry with this key created it
        grant = self._run(grant_id, budget_s=None)
        coupon = self.user_coupons.get(rules.grant_coupon_id(grant_id, user_id))
        if coupon is None:
            reason_code = next((r for r, n in grant.skipped.items() if n), rules.OUT_OF_STOCK)
            raise _REFUSALS[reason_code]()
        return {**coupon_view(coupon, iso(self.clock.now())), "grant_id": grant_id}

    # -- reading --------------------------------------------------------------------------

    def get(self, grant_id: str) -> dict:
        grant = self.grants.get(grant_id)
        if grant is None:
            raise errors.NotFound("no such coupon grant")
        return grant_view(grant)

    def list(self, limit: int, cursor: dict | None):
        items, next_key = self.grants.listed(limit, cursor)
        return [grant_view(g) for g in items], next_key

    # -- running --------------------------------------------------------------------------

    def on_run_due(self, event_id: str, payload: dict) -> None:
        """`coupon_grant.run`: work the grant for a while, then hand it on. A message for a
        step the grant has passed is a duplicate whose runner has moved on: nothing to do."""
        grant = self.grants.get(payload["grant_id"])
        if grant is None or grant.done or grant.step != int(payload.get("step", grant.step)):
            return
        grant = self._run(grant.grant_id, budget_s=MESSAGE_BUDGET_S)
        if not grant.done:
            self._schedule(grant)

    def run_stalled(self) -> dict:
        """The sweep: RUNNING grants whose progress has stood still, each worked on."""
        deadline = self.monotonic() + SWEEP_BUDGET_S
        before = iso(self.clock.now() - timedelta(seconds=STALLED_AFTER_S))
        resumed = finished = 0
        for grant in self.grants.running(before + "#~", 20):
            left = deadline - self.monotonic()
            if left <= 0:
                break
            resumed += 1
            grant = self._run(grant.grant_id, budget_s=left)
            if grant.done:
                finished += 1
            else:
                self._schedule(grant)
        return {"grants_resumed": resumed, "grants_finished": finished}

    def run(self, grant_id: str) -> dict:
        """Work the grant to its end (the bench, and an operator's re-run)."""
        return grant_view(self._run(grant_id, budget_s=None))

    def _run(self, grant_id: str, budget_s: float | None) -> CouponGrant:
        deadline = None if budget_s is None else self.monotonic() + budget_s
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        try:
            while True:
                batch = self.take_batch(grant_id)
                if batch is None:
                    return self._get(grant_id)
                self._work_batch(batch, pool)
                self.count(batch)
                if deadline is not None and self.monotonic() >= deadline:
                    return self._get(grant_id)
        finally:
            if pool is not None:
                pool.shutdown()

    def _work_batch(self, batch: Batch, pool: ThreadPoolExecutor | None) -> None:
        """Every target of the batch. Worked at once, a target whose transaction kept
        conflicting with its neighbours' (RateLimited) is worked again alone; if it still
        cannot be, the runner stops here and the next one works the batch again."""
        todo = list(batch.user_ids)
        if pool is not None and len(todo) > 1:
            list(pool.map(lambda u: self._work_or_leave(batch, u), todo))
            todo = [u for u in todo if u not in batch.outcomes]
        for user_id in todo:
            self.work(batch, user_id)

    def _work_or_leave(self, batch: Batch, user_id: str) -> None:
        try:
            self.work(batch, user_id)
        except errors.RateLimited:
            pass

    # The three steps of a batch, apart so a test can interleave runners step by step.

    def take_batch(self, grant_id: str) -> Batch | None:
        """The batch at the grant's cursor, or None when the grant is DONE."""
        grant = self._get(grant_id)
        if grant.done:
            return None
        template = self._template(grant.template_id)
        if grant.tag is not None:
            ids, next_cursor = self.tags.user_ids(grant.tag, grant.cursor, rules.BATCH_SIZE)
            return Batch(grant, template, ids, next_cursor, last=next_cursor is None)
        index = int((grant.cursor or {}).get("batch", 0))
        ids = self.grants.listed_batch(grant_id, index) or []
        # The last batch is the one with none after it (not a count from today's BATCH_SIZE:
        # a grant stored before a deploy that changed it keeps its own batches).
        last = self.grants.listed_batch(grant_id, index + 1) is None
        return Batch(grant, template, ids, {"batch": index + 1}, last=last)

    def work(self, batch: Batch, user_id: str) -> str:
        """Give `user_id` the grant's coupon (or find it given): the outcome, also noted on
        the batch."""
        outcome = self._give(batch.grant, batch.template, user_id)
        batch.outcomes[user_id] = outcome
        return outcome

    def count(self, batch: Batch) -> bool:
        """Write the batch's counts and the next cursor; False when another runner counted
        this batch first (its counts are the same coupons, so nothing is lost)."""
        after = rules.advance(batch.grant, batch.outcomes, batch.next_cursor, batch.last, iso(self.clock.now()))
        saved = self.grants.save_progress(batch.grant, after)
        if saved and after.done:
            logger.info("coupon grant done", extra={"grant_id": after.grant_id, "issued": after.issued,
                                                    "skipped": after.skipped})
        return saved

    def _give(self, grant: CouponGrant, template: CouponTemplate, user_id: str) -> str:
        if self.users.get_user(user_id) is None:
            return rules.UNKNOWN_USER
        coupon_id = rules.grant_coupon_id(grant.grant_id, user_id)
        try:
            coupon = self.coupons.issue_granted(template, user_id, coupon_id,
                                                source="goodwill" if grant.reason else "grant")
        except errors.LimitExceeded:
            return rules.LIMIT_REACHED
        except errors.SoldOut:
            return rules.OUT_OF_STOCK
        except errors.Ended:
            return rules.ENDED
        if self.notify is not None:
            try:
                self.notify(coupon)
            except Exception:  # noqa: BLE001 - the coupon is given; a message is a courtesy
                logger.exception("coupon_received not sent", extra={"coupon_id": coupon_id})
        return rules.ISSUED

    # -- helpers --------------------------------------------------------------------------

    def _get(self, grant_id: str) -> CouponGrant:
        grant = self.grants.get(grant_id)
        if grant is None:
            raise errors.NotFound("no such coupon grant")
        return grant

    def _template(self, template_id: str) -> CouponTemplate:
        template = self.templates.get(template_id)
        if template is None:
            raise errors.NotFound("no such coupon template")
        return template

    def _schedule(self, grant: CouponGrant) -> None:
        if self.schedule is None:
            return
        try:
            self.schedule(grant.grant_id, grant.step)
        except Exception:  # noqa: BLE001 - the grant is stored RUNNING; the sweep picks it up
            logger.exception("coupon grant not handed to the queue", extra={"grant_id": grant.grant_id})


_REFUSALS = {
    rules.LIMIT_REACHED: lambda: errors.LimitExceeded("this shopper already has as many of this coupon as allowed"),
    rules.OUT_OF_STOCK: lambda: errors.SoldOut("all of this coupon has been given out"),
    rules.ENDED: lambda: errors.Ended("coupons of this template are no longer valid"),
    rules.UNKNOWN_USER: lambda: errors.NotFound("no such user"),
}
