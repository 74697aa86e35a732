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

The distributor's commission debt (layers/domain/commission_debt.py) is deducted first:
when the payout's commissions are all in, in the transaction that ends its claim, with
the DEDUCTION entry and conditioned on the debt covering it. A payout the debt takes
whole (0) settles its commissions and sends nothing to WeChat.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from datetime import datetime

from layers.clock import iso
from layers.domain import commission_debt as debts
from layers.domain import commission_entry as cm
from layers.domain import errors
from layers.domain import payout as domain
from layers.domain import transfer_authorization as auth_rules
from layers.domain.commission_entry import Commission, CommissionRepository
from layers.domain.payment_gateway import (
    OrderNotFoundAtWeChat,
    PaymentGateway,
    WeChatPayError,
    retry_later,
)
from layers.domain.payout import Batch, Payout, PayoutRepository
from layers.domain.transfer_authorization import (
    TransferAuthorization,
    TransferAuthorizationRepository,
)
from layers.domain.users import UserRepository, user_id_for
from layers.observability import logger

CHUNK = 90  # commission moves per transaction (DynamoDB allows 100 items, with room for the payout)
TRANSFERS_PER_SECOND = 50  # per container; the consumer runs at most 2 at once: <= 100/s, WeChat's limit
ATTEMPTS = 10
TRANSFER_NOTIFY_PATH = "/wechatpay/transfer-notify"


_UNKNOWN = object()  # a query without a known outcome


class PayoutChanged(Exception):
    """Something moved between our read and our write: the message is retried, and resumes."""


class Pacer:
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


class SettlementService:
    """Batches and payouts. `distribution` is the DistributionService (the freeze sweep and
    the settleable commissions); `pay` the WeChat Pay client; `send(queue_url, body,
    delay_s=0)` puts one message on SQS; `settings` the deployment's settings
    (settlement_queue_url, wechatpay_mchid, wechat_appid, wechatpay_notify_base_url);
    `shop_settings.load_settings(fresh)` the shop's rules (settlement_mode)."""

    def __init__(self, *, payouts: PayoutRepository, commissions: CommissionRepository, distribution,
                 pay: PaymentGateway, send: Callable[..., None], users: UserRepository, shop_settings,
                 settings, clock, new_tx, pacer: Pacer | None = None,
                 authorizations: TransferAuthorizationRepository | None = None):
        self.payouts = payouts
        self.commissions = commissions
        self.distribution = distribution
        self.pay = pay
        self.send = send
        self.users = users
        self.shop_settings = shop_settings
        self.settings = settings
        self.clock = clock
        self.new_tx = new_tx
        self.pacer = pacer or Pacer(TRANSFERS_PER_SECOND)
        self.authorizations = authorizations

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- the job -------------------------------------------------------------------------------

    def settle_commissions(self, inline: bool = False) -> dict:
        """The `settle-commissions` job: open today's batch and settle everyone with something
        SETTLEABLE. `inline` does the per-distributor work here instead of through the
        settlement queue (tests, benches)."""
        now = self.clock.now()
        due = self.distribution.make_due_settleable(now)
        batch = self._open_batch(now)
        distributors = self.commissions.distributors_with_settleable()
        if inline:
            results = [self.handle_message({"batch_id": batch.batch_id, "distributor_id": d}) for d in distributors]
        else:
            for d in distributors:
                self.send(self.settings.settlement_queue_url, {"batch_id": batch.batch_id, "distributor_id": d})
            results = []
        followed = self.follow_up_open_payouts()
        summary = {"batch_id": batch.batch_id, "mode": batch.mode, "made_settleable": due.get("settleable", 0),
                   "distributors": len(distributors), "followed_up": followed}
        if inline:
            summary["payouts"] = {r: results.count(r) for r in set(results)}
        self.payouts.record_run(batch.batch_id, summary)
        return summary

    def _open_batch(self, now: datetime) -> Batch:
        existing = self.payouts.get_batch(domain.batch_id_for(now))
        if existing is not None:
            return existing  # the mode chosen when the day's batch opened holds for all its runs
        batch = domain.open_batch(now, self.shop_settings.load_settings(fresh=True).settlement_mode, iso(now))
        if self.payouts.create_batch(batch):
            return batch
        return self.payouts.get_batch(batch.batch_id)  # another run opened it first

    # -- one distributor (the settlement queue's consumer) ----------------------------------------

    def handle_message(self, message: dict) -> str:
        """Build (or resume) one distributor's payout in a batch, and pay it. Idempotent."""
        batch = self.payouts.get_batch(message["batch_id"])
        if batch is None:
            raise LookupError(f"no batch {message['batch_id']}")
        distributor_id = message["distributor_id"]
        payout_id = domain.payout_id_for(batch.batch_id, distributor_id)
        logger.append_keys(payout_id=payout_id)
        payout = self.payouts.get(payout_id)
        if payout is None or payout.status == domain.CLAIMING:
            payout = self._claim(batch, distributor_id, payout_id, payout)
            if payout is None:
                return "NOTHING_TO_SETTLE"
        return str(self._advance(payout))

    def _claim(self, batch: Batch, distributor_id: str, payout_id: str, payout: Payout | None) -> Payout | None:
        """Move the distributor's SETTLEABLE commissions into the payout, chunk by chunk; a
        run that dies between chunks resumes here. Negative adjustments go first, so a
        payout is never PAYING for less than it owes back. Then the commission debt is
        deducted first. Less than WeChat's smallest transfer left to pay (but more than 0)
        waits, SETTLEABLE, for the next settlement."""
        items = sorted(self.distribution.list_settleable(distributor_id), key=lambda c: c.amount)
        smallest = 1 if batch.mode == domain.MANUAL else domain.MIN_TRANSFER_FEN
        if payout is None and not debts.payable(sum(c.amount for c in items), self._debt(distributor_id), smallest):
            return None  # nothing (or too little) to pay: it carries forward
        now = self._now()
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            ids, amount = tuple(c.commission_id for c in chunk), sum(c.amount for c in chunk)
            tx = self.new_tx()
            if payout is None:
                after = domain.start_claim(batch, distributor_id, ids, amount, now)
                self.payouts.stage_create(tx, after, on_exists=PayoutChanged)
            else:
                after = domain.add_claimed(payout, ids, amount, now)
                self.payouts.stage_change(tx, payout, after, on_stale=PayoutChanged)
            for c in chunk:
                # SETTLEABLE and SETTLING share a stats bucket: no stats write needed here.
                self.commissions.stage_change(tx, c, cm.claim(c, payout_id, now).after, on_stale=PayoutChanged)
            tx.commit()  # PayoutChanged propagates: the message is retried and resumes
            payout = after
        if payout is None:
            return None
        max_fen = self.shop_settings.load_settings().payout_max_fen
        for _ in range(ATTEMPTS):
            if payout.status != domain.CLAIMING:
                return payout  # another run finished the claim
            deducted = debts.deduct_for_transfer(payout.amount, self._debt(distributor_id), smallest)
            after = domain.claimed(payout, now, max_fen, deducted)
            tx = self.new_tx()
            self.payouts.stage_change(tx, payout, after, on_stale=PayoutChanged)
            if deducted:
                self.commissions.stage_deduction(
                    tx, debts.deduction(distributor_id, payout_id, deducted, now), on_short=PayoutChanged)
            try:
                tx.commit()
            except PayoutChanged:  # the payout moved on, or the debt changed: read both again
                payout = self.payouts.get(payout_id)
                continue
            logger.info("payout ready", extra={"amount": after.amount, "deducted": deducted, "mode": after.mode,
                                               "parts": len(after.parts)})
            return after
        raise PayoutChanged(f"payout {payout_id} kept changing")

    def _debt(self, distributor_id: str) -> int:
        """The distributor's outstanding commission debt, read consistently."""
        stats = self.commissions.stats(distributor_id)
        return max(0, stats.debt) if stats else 0

    def _change(self, before: Payout, after: Payout) -> None:
        tx = self.new_tx()
        self.payouts.stage_change(tx, before, after, on_stale=PayoutChanged)
        tx.commit()

    def _advance(self, payout: Payout) -> str:
        """Whatever the payout waits for that is ours to do: settle it once every part is paid,
        ask WeChat about parts whose outcome we have not heard."""
        if payout.status == domain.PAYING:
            for part in payout.parts:
                if part.status in (domain.TRANSFERRING, domain.WAIT_USER_CONFIRM):
                    payout = self._follow_part(payout, part.index) or payout
            if any(p.status == domain.READY for p in payout.parts) and self._authorized(payout.distributor_id):
                # Confirmation-free receipt granted: pay now, nobody needs to claim.
                for part in payout.parts:
                    if part.status == domain.READY:
                        payout = self._claim_and_send(payout, part.index) or payout
            if payout.nothing_to_send:
                return self._settle(payout, domain.DEDUCTED)  # the debt took it all: no transfer
            if payout.all_parts_paid:
                return self._settle(payout, domain.SUCCESS)
        return str(payout.status)

    # -- parts: the transfers, claimed by the distributor ------------------------------------

    def claim(self, user_id: str, part_id: str) -> dict:
        """POST /me/payouts/{id}/claim: WeChat's user-confirmation mode creates the transfer
        when the distributor asks for it; asking again while it waits answers the same
        transfer's package."""
        parsed = domain.parse_part_id(part_id)
        payout = self.payouts.get(parsed[0]) if parsed else None
        if payout is None or payout.distributor_id != user_id or not payout.parts:
            raise errors.NotFound("no such payout")
        index = parsed[1]
        payout.part(index)  # NotFound for a part it does not have
        for _ in range(ATTEMPTS):
            part = payout.part(index)
            if part.status == domain.READY:
                try:
                    after = domain.claim_part(payout, index, self._now())
                    self._change(payout, after)
                except PayoutChanged:
                    payout = self.payouts.get(payout.payout_id)
                    continue
                payout = self._send_part(after, index) or after
            elif part.status == domain.TRANSFERRING:
                payout = self._follow_part(payout, index) or payout
            part = payout.part(index)
            if part.status == domain.TRANSFERRING:
                raise errors.UpstreamUnavailable("WeChat Pay has not answered yet; ask again in a moment")
            if part.status == domain.READY:
                raise errors.NotAcceptable(f"WeChat Pay refused the transfer: {part.fail_reason}")
            return self._part_view(payout, part)
        raise errors.RateLimited("the payout is busy; try again in a moment")

    def _claim_and_send(self, payout: Payout, index: int) -> Payout | None:
        try:
            after = domain.claim_part(payout, index, self._now())
            self._change(payout, after)
        except (PayoutChanged, errors.InvalidState):
            return None  # claimed by the distributor (or another run) meanwhile
        return self._send_part(after, index) or after

    # -- confirmation-free receipt (免确认收款授权) ------------------------------------------------

    def _authorization(self, user_id: str, refresh: bool = False, force: bool = False) -> TransferAuthorization | None:
        """Ours, and WeChat's word on it when it waits for the user and `refresh`, or `force`
        (WeChat refused a transfer with it: the user revoked it)."""
        if self.authorizations is None or not self.shop_settings.load_settings().transfer_authorization:
            return None
        current = self.authorizations.get(user_id)
        if current is not None and (force or (refresh and current.state == auth_rules.WAIT_USER_CONFIRM)):
            try:
                answer = self.pay.query_authorization(current.out_authorization_no)
            except WeChatPayError as exc:
                logger.warning("authorization query without an answer", extra={"code": exc.code})
                return current
            current = auth_rules.from_wechat(current, answer, self._now())
            self.authorizations.save(current)
        return current

    def _authorized(self, user_id: str) -> bool:
        current = self._authorization(user_id, refresh=True)
        return current is not None and current.effective

    def _transfer_call(self, payout: Payout, bill: str, openid: str, amount: int) -> dict:
        """The one WeChat call that makes a part's transfer: with the distributor's granted
        authorization (no confirmation), asking for it (the shop's choice, until granted),
        or plain user-confirmation."""
        common = dict(out_bill_no=bill, openid=openid, amount_fen=amount,
                      remark=f"佣金结算{payout.batch_id[1:]}", notify_url=self._notify_url())
        shop = self.shop_settings.load_settings()
        if self.authorizations is None or not shop.transfer_authorization:
            return self.pay.transfer(**common)
        current = self.authorizations.get(payout.distributor_id)
        if current is not None and current.effective:
            return self.pay.authorized_transfer(**common, authorization_id=current.authorization_id)
        asking = auth_rules.asked(payout.distributor_id, self._now(), current)
        self.authorizations.save(asking)
        return self.pay.transfer(**common, authorization_info={
            "user_display_name": auth_rules.display_name(shop.transfer_display_name, payout.distributor_id),
            "out_authorization_no": asking.out_authorization_no,
            "authorization_notify_url": self._notify_url()})

    def _send_part(self, payout: Payout, index: int) -> Payout | None:
        """Ask WeChat for the transfer of one part, under its attempt's out_bill_no. An
        unknown outcome leaves it TRANSFERRING: the next claim or follow-up asks WeChat with
        the same number first."""
        part = payout.part(index)
        bill = domain.out_bill_no(payout.payout_id, part)
        user = self.users.get_user(payout.distributor_id)
        if user is None:
            return self._part_update(payout, index, lambda p: domain.part_returned(
                p, index, "NO_OPENID", self._now(), final_at_wechat=False))
        self.pacer.wait()
        try:
            answer = self._transfer_call(payout, bill, user.openid, part.amount)
        except WeChatPayError as exc:
            if retry_later(exc):
                logger.warning("transfer outcome unknown", extra={"out_bill_no": bill, "code": exc.code})
                return None
            known = self._query(bill)
            if known is _UNKNOWN:
                return None
            if known is None:
                logger.error("transfer refused", extra={"out_bill_no": bill, "code": exc.code,
                                                        "reason": exc.message})
                if exc.code == "NO_AUTH":
                    self._authorization(payout.distributor_id, force=True)  # revoked: claimed again
                # WeChat never had this number: the next claim may use it again.
                reason = f"{exc.code}: {exc.message}"
                return self._part_update(payout, index, lambda p: domain.part_returned(
                    p, index, reason, self._now(), final_at_wechat=False))
            answer = known
        return self._apply_part(payout, index, part.attempt, answer)

    def _query(self, bill: str):
        """WeChat's view of a transfer: its answer, None when WeChat has no such transfer, or
        _UNKNOWN when the query has no known outcome."""
        try:
            return self.pay.query_transfer(bill)
        except OrderNotFoundAtWeChat:
            return None
        except WeChatPayError as exc:
            logger.warning("transfer query without an answer", extra={"out_bill_no": bill, "code": exc.code})
            return _UNKNOWN

    def _follow_part(self, payout: Payout, index: int) -> Payout | None:
        """A part in flight whose outcome we have not heard: ask WeChat; a transfer WeChat
        does not have is sent again under the same number."""
        part = payout.part(index)
        known = self._query(domain.out_bill_no(payout.payout_id, part))
        if known is _UNKNOWN:
            return None
        if known is None:
            if part.status == domain.TRANSFERRING:
                return self._send_part(payout, index)
            return None
        if (domain.outcome(known) == domain.WAITING and not known.get("package_info")
                and not part.package_info):
            # The query does not carry the package the distributor needs; the same transfer
            # asked for again (same out_bill_no, same fields) answers it.
            return self._send_part(payout, index)
        return self._apply_part(payout, index, part.attempt, known)

    def _apply_part(self, payout: Payout, index: int, attempt: int, answer: dict) -> Payout | None:
        """What WeChat says of one attempt of a part."""
        outcome = domain.outcome(answer)
        now = self._now()
        if outcome == domain.SUCCEEDED:
            after = self._part_update(payout, index, lambda p: domain.part_paid(p, index, answer, now),
                                      attempt=attempt)
            if after is not None and after.all_parts_paid:
                self._settle(after, domain.SUCCESS)
                return self.payouts.get(payout.payout_id)
            return after
        if outcome == domain.FAILED:
            reason = answer.get("fail_reason") or answer.get("state") or "FAIL"
            logger.warning("transfer ended unpaid; the part is READY again", extra={"reason": reason})
            return self._part_update(payout, index, lambda p: domain.part_returned(p, index, reason, now),
                                     attempt=attempt)
        return self._part_update(payout, index, lambda p: domain.part_waiting(p, index, answer, now),
                                 attempt=attempt)

    def _part_update(self, payout: Payout, index: int, transition, attempt: int | None = None) -> Payout | None:
        """Apply `transition` to the payout, re-reading on conflict; None when the part has
        moved on (another attempt, or already where the transition leads)."""
        for _ in range(ATTEMPTS):
            part = payout.part(index)
            if attempt is not None and part.attempt != attempt:
                return None
            try:
                after = transition(payout)
            except errors.InvalidState:
                return None
            try:
                self._change(payout, after)
                return after
            except PayoutChanged:
                payout = self.payouts.get(payout.payout_id)
        raise PayoutChanged(f"payout {payout.payout_id} kept changing")

    def _notify_url(self) -> str:
        return (self.settings.wechatpay_notify_base_url or "").rstrip("/") + TRANSFER_NOTIFY_PATH

    def _in_payout(self, payout: Payout, status: str) -> list[Commission]:
        found = self.commissions.get_many(payout.distributor_id, list(payout.commission_ids))
        return [c for c in found if c.status == status and c.settlement_id == payout.payout_id]

    def _move_settling(self, payout: Payout, transition, now: str) -> None:
        """Move the payout's SETTLING commissions by `transition` (settle, or give back), a
        chunk per transaction with the distributor's figures; a rerun finds the moved ones gone."""
        settling = self._in_payout(payout, cm.SETTLING)
        for start in range(0, len(settling), CHUNK):
            changes = [transition(c, now) for c in settling[start:start + CHUNK]]
            tx = self.new_tx()
            for change in changes:
                self.commissions.stage_change(tx, change.before, change.after, on_stale=PayoutChanged)
            self.commissions.stage_stats(tx, payout.distributor_id, cm.add_stats(*(c.stats for c in changes)))
            tx.commit()

    def _settle(self, payout: Payout, final: str, answer: dict | None = None) -> str:
        """SETTLING -> SETTLED for every commission of the payout, then the payout is final."""
        now = self._now()
        self._move_settling(payout, cm.settle, now)
        for _ in range(ATTEMPTS):
            if payout.final:
                return payout.status
            after = domain.paid(payout, final, answer, now)
            try:
                self._change(payout, after)
            except PayoutChanged:
                payout = self.payouts.get(payout.payout_id)
                continue
            logger.info("payout settled", extra={"amount": after.amount, "deducted": after.deducted,
                                                 "status": final})
            return final
        raise PayoutChanged(f"payout {payout.payout_id} kept changing")

    # -- follow-ups: notifications, queries, operators ----------------------------------------------

    def on_transfer_result(self, resource: dict) -> None:
        """MCHTRANSFER.BILL.FINISHED (and other transfer notifications), and the notification
        of a confirmation-free receipt authorization (it names no bill)."""
        if resource.get("out_authorization_no") and not resource.get("out_bill_no"):
            self._on_authorization(resource)
            return
        bill = resource.get("out_bill_no", "")
        logger.append_keys(out_bill_no=bill)
        if resource.get("mch_id") not in (None, self.settings.wechatpay_mchid):
            logger.error("transfer notification for another merchant", extra={"alarm": "TRANSFER_MISMATCH"})
            return
        parsed = domain.parse_out_bill_no(bill)
        payout = self.payouts.get(parsed[0]) if parsed else None
        part = next((q for q in payout.parts if q.index == parsed[1]), None) if payout else None
        if part is None:
            logger.error("transfer notification for an unknown payout", extra={"alarm": "TRANSFER_MISMATCH"})
            return
        if resource.get("transfer_amount") not in (None, part.amount):
            logger.error("transfer amount differs from the payout", extra={"alarm": "TRANSFER_MISMATCH"})
            return
        attempt = parsed[2]
        if attempt != part.attempt:
            if domain.outcome(resource) == domain.SUCCEEDED:
                self._late_success(payout, part, resource)
            return  # an older attempt's end, already recorded
        if part.status == domain.SUCCESS:
            return
        self._apply_part(payout, part.index, attempt, resource)

    def _on_authorization(self, resource: dict) -> None:
        current = None
        if resource.get("openid") and self.authorizations is not None:
            current = self.authorizations.get(user_id_for(resource["openid"]))
        if current is None or current.out_authorization_no != resource.get("out_authorization_no"):
            logger.error("authorization notification for nobody we asked", extra={"alarm": "TRANSFER_MISMATCH"})
            return
        self.authorizations.save(auth_rules.from_wechat(current, resource, self._now()))

    def _late_success(self, payout: Payout, part, resource: dict) -> None:
        """WeChat says an attempt we recorded as ended (CANCELLED/FAIL) paid after all: the
        money moved. Raise the alarm and record the part paid, so it is not paid again."""
        logger.error("a transfer recorded as ended was paid",
                     extra={"alarm": "TRANSFER_SUCCEEDED_AFTER_FAILURE", "payout_id": payout.payout_id,
                            "part": part.index, "state_now": part.status})
        if part.status == domain.READY:
            after = self._part_update(payout, part.index,
                                      lambda p: domain.part_paid(p, part.index, resource, self._now()))
            if after is not None and after.all_parts_paid:
                self._settle(after, domain.SUCCESS)

    def follow_up_open_payouts(self, limit: int = 1000) -> dict:
        """Payouts whose outcome we have not heard: ask WeChat (same out_bill_no), and resume
        payouts a dead run left CLAIMING, or fully paid but not yet settled."""
        counts: dict[str, int] = {}
        for candidate in self.payouts.open(limit):
            payout = self.payouts.get(candidate.payout_id)
            if payout is None or payout.final or payout.status == domain.AWAITING_MANUAL:
                continue
            try:
                if payout.status == domain.CLAIMING:
                    result = self.handle_message({"batch_id": payout.batch_id,
                                                  "distributor_id": payout.distributor_id})
                else:
                    result = self._advance(payout)
            except Exception:  # noqa: BLE001 - one payout's trouble does not stop the others
                logger.exception("follow-up failed", extra={"payout_id": payout.payout_id})
                result = "ERROR"
            counts[result] = counts.get(result, 0) + 1
        return counts

    def mark_paid_manually(self, payout_id: str) -> dict:
        payout = self.payouts.get(payout_id)
        if payout is None:
            raise errors.NotFound("no such payout")
        if domain.mark_paid_allowed(payout):
            self._settle(payout, domain.PAID_MANUALLY)
        return self.payout_view(self.payouts.get(payout_id), admin=True)

    # -- views -------------------------------------------------------------------------------------

    def _part_view(self, p: Payout, part) -> dict:
        """One transfer. `deducted`: the commission debt its payout paid back, shown once
        (on the payout's first transfer, 0 on the others) so the transfers add up."""
        view = {"id": domain.part_id(p.payout_id, part.index), "amount": part.amount, "status": part.status,
                "created_at": p.created_at, "updated_at": part.updated_at or p.updated_at, "batch_id": p.batch_id,
                "deducted": p.deducted if part.index == 0 else 0}
        if part.status == domain.WAIT_USER_CONFIRM and part.package_info:
            view["confirm"] = {"mch_id": self.settings.wechatpay_mchid, "app_id": self.settings.wechat_appid,
                               "package": part.package_info}
        return view

    def payout_views(self, p: Payout) -> list[dict]:
        """What a distributor sees: one payout per transfer (part), or the payout itself
        while it has no parts (being claimed, paid offline, or taken whole by the debt)."""
        if p.parts:
            return [self._part_view(p, part) for part in p.parts]
        return [{"id": p.payout_id, "amount": p.amount, "status": p.status, "created_at": p.created_at,
                 "updated_at": p.updated_at, "batch_id": p.batch_id, "deducted": p.deducted}]

    def payout_view(self, p: Payout, admin: bool = False) -> dict:
        view = {"id": p.payout_id, "amount": p.amount, "status": p.status, "created_at": p.created_at,
                "updated_at": p.updated_at, "batch_id": p.batch_id, "deducted": p.deducted}
        if admin:
            view.update(gross=p.gross, distributor_id=p.distributor_id, mode=p.mode, commission_count=p.commission_count,
                        fail_reason=p.fail_reason,
                        parts=[{**self._part_view(p, part), "attempt": part.attempt,
                                "out_bill_no": domain.out_bill_no(p.payout_id, part),
                                "fail_reason": part.fail_reason, "transfer_bill_no": part.transfer_bill_no}
                               for part in p.parts])
        return view

    def my_payouts(self, user_id: str, limit: int, cursor: dict | None):
        items, next_key = self.payouts.list_for_user(user_id, limit, cursor)
        return [view for p in items for view in self.payout_views(p)], next_key

    def batches(self, limit: int, cursor: dict | None):
        items, next_key = self.payouts.list_batches(limit, cursor)
        out = []
        for b in items:
            payouts = self.payouts.get_many(self.payouts.batch_payout_ids(b.batch_id))
            out.append({"id": b.batch_id, "day": b.day, "mode": b.mode, "created_at": b.created_at,
                        "total": sum(p.amount for p in payouts),
                        "deducted": sum(p.deducted for p in payouts),
                        "payouts": [self.payout_view(p, admin=True) for p in payouts]})
        return out, next_key

    def batch_csv(self, batch_id: str) -> str:
        if self.payouts.get_batch(batch_id) is None:
            raise errors.NotFound("no such settlement batch")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["payout_id", "distributor_id", "openid", "amount_fen", "amount_yuan", "status",
                         "commissions", "gross_fen", "deducted_fen"])
        for p in self.payouts.get_many(self.payouts.batch_payout_ids(batch_id)):
            user = self.users.get_user(p.distributor_id)
            writer.writerow([p.payout_id, p.distributor_id, user.openid if user else "",
                             p.amount, f"{p.amount / 100:.2f}", p.status, p.commission_count, p.gross,
                             p.deducted])
        return out.getvalue()
