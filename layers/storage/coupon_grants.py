"""Coupon grants in the shop table (the only module that knows their keys).

- The grant: pk `GRANT#<gid>`, sk `GRANT`; gsi1 `COUPON_GRANTS` / `<created_at>#<gid>`
  (the console's list, latest first); gsi2 `COUPON_GRANTS_RUNNING` / `<updated_at>#<gid>`
  while RUNNING, so the sweep finds a grant whose runner died.
- A list grant's targets: pk `GRANT#<gid>`, sk `TARGETS#<index:05d>`, a batch of user ids
  each. They are written before the grant, so a grant that exists has all its targets; a
  crash between leaves batches no grant points at, which nothing reads.

A progress write is conditioned on the grant's `step` (the batches counted so far): of
two runners that worked the same batch, one counts it.

`DynamoCouponGrants` implements the domain's `CouponGrantRepository`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError

from layers.domain import errors
from layers.domain.coupon_grant import RUNNING, CouponGrant
from layers.storage.base import ListedAndQueued, ShopModel
from layers.storage.errors import condition_failed

GRANTS = "COUPON_GRANTS"  # gsi1: every grant, by creation
RUNNING_GRANTS = "COUPON_GRANTS_RUNNING"  # gsi2: grants still running, by last progress


class GrantItem(ListedAndQueued):
    grant_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    tag = UnicodeAttribute(null=True)
    note = UnicodeAttribute(default="")
    status = UnicodeAttribute()
    total = NumberAttribute(default=0)
    issued = NumberAttribute(default=0)
    skipped = JSONAttribute(default=dict)
    cursor = JSONAttribute(null=True)
    step = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    created_by = UnicodeAttribute(default="")
    finished_at = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)


class TargetsItem(ShopModel):
    user_ids = ListAttribute(of=UnicodeAttribute)


def grant_key(grant_id: str) -> tuple[str, str]:
    return f"GRANT#{grant_id}", "GRANT"


def targets_key(grant_id: str, index: int) -> tuple[str, str]:
    return f"GRANT#{grant_id}", f"TARGETS#{index:05d}"


def _grant(g: GrantItem) -> CouponGrant:
    return CouponGrant(
        grant_id=g.grant_id, template_id=g.template_id, tag=g.tag, note=g.note or "", status=g.status,
        total=int(g.total or 0), issued=int(g.issued or 0), skipped={k: int(v) for k, v in (g.skipped or {}).items()},
        cursor=g.cursor, step=int(g.step or 0), created_at=g.created_at, updated_at=g.updated_at,
        created_by=g.created_by or "", finished_at=g.finished_at, reason=g.reason, request_hash=g.request_hash)


def _running_sk(grant: CouponGrant) -> str:
    return f"{grant.updated_at}#{grant.grant_id}"


class DynamoCouponGrants:
    def create(self, grant: CouponGrant, target_batches: list[list[str]]) -> None:
        # One put per batch of targets (the shop's functions may not BatchWriteItem): at most
        # MAX_USER_IDS / BATCH_SIZE of them, once per grant.
        for index, user_ids in enumerate(target_batches):
            TargetsItem(*targets_key(grant.grant_id, index), user_ids=user_ids).save()
        item = GrantItem(
            *grant_key(grant.grant_id), grant_id=grant.grant_id, template_id=grant.template_id, tag=grant.tag,
            note=grant.note, status=str(grant.status), total=grant.total, issued=grant.issued, skipped=grant.skipped,
            cursor=grant.cursor, step=grant.step, created_at=grant.created_at, updated_at=grant.updated_at,
            created_by=grant.created_by, finished_at=grant.finished_at, reason=grant.reason,
            request_hash=grant.request_hash,
            gsi1pk=GRANTS, gsi1sk=f"{grant.created_at}#{grant.grant_id}")
        if grant.status == RUNNING:
            item.gsi2pk, item.gsi2sk = RUNNING_GRANTS, _running_sk(grant)
        try:
            item.save(condition=GrantItem.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise errors.InvalidState("a grant with this id exists") from exc
            raise

    def get(self, grant_id: str) -> CouponGrant | None:
        try:
            return _grant(GrantItem.get(*grant_key(grant_id), consistent_read=True))
        except GrantItem.DoesNotExist:
            return None

    def listed_batch(self, grant_id: str, index: int) -> list[str] | None:
        try:
            return list(TargetsItem.get(*targets_key(grant_id, index), consistent_read=True).user_ids or [])
        except TargetsItem.DoesNotExist:
            return None

    def save_progress(self, before: CouponGrant, after: CouponGrant) -> bool:
        actions = [GrantItem.status.set(str(after.status)), GrantItem.total.set(after.total),
                   GrantItem.issued.set(after.issued), GrantItem.skipped.set(after.skipped),
                   GrantItem.step.set(after.step), GrantItem.updated_at.set(after.updated_at)]
        actions.append(GrantItem.cursor.set(after.cursor) if after.cursor is not None else GrantItem.cursor.remove())
        if after.status == RUNNING:
            actions += [GrantItem.gsi2pk.set(RUNNING_GRANTS), GrantItem.gsi2sk.set(_running_sk(after))]
        else:
            actions += [GrantItem.gsi2pk.remove(), GrantItem.gsi2sk.remove(),
                        GrantItem.finished_at.set(after.finished_at)]
        try:
            GrantItem(*grant_key(before.grant_id)).update(
                actions=actions, condition=(GrantItem.step == before.step) & (GrantItem.status == str(RUNNING)))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def listed(self, limit: int, cursor: dict | None):
        result = GrantItem.gsi1.query(GRANTS, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        return [_grant(g) for g in result], result.last_evaluated_key

    def running(self, updated_before: str, limit: int) -> list[CouponGrant]:
        result = GrantItem.gsi2.query(RUNNING_GRANTS, GrantItem.gsi2sk < updated_before, limit=limit)
        return [g for g in map(_grant, result) if g.status == RUNNING]
