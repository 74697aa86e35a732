"""Settlement batches and payouts.

- Batch: pk `SETTLEMENT#<batch_id>`, sk `BATCH` (one per Beijing day: `B<YYYYMMDD>`);
  listed by gsi1 `SETTLEMENTS` / `<day>#<batch_id>`.
- A batch's payouts: pk `SETTLEMENT#<batch_id>`, sk `PAYOUT#<payout_id>` (written with
  the payout, so a batch lists its payouts with one Query).
- Payout: pk `PAYOUT#<payout_id>`, sk `PAYOUT`. The payout id is derived from (batch,
  distributor) and is WeChat's `out_bill_no`: every call about it, first or retried,
  uses it, so a transfer can never be made twice. gsi1 `USER#<distributor>#PAYOUTS` /
  `<created_at>#<payout_id>` (GET /me/payouts); gsi2 `PAYOUTS_OPEN` / `<updated_at>#<id>`
  while it is not final (the sweep follows up on those).

Payout statuses: CLAIMING (commissions being moved into it) -> PAYING (its parts, the
transfers, in `parts`) -> SUCCESS; in manual mode AWAITING_MANUAL -> PAID_MANUALLY; at 0
after the commission debt (`deducted`) PAYING without parts -> DEDUCTED
(layers/domain/payout.py). Every status change is conditioned on the status and `version`
it was decided from (payouts written before versions existed are version 0). The payout
keeps its commissions as their sort keys in the distributor's partition (`commission_sks`).
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain import payout as domain
from layers.domain.payout import Batch, Payout
from layers.storage.base import Listed, ListedAndQueued, ShopModel, changed
from layers.storage.distribution import commission_id_of_sk, commission_sk
from layers.storage.errors import condition_failed
from layers.storage.tx import Tx

OPEN = "PAYOUTS_OPEN"


class BatchItem(Listed):
    batch_id = UnicodeAttribute()
    day = UnicodeAttribute()
    mode = UnicodeAttribute()
    created_at = UnicodeAttribute()
    runs = NumberAttribute(default=0)
    last_run = JSONAttribute(null=True)


class BatchPayoutRef(ShopModel):
    payout_id = UnicodeAttribute()
    distributor_id = UnicodeAttribute()


class PayoutItem(ListedAndQueued):
    payout_id = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    distributor_id = UnicodeAttribute()
    mode = UnicodeAttribute()
    status = UnicodeAttribute()
    amount = NumberAttribute(default=0)
    commission_count = NumberAttribute(default=0)
    # The sort keys (in the distributor's partition) of the commissions and adjustments in
    # this payout; appended chunk by chunk while CLAIMING.
    commission_sks = ListAttribute(of=UnicodeAttribute, default=list)
    package_info = UnicodeAttribute(null=True)
    transfer_bill_no = UnicodeAttribute(null=True)
    wechat_state = UnicodeAttribute(null=True)
    fail_reason = UnicodeAttribute(null=True)
    # The transfers that pay it, each at most the per-transfer limit (list of Part fields).
    parts = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute(null=True)
    deducted = NumberAttribute(null=True)  # the commission debt taken off it


def batch_key(batch_id: str) -> tuple[str, str]:
    return f"SETTLEMENT#{batch_id}", "BATCH"


def payout_key(payout_id: str) -> tuple[str, str]:
    return f"PAYOUT#{payout_id}", "PAYOUT"


def _batch(i: BatchItem) -> Batch:
    return Batch(batch_id=i.batch_id, day=i.day, mode=i.mode, created_at=i.created_at,
                 runs=int(i.runs or 0), last_run=i.last_run)


def to_payout(i: PayoutItem) -> Payout:
    return Payout(payout_id=i.payout_id, batch_id=i.batch_id, distributor_id=i.distributor_id, mode=i.mode,
                  status=i.status, amount=int(i.amount or 0), created_at=i.created_at, updated_at=i.updated_at,
                  commission_ids=tuple(commission_id_of_sk(sk) for sk in (i.commission_sks or ())),
                  package_info=i.package_info, transfer_bill_no=i.transfer_bill_no,
                  wechat_state=i.wechat_state, fail_reason=i.fail_reason, version=int(i.version or 0),
                  parts=tuple(domain.Part(**d) for d in (i.parts or ())), deducted=int(i.deducted or 0))


# Payout fields stored under the same name (commission_ids are stored as sort keys).
_PLAIN = ("mode", "status", "amount", "package_info", "transfer_bill_no", "wechat_state", "fail_reason",
          "updated_at", "parts", "deducted")


def _encode(name: str, value):
    if name == "parts":
        return [part.to_dict() for part in value] if value else None
    return value


def _at(before: Payout):
    version = (PayoutItem.version.does_not_exist() | (PayoutItem.version == 0) if before.version == 0
               else PayoutItem.version == before.version)
    return (PayoutItem.status == before.status) & version


class DynamoPayoutRepository:
    """`layers.domain.payout.PayoutRepository` on the shop table."""

    def get_batch(self, batch_id: str) -> Batch | None:
        try:
            return _batch(BatchItem.get(*batch_key(batch_id), consistent_read=True))
        except BatchItem.DoesNotExist:
            return None

    def create_batch(self, batch: Batch) -> bool:
        b = batch
        item = BatchItem(*batch_key(b.batch_id), batch_id=b.batch_id, day=b.day, mode=b.mode,
                         created_at=b.created_at, gsi1pk="SETTLEMENTS", gsi1sk=f"{b.day}#{b.batch_id}")
        try:
            item.save(condition=BatchItem.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def record_run(self, batch_id: str, summary: dict) -> None:
        BatchItem(*batch_key(batch_id)).update(actions=[BatchItem.runs.add(1), BatchItem.last_run.set(summary)])

    def list_batches(self, limit: int, cursor: dict | None):
        result = BatchItem.gsi1.query("SETTLEMENTS", scan_index_forward=False, limit=limit,
                                      last_evaluated_key=cursor)
        return [_batch(b) for b in result], result.last_evaluated_key

    def batch_payout_ids(self, batch_id: str) -> list[str]:
        return [r.payout_id for r in BatchPayoutRef.query(f"SETTLEMENT#{batch_id}",
                                                          BatchPayoutRef.sk.startswith("PAYOUT#"))]

    def get(self, payout_id: str) -> Payout | None:
        try:
            return to_payout(PayoutItem.get(*payout_key(payout_id), consistent_read=True))
        except PayoutItem.DoesNotExist:
            return None

    def get_many(self, payout_ids: list[str]) -> list[Payout]:
        keys = [payout_key(i) for i in dict.fromkeys(payout_ids)]
        found = []
        for start in range(0, len(keys), 100):
            found.extend(PayoutItem.batch_get(keys[start:start + 100]))
        return [to_payout(p) for p in found]

    def list_for_user(self, user_id: str, limit: int, cursor: dict | None):
        result = PayoutItem.gsi1.query(f"USER#{user_id}#PAYOUTS", scan_index_forward=False, limit=limit,
                                       last_evaluated_key=cursor)
        return [to_payout(p) for p in result], result.last_evaluated_key

    def open(self, limit: int = 1000) -> list[Payout]:
        return [to_payout(p) for p in PayoutItem.gsi2.query(OPEN, limit=limit)]

    def stage_create(self, tx: Tx, payout: Payout, on_exists) -> None:
        p = payout
        tx.put(PayoutItem(
            *payout_key(p.payout_id), payout_id=p.payout_id, batch_id=p.batch_id,
            distributor_id=p.distributor_id, mode=p.mode, status=p.status, amount=p.amount,
            commission_count=p.commission_count, commission_sks=[commission_sk(c) for c in p.commission_ids],
            created_at=p.created_at, updated_at=p.updated_at, version=p.version,
            gsi1pk=f"USER#{p.distributor_id}#PAYOUTS", gsi1sk=f"{p.created_at}#{p.payout_id}",
            gsi2pk=OPEN, gsi2sk=f"{p.created_at}#{p.payout_id}"),
            condition=PayoutItem.pk.does_not_exist(), on_fail=on_exists)
        tx.put(BatchPayoutRef(f"SETTLEMENT#{p.batch_id}", f"PAYOUT#{p.payout_id}", payout_id=p.payout_id,
                              distributor_id=p.distributor_id))

    def stage_change(self, tx: Tx, before: Payout, after: Payout, on_stale) -> None:
        actions = changed(PayoutItem, before, after, _PLAIN, _encode)
        if after.commission_ids != before.commission_ids:
            added = after.commission_ids[len(before.commission_ids):]
            if after.commission_ids[:len(before.commission_ids)] != before.commission_ids:
                raise ValueError("a payout's commissions are only ever appended to")
            actions += [PayoutItem.commission_sks.set(
                PayoutItem.commission_sks.append([commission_sk(c) for c in added])),
                PayoutItem.commission_count.set(after.commission_count)]
        # The open queue (gsi2): left when final; re-dated when WeChat has it and we wait.
        if after.final and not before.final:
            actions += [PayoutItem.gsi2pk.remove(), PayoutItem.gsi2sk.remove()]
        elif not after.final and (after.status == domain.WAIT_USER_CONFIRM or after.parts != before.parts):
            actions += [PayoutItem.gsi2pk.set(OPEN), PayoutItem.gsi2sk.set(f"{after.updated_at}#{after.payout_id}")]
        actions.append(PayoutItem.version.set(after.version))
        tx.update(PayoutItem(*payout_key(before.payout_id)), actions=actions, condition=_at(before),
                  on_fail=on_stale)
