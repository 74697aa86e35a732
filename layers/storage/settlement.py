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

Payout statuses: CLAIMING (commissions being moved into it) -> READY -> TRANSFERRING ->
WAIT_USER_CONFIRM -> SUCCESS | FAIL; in manual mode READY -> AWAITING_MANUAL -> PAID_MANUALLY.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute

from layers.storage.base import Listed, ListedAndQueued, ShopModel

CLAIMING = "CLAIMING"
READY = "READY"
TRANSFERRING = "TRANSFERRING"
WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"
SUCCESS = "SUCCESS"
FAIL = "FAIL"
AWAITING_MANUAL = "AWAITING_MANUAL"
PAID_MANUALLY = "PAID_MANUALLY"
FINAL = (SUCCESS, FAIL, PAID_MANUALLY)
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
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


def batch_key(batch_id: str) -> tuple[str, str]:
    return f"SETTLEMENT#{batch_id}", "BATCH"


def payout_key(payout_id: str) -> tuple[str, str]:
    return f"PAYOUT#{payout_id}", "PAYOUT"


def get_batch(batch_id: str) -> BatchItem | None:
    try:
        return BatchItem.get(*batch_key(batch_id), consistent_read=True)
    except BatchItem.DoesNotExist:
        return None


def get_payout(payout_id: str) -> PayoutItem | None:
    try:
        return PayoutItem.get(*payout_key(payout_id), consistent_read=True)
    except PayoutItem.DoesNotExist:
        return None


def batch_payout_ids(batch_id: str) -> list[str]:
    return [r.payout_id for r in BatchPayoutRef.query(f"SETTLEMENT#{batch_id}",
                                                      BatchPayoutRef.sk.startswith("PAYOUT#"))]


def get_payouts(payout_ids: list[str]) -> list[PayoutItem]:
    if not payout_ids:
        return []
    return list(PayoutItem.batch_get([payout_key(i) for i in payout_ids]))


def list_batches(limit: int, cursor: dict | None):
    result = BatchItem.gsi1.query("SETTLEMENTS", scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def list_user_payouts(user_id: str, limit: int, cursor: dict | None):
    result = PayoutItem.gsi1.query(f"USER#{user_id}#PAYOUTS", scan_index_forward=False, limit=limit,
                                   last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def open_payouts(limit: int = 1000):
    return PayoutItem.gsi2.query(OPEN, limit=limit)
