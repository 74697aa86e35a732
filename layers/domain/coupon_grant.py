"""A coupon grant (定向发券): one template given to a list of customers or to a tag's
members, worked through in batches by a runner that may die, time out or run twice.

    (created)                         RUNNING   total targets known (or counted so far)
    RUNNING --advance(batch, last)--> DONE      the targets are exhausted

Each batch's outcome is counted once: a runner reads the grant at step `n`, works the
batch at the grant's cursor, and writes the counts and the next cursor conditioned on
the grant still being at step `n` (`advance` answers step `n + 1`). A runner that loses
that race throws its counts away and reads the grant again; the coupons it issued are
the same coupons the winner counted, because a target's coupon id derives from the
grant and the user (`grant_coupon_id`) and is created only if that id is free. So a
rerun, a duplicate message or two runners at once give nobody a second coupon, and
`issued` counts each target's coupon once.

A target is skipped, with the reason counted, when the template's per-user limit is
reached (`LIMIT_REACHED`), its total is gone (`OUT_OF_STOCK`), its coupons' fixed
validity has ended (`ENDED`) or the user does not exist (`UNKNOWN_USER`). Each of these
only grows worse with time (counters never go down, time does not go back), so two
runners that try the same target agree on its outcome. The claim window does not bind a
grant: it says when shoppers may claim, and the shop gives.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class GrantStatus(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"


RUNNING = GrantStatus.RUNNING
DONE = GrantStatus.DONE

ISSUED = "ISSUED"
LIMIT_REACHED = "LIMIT_REACHED"
OUT_OF_STOCK = "OUT_OF_STOCK"
ENDED = "ENDED"
UNKNOWN_USER = "UNKNOWN_USER"
SKIP_REASONS = (LIMIT_REACHED, OUT_OF_STOCK, ENDED, UNKNOWN_USER)
OUTCOMES = (ISSUED, *SKIP_REASONS)

# The most user ids one grant may list: a list is for customers picked by hand; a larger
# audience is a tag.
MAX_USER_IDS = 10_000
# Targets per batch: small enough that a batch ends well inside a Lambda's time, large
# enough that the grant's progress write is a small share of the work.
BATCH_SIZE = 100


@dataclass(frozen=True)
class CouponGrant:
    grant_id: str
    template_id: str
    tag: str | None  # the targets are the tag's members, or (None) the grant's own list
    note: str
    status: str
    total: int
    issued: int
    skipped: dict[str, int]
    cursor: dict | None  # where the next batch starts (None: the first batch, or nothing left when DONE)
    step: int  # batches counted so far; each progress write is conditioned on it
    created_at: str
    updated_at: str
    created_by: str = ""
    finished_at: str | None = None
    reason: str | None = None  # why a one-shopper grant (goodwill) was made; audited
    request_hash: str | None = None  # the request an Idempotency-Key made this grant for

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def done(self) -> bool:
        return self.status == DONE


class CouponGrantRepository(Protocol):
    def create(self, grant: CouponGrant, target_batches: list[list[str]]) -> None:
        """Store a new grant and, for a list, its targets as batches (`listed_batch(i)` is
        `target_batches[i]`). Raises InvalidState when the id is taken."""

    def get(self, grant_id: str) -> CouponGrant | None: ...

    def listed_batch(self, grant_id: str, index: int) -> list[str] | None:
        """Batch `index` of a list grant's targets; None past the last."""

    def save_progress(self, before: CouponGrant, after: CouponGrant) -> bool:
        """Write `after` if the stored grant is still at `before.step`; False if another
        runner counted this batch first."""

    def listed(self, limit: int, cursor: dict | None) -> tuple[list[CouponGrant], dict | None]:
        """Grants, latest first."""

    def running(self, updated_before: str, limit: int) -> list[CouponGrant]:
        """RUNNING grants whose progress was last written before `updated_before`."""


class TagMembers(Protocol):
    """The members of a customer tag, for grants. The customers' storage implements it;
    a grant knows nothing else about tags."""

    def count(self, tag: str) -> int | None:
        """How many customers carry `tag`, or None when there is no such tag."""

    def user_ids(self, tag: str, cursor: dict | None, limit: int) -> tuple[list[str], dict | None]:
        """Up to `limit` members after `cursor`, and the cursor after them (None at the end).
        The order is stable, so a cursor resumes where it was taken."""


def new_grant_id() -> str:
    return "g" + uuid.uuid4().hex[:20]


def grant_coupon_id(grant_id: str, user_id: str) -> str:
    """The one coupon a grant can give a user: a rerun finds it taken and issues nothing."""
    return "c" + hashlib.sha256(f"grant\x00{grant_id}\x00{user_id}".encode()).hexdigest()[:25]


def keyed_grant_id(idempotency_key: str) -> str:
    """The grant an operator's `Idempotency-Key` names: a retried POST (a timeout, a double
    click) is the same grant, so nobody gets a second coupon from a second grant."""
    return "g" + hashlib.sha256(f"grant-key\x00{idempotency_key}".encode()).hexdigest()[:20]


def request_hash(template_id: str, user_ids: list[str] | None, tag: str | None, note: str) -> str:
    """What a keyed request asked for: the same key with another request is refused."""
    canonical = json.dumps([template_id, user_ids, tag, note], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def goodwill_grant_id(user_id: str, template_id: str, request_key: str) -> str:
    """A goodwill coupon's one-target grant: the operator's retry (same Idempotency-Key)
    is the same grant, so the same coupon."""
    return "g" + hashlib.sha256(f"goodwill\x00{user_id}\x00{template_id}\x00{request_key}".encode()).hexdigest()[:20]


def in_batches(user_ids: list[str] | None) -> list[list[str]]:
    ids = user_ids or []
    return [ids[i:i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]


def distinct_targets(user_ids: Iterable[str]) -> list[str]:
    """The list in its order, each user once (a user listed twice is one target)."""
    seen: dict[str, None] = {}
    for u in user_ids:
        u = u.strip()
        if u:
            seen.setdefault(u, None)
    return list(seen)


def start(grant_id: str, template_id: str, *, user_ids: list[str] | None, tag: str | None, tag_size: int | None,
          note: str, now: str, by: str = "", reason: str | None = None,
          request_hash: str | None = None) -> CouponGrant:
    """A new RUNNING grant. Exactly one of `user_ids` (already distinct) or `tag` (with its
    size, `tag_size`) names the targets."""
    if (user_ids is None) == (tag is None):
        raise errors.InvalidRequest("give either user_ids or tag")
    if user_ids is not None:
        if not user_ids:
            raise errors.InvalidRequest("user_ids is empty")
        if len(user_ids) > MAX_USER_IDS:
            raise errors.InvalidRequest(f"at most {MAX_USER_IDS} user ids; grant to a tag for more")
        total = len(user_ids)
    else:
        total = int(tag_size or 0)
    return CouponGrant(grant_id=grant_id, template_id=template_id, tag=tag, note=note, status=RUNNING,
                       total=total, issued=0, skipped={}, cursor=None, step=0, created_at=now, updated_at=now,
                       created_by=by, reason=reason, request_hash=request_hash)


def advance(grant: CouponGrant, outcomes: Mapping[str, str], next_cursor: dict | None, last: bool,
            now: str) -> CouponGrant:
    """The grant after one batch whose targets ended as `outcomes` (user -> ISSUED or a
    skip reason). `last`: nothing follows this batch, so the grant is DONE. A tag's size
    moves while a grant runs; `total` becomes what was actually worked through at the end."""
    if grant.done:
        raise errors.InvalidState("this grant is done")
    unknown = set(outcomes.values()) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"not an outcome: {sorted(unknown)}")
    issued = grant.issued + sum(1 for o in outcomes.values() if o == ISSUED)
    skipped = dict(grant.skipped)
    for o in outcomes.values():
        if o != ISSUED:
            skipped[o] = skipped.get(o, 0) + 1
    worked = issued + sum(skipped.values())
    after = replace(grant, issued=issued, skipped=skipped, cursor=None if last else next_cursor,
                    step=grant.step + 1, updated_at=now, total=max(grant.total, worked))
    if last:
        after = replace(after, status=DONE, finished_at=now, total=worked)
    return after


def progress_percent(grant: CouponGrant) -> int:
    """0 to 100, for the console's bar; 100 only when DONE."""
    if grant.done:
        return 100
    if grant.total <= 0:
        return 0
    return min(99, (grant.issued + grant.skipped_total) * 100 // grant.total)
