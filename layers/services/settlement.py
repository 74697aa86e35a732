"""结算: settling distributors' SETTLEABLE commissions, once a day and on demand.

`settle-commissions` opens the day's batch and fans out one SQS message per distributor
with something to settle; each message builds that distributor's payout (id derived
from batch and distributor = WeChat's out_bill_no) by moving the commissions into it,
then pays it: in `auto` mode by a WeChat Pay merchant transfer (scene 1005 佣金报酬),
in `manual` mode by an operator who pays offline and marks it paid.

Every step is a conditional write on the state it read, and every WeChat call about a
payout uses its one out_bill_no, asking WeChat first whenever the last attempt's outcome
is unknown. A job killed at any point and run again pays nobody twice and skips nobody.
A failed transfer gives its commissions back to SETTLEABLE for the next run.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime

from pynamodb.exceptions import PutError, UpdateError

from layers import clock
from layers.config import settings
from layers.domain import errors
from layers.observability import logger
from layers.services import wechat as wx
from layers.storage import distribution as dist
from layers.storage import settlement as store
from layers.storage.catalog import load_settings
from layers.storage.distribution import CommissionItem
from layers.storage.ledger import BEIJING
from layers.storage.settlement import BatchItem, BatchPayoutRef, PayoutItem
from layers.storage.tx import Tx
from layers.storage.users import get_user

CHUNK = 90  # commission moves per transaction (DynamoDB allows 100 items, with room for the payout)
TRANSFERS_PER_SECOND = 50  # per container; the consumer runs at most 2 at once: <= 100/s, WeChat's limit


class _Changed(Exception):
    """Something moved between our read and our write: the message is retried."""


# -- ids ------------------------------------------------------------------------------

def batch_id_for(now: datetime) -> str:
    return "B" + now.astimezone(BEIJING).strftime("%Y%m%d")


def payout_id_for(batch_id: str, distributor_id: str) -> str:
    """WeChat's out_bill_no: letters and digits, at most 32 characters, stable."""
    return "P" + batch_id[1:] + hashlib.sha256(distributor_id.encode()).hexdigest()[:20]


# -- pacing ----------------------------------------------------------------------------

class _Pacer:
    """A token bucket: at most `rate` transfers a second from this container."""

    def __init__(self, rate: float):
        self.rate, self.tokens, self.last = rate, rate, time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                time.sleep((1 - self.tokens) / self.rate)
                self.tokens = 1
                self.last = time.monotonic()
            self.tokens -= 1


_pacer = _Pacer(TRANSFERS_PER_SECOND)


# -- the job ---------------------------------------------------------------------------

def settle_commissions(inline: bool = False) -> dict:
    """Open today's batch and settle everyone with something SETTLEABLE. `inline` does the
    per-distributor work here instead of through the settlement queue (tests, benches)."""
    from layers.services import distribution

    now = clock.now()
    due = distribution.make_due_settleable(now)
    batch = _open_batch(batch_id_for(now), now)
    distributors = dist.distributors_with_settleable()
    if inline:
        results = [handle_message({"batch_id": batch.batch_id, "distributor_id": d}) for d in distributors]
    else:
        _enqueue(batch.batch_id, distributors)
        results = []
    followed = follow_up_open_payouts()
    summary = {"batch_id": batch.batch_id, "mode": batch.mode, "made_settleable": due.get("settleable", 0),
               "distributors": len(distributors), "followed_up": followed}
    if inline:
        summary["payouts"] = {r: results.count(r) for r in set(results)}
    batch.update(actions=[BatchItem.runs.add(1), BatchItem.last_run.set(summary)])
    return summary


def _open_batch(batch_id: str, now: datetime) -> BatchItem:
    existing = store.get_batch(batch_id)
    if existing is not None:
        return existing  # the mode chosen when the day's batch opened holds for all its runs
    item = BatchItem(*store.batch_key(batch_id), batch_id=batch_id, day=now.astimezone(BEIJING).date().isoformat(),
                     mode=load_settings(fresh=True).settlement_mode, created_at=clock.iso(now),
                     gsi1pk="SETTLEMENTS", gsi1sk=f"{now.astimezone(BEIJING).date().isoformat()}#{batch_id}")
    try:
        item.save(condition=BatchItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return store.get_batch(batch_id)  # another run opened it first
    return item


def _enqueue(batch_id: str, distributor_ids: list[str]) -> None:
    from layers.services.outbox import sqs

    url = settings().settlement_queue_url
    for start in range(0, len(distributor_ids), 10):
        chunk = distributor_ids[start:start + 10]
        sqs().send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"batch_id": batch_id, "distributor_id": d})}
            for i, d in enumerate(chunk)])


# -- one distributor --------------------------------------------------------------------

def handle_message(message: dict) -> str:
    """Build (or resume) one distributor's payout in a batch, and pay it. Idempotent."""
    batch = store.get_batch(message["batch_id"])
    if batch is None:
        raise LookupError(f"no batch {message['batch_id']}")
    distributor_id = message["distributor_id"]
    payout_id = payout_id_for(batch.batch_id, distributor_id)
    logger.append_keys(payout_id=payout_id)
    payout = store.get_payout(payout_id)
    if payout is None or payout.status == store.CLAIMING:
        payout = _claim(batch, distributor_id, payout_id, payout)
        if payout is None:
            return "NOTHING_TO_SETTLE"
    return _advance(payout)


def _claim(batch: BatchItem, distributor_id: str, payout_id: str, payout: PayoutItem | None) -> PayoutItem | None:
    """Move the distributor's SETTLEABLE commissions into the payout, chunk by chunk; a run
    that dies between chunks resumes here. Negative adjustments go first, so a payout is
    never READY for less than it owes back."""
    from layers.services import distribution

    items = sorted(distribution.list_settleable(distributor_id), key=lambda i: int(i.amount))
    if payout is None:
        if sum(int(i.amount) for i in items) <= 0:
            return None  # nothing to pay: adjustments stay SETTLEABLE and carry forward
    now = clock.now_iso()
    for start in range(0, len(items), CHUNK):
        chunk = items[start:start + CHUNK]
        tx = Tx()
        amount = sum(int(i.amount) for i in chunk)
        if payout is None:
            payout = PayoutItem(
                *store.payout_key(payout_id), payout_id=payout_id, batch_id=batch.batch_id,
                distributor_id=distributor_id, mode=batch.mode, status=store.CLAIMING, amount=amount,
                commission_count=len(chunk), commission_sks=[i.sk for i in chunk], created_at=now, updated_at=now,
                gsi1pk=f"USER#{distributor_id}#PAYOUTS", gsi1sk=f"{now}#{payout_id}",
                gsi2pk=store.OPEN, gsi2sk=f"{now}#{payout_id}")
            tx.put(payout, condition=PayoutItem.pk.does_not_exist(), on_fail=_Changed)
            tx.put(BatchPayoutRef(f"SETTLEMENT#{batch.batch_id}", f"PAYOUT#{payout_id}", payout_id=payout_id,
                                  distributor_id=distributor_id))
        else:
            tx.update(payout, actions=[PayoutItem.amount.add(amount), PayoutItem.commission_count.add(len(chunk)),
                                       PayoutItem.commission_sks.set(PayoutItem.commission_sks.append([i.sk for i in chunk])),
                                       PayoutItem.updated_at.set(now)],
                      condition=PayoutItem.status == store.CLAIMING, on_fail=_Changed)
        for item in chunk:
            # SETTLEABLE and SETTLING share a stats bucket: no stats write needed here.
            tx.update(item, actions=[CommissionItem.status.set(dist.SETTLING), CommissionItem.rev.add(1),
                                     CommissionItem.updated_at.set(now), CommissionItem.settlement_id.set(payout_id),
                                     CommissionItem.gsi2pk.remove(), CommissionItem.gsi2sk.remove()],
                      condition=dist.unchanged(item), on_fail=_Changed)
        tx.commit()  # _Changed propagates: the message is retried and resumes
        payout = store.get_payout(payout_id)
    if payout is None:
        return None
    next_status = store.AWAITING_MANUAL if payout.mode == "manual" else store.READY
    payout.update(actions=[PayoutItem.status.set(next_status), PayoutItem.updated_at.set(now)],
                  condition=PayoutItem.status == store.CLAIMING)
    logger.info("payout ready", extra={"amount": int(payout.amount), "mode": payout.mode})
    return payout


def _advance(payout: PayoutItem) -> str:
    if payout.status in store.FINAL or payout.status in (store.AWAITING_MANUAL, store.WAIT_USER_CONFIRM):
        return payout.status
    if payout.status == store.TRANSFERRING:
        # The last attempt's outcome is unknown: ask WeChat before anything else.
        known = _query(payout)
        if known is not None:
            return _apply_state(payout, known)
    return _transfer(payout)


def _query(payout: PayoutItem) -> dict | None:
    from layers.wechat.pay_client import OrderNotFoundAtWeChat

    try:
        return wx.pay_client().query_transfer(payout.payout_id)
    except OrderNotFoundAtWeChat:
        return None


def _transfer(payout: PayoutItem) -> str:
    from layers.wechat.pay_client import WeChatPayError, WeChatPayUnavailable

    now = clock.now_iso()
    try:
        payout.update(actions=[PayoutItem.status.set(store.TRANSFERRING), PayoutItem.updated_at.set(now)],
                      condition=PayoutItem.status.is_in(store.READY, store.TRANSFERRING))
    except UpdateError:
        payout.refresh(consistent_read=True)
        return payout.status
    user = get_user(payout.distributor_id)
    if user is None:
        return _fail(payout, "NO_OPENID")
    _pacer.wait()
    try:
        answer = wx.pay_client().transfer(
            out_bill_no=payout.payout_id, openid=user.openid, amount_fen=int(payout.amount),
            remark=f"佣金结算{payout.batch_id[1:]}", notify_url=wx.notify_url("/wechatpay/transfer-notify"))
    except WeChatPayUnavailable:
        raise  # unknown outcome: the retry asks WeChat first, with the same out_bill_no
    except WeChatPayError as exc:
        logger.error("transfer refused", extra={"code": exc.code, "reason": exc.message})
        return _fail(payout, f"{exc.code}: {exc.message}"[:200])
    return _apply_state(payout, answer)


def _apply_state(payout: PayoutItem, answer: dict) -> str:
    state = answer.get("state")
    if state == "SUCCESS":
        return _settle(payout, store.SUCCESS, answer)
    if state in ("FAIL", "CANCELLED"):
        return _fail(payout, answer.get("fail_reason") or state)
    # ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, CANCELING: WeChat has it.
    now = clock.now_iso()
    actions = [PayoutItem.status.set(store.WAIT_USER_CONFIRM), PayoutItem.wechat_state.set(state or "UNKNOWN"),
               PayoutItem.updated_at.set(now), PayoutItem.gsi2sk.set(f"{now}#{payout.payout_id}")]
    if answer.get("package_info"):
        actions.append(PayoutItem.package_info.set(answer["package_info"]))
    if answer.get("transfer_bill_no"):
        actions.append(PayoutItem.transfer_bill_no.set(answer["transfer_bill_no"]))
    try:
        payout.update(actions=actions, condition=PayoutItem.status.is_in(store.TRANSFERRING, store.WAIT_USER_CONFIRM))
    except UpdateError:
        pass
    return store.WAIT_USER_CONFIRM


def _commissions(payout: PayoutItem, status: str) -> list[CommissionItem]:
    keys = [(dist.dist_pk(payout.distributor_id), sk) for sk in payout.commission_sks]
    found = []
    for start in range(0, len(keys), 100):
        found.extend(CommissionItem.batch_get(keys[start:start + 100], consistent_read=True))
    return [c for c in found if c.status == status and c.settlement_id == payout.payout_id]


def _settle(payout: PayoutItem, final: str, answer: dict | None = None) -> str:
    """SETTLING -> SETTLED for every commission of the payout, then the payout is final."""
    now = clock.now_iso()
    pending = _commissions(payout, dist.SETTLING)
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start:start + CHUNK]
        tx = Tx()
        for item in chunk:
            tx.update(item, actions=[CommissionItem.status.set(dist.SETTLED), CommissionItem.rev.add(1),
                                     CommissionItem.settled_at.set(now), CommissionItem.updated_at.set(now)],
                      condition=dist.unchanged(item), on_fail=_Changed)
        total = sum(int(i.amount) for i in chunk)
        if total:
            tx.update(dist.stats_ref(payout.distributor_id),
                      actions=dist.stats_actions({"settleable": -total, "settled": total}))
        tx.commit()
    actions = [PayoutItem.status.set(final), PayoutItem.updated_at.set(now), PayoutItem.gsi2pk.remove(),
               PayoutItem.gsi2sk.remove()]
    if answer and answer.get("transfer_bill_no"):
        actions.append(PayoutItem.transfer_bill_no.set(answer["transfer_bill_no"]))
    try:
        payout.update(actions=actions, condition=~PayoutItem.status.is_in(*store.FINAL))
    except UpdateError:
        payout.refresh(consistent_read=True)
        return payout.status
    logger.info("payout settled", extra={"amount": int(payout.amount), "status": final})
    return final


def _fail(payout: PayoutItem, reason: str) -> str:
    """The money did not move: the commissions go back to SETTLEABLE for the next run."""
    now = clock.now_iso()
    for start in range(0, len(back := _commissions(payout, dist.SETTLING)), CHUNK):
        tx = Tx()
        for item in back[start:start + CHUNK]:
            tx.update(item, actions=[CommissionItem.status.set(dist.SETTLEABLE), CommissionItem.rev.add(1),
                                     CommissionItem.updated_at.set(now), CommissionItem.settlement_id.remove(),
                                     CommissionItem.gsi2pk.set(dist.settleable_key(item.distributor_id)),
                                     CommissionItem.gsi2sk.set(dist.settleable_queue_sk(item))],
                      condition=dist.unchanged(item), on_fail=_Changed)
        tx.commit()
    try:
        payout.update(actions=[PayoutItem.status.set(store.FAIL), PayoutItem.fail_reason.set(reason[:200]),
                               PayoutItem.updated_at.set(now), PayoutItem.gsi2pk.remove(), PayoutItem.gsi2sk.remove()],
                      condition=~PayoutItem.status.is_in(*store.FINAL))
    except UpdateError:
        pass
    logger.warning("payout failed; commissions returned", extra={"reason": reason})
    return store.FAIL


# -- follow-ups: notifications, queries, operators ---------------------------------------

def on_transfer_result(resource: dict) -> None:
    """MCHTRANSFER.BILL.FINISHED (and other transfer notifications)."""
    if resource.get("mch_id") not in (None, settings().wechatpay_mchid):
        logger.error("transfer notification for another merchant", extra={"alarm": "TRANSFER_MISMATCH"})
        return
    payout = store.get_payout(resource.get("out_bill_no", ""))
    if payout is None:
        logger.error("transfer notification for an unknown payout", extra={"alarm": "TRANSFER_MISMATCH"})
        return
    if resource.get("transfer_amount") not in (None, int(payout.amount)):
        logger.error("transfer amount differs from the payout", extra={"alarm": "TRANSFER_MISMATCH"})
        return
    if payout.status in store.FINAL:
        return
    _apply_state(payout, resource)


def follow_up_open_payouts(limit: int = 1000) -> dict:
    """Payouts whose outcome we have not heard: ask WeChat (same out_bill_no), and resume
    payouts a dead run left READY or TRANSFERRING."""
    counts: dict[str, int] = {}
    for candidate in store.open_payouts(limit=limit):
        payout = store.get_payout(candidate.payout_id)
        if payout is None or payout.status in store.FINAL or payout.status == store.AWAITING_MANUAL:
            continue
        try:
            if payout.status == store.WAIT_USER_CONFIRM:
                answer = _query(payout)
                result = _apply_state(payout, answer) if answer else payout.status
            elif payout.status == store.CLAIMING:
                result = handle_message({"batch_id": payout.batch_id, "distributor_id": payout.distributor_id})
            else:
                result = _advance(payout)
        except Exception:  # noqa: BLE001 - one payout's trouble does not stop the others
            logger.exception("follow-up failed", extra={"payout_id": payout.payout_id})
            result = "ERROR"
        counts[result] = counts.get(result, 0) + 1
    return counts


def mark_paid_manually(payout_id: str) -> dict:
    payout = store.get_payout(payout_id)
    if payout is None:
        raise errors.NotFound("no such payout")
    if payout.status == store.PAID_MANUALLY:
        return payout_view(payout, admin=True)
    if payout.status != store.AWAITING_MANUAL:
        raise errors.InvalidState(f"only an {store.AWAITING_MANUAL} payout can be marked paid; it is {payout.status}")
    _settle(payout, store.PAID_MANUALLY)
    return payout_view(store.get_payout(payout_id), admin=True)


# -- views ------------------------------------------------------------------------------

def payout_view(p: PayoutItem, admin: bool = False) -> dict:
    view = {"id": p.payout_id, "amount": int(p.amount), "status": p.status, "created_at": p.created_at,
            "updated_at": p.updated_at, "batch_id": p.batch_id}
    if p.status == store.WAIT_USER_CONFIRM and p.package_info:
        s = settings()
        view["confirm"] = {"mch_id": s.wechatpay_mchid, "app_id": s.wechat_appid, "package": p.package_info}
    if admin:
        view.update(distributor_id=p.distributor_id, mode=p.mode, commission_count=int(p.commission_count),
                    fail_reason=p.fail_reason, transfer_bill_no=p.transfer_bill_no)
    return view


def my_payouts(user_id: str, limit: int, cursor: dict | None):
    items, next_key = store.list_user_payouts(user_id, limit, cursor)
    return [payout_view(p) for p in items], next_key


def batches(limit: int, cursor: dict | None):
    items, next_key = store.list_batches(limit, cursor)
    out = []
    for b in items:
        payouts = store.get_payouts(store.batch_payout_ids(b.batch_id))
        out.append({"id": b.batch_id, "day": b.day, "mode": b.mode, "created_at": b.created_at,
                    "total": sum(int(p.amount) for p in payouts), "payouts": [payout_view(p, admin=True) for p in payouts]})
    return out, next_key


def batch_csv(batch_id: str) -> str:
    import csv
    import io

    if store.get_batch(batch_id) is None:
        raise errors.NotFound("no such settlement batch")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["payout_id", "distributor_id", "openid", "amount_fen", "amount_yuan", "status", "commissions"])
    for p in store.get_payouts(store.batch_payout_ids(batch_id)):
        user = get_user(p.distributor_id)
        writer.writerow([p.payout_id, p.distributor_id, user.openid if user else "", int(p.amount),
                         f"{int(p.amount) / 100:.2f}", p.status, int(p.commission_count)])
    return out.getvalue()
