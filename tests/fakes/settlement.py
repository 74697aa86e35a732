"""In-memory twins of layers/storage/settlement.py (batches, payouts: a payout change
needs the stored status and version it was decided from), of WeChat's merchant
transfers (kept by out_bill_no, so a retry finds the same transfer), and of SQS.

Keys: ("batch", id) -> Batch, ("payout", id) -> Payout, ("batch_payout", batch_id, payout_id).
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain.payment_gateway import (
    OrderNotFoundAtWeChat,
    WeChatPayError,
    WeChatPayUnavailable,
)
from layers.domain.payout import Batch, Payout
from tests.fakes.faults import Faults
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryPayoutRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get_batch(self, batch_id: str) -> Batch | None:
        return self.store.get(("batch", batch_id))

    def create_batch(self, batch: Batch) -> bool:
        with self.store.lock:
            if ("batch", batch.batch_id) in self.store.items:
                return False
            self.store.items[("batch", batch.batch_id)] = batch
            return True

    def record_run(self, batch_id: str, summary: dict) -> None:
        with self.store.lock:
            b = self.store.items[("batch", batch_id)]
            self.store.items[("batch", batch_id)] = replace(b, runs=b.runs + 1, last_run=summary)

    def list_batches(self, limit: int, cursor: dict | None):
        rows = sorted(self.store.scan(("batch",)), key=lambda b: (b.day, b.batch_id), reverse=True)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(rows)
        return rows[start:start + limit], ({"offset": start + limit} if more else None)

    def batch_payout_ids(self, batch_id: str) -> list[str]:
        return self.store.scan(("batch_payout", batch_id))

    def get(self, payout_id: str) -> Payout | None:
        return self.store.get(("payout", payout_id))

    def get_many(self, payout_ids: list[str]) -> list[Payout]:
        return [p for i in dict.fromkeys(payout_ids) if (p := self.get(i)) is not None]

    def list_for_user(self, user_id: str, limit: int, cursor: dict | None):
        rows = sorted((p for p in self.store.scan(("payout",)) if p.distributor_id == user_id),
                      key=lambda p: (p.created_at, p.payout_id), reverse=True)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(rows)
        return rows[start:start + limit], ({"offset": start + limit} if more else None)

    def open(self, limit: int = 1000) -> list[Payout]:
        return [p for p in self.store.scan(("payout",)) if not p.final][:limit]

    def stage_create(self, tx: MemoryTx, payout: Payout, on_exists) -> None:
        key = ("payout", payout.payout_id)

        def apply(items):
            items[key] = payout
            items[("batch_payout", payout.batch_id, payout.payout_id)] = payout.payout_id

        tx.add(lambda items: key not in items, apply, on_exists)

    def stage_change(self, tx: MemoryTx, before: Payout, after: Payout, on_stale) -> None:
        key = ("payout", before.payout_id)
        tx.add(lambda items: key in items and items[key].status == before.status
               and items[key].version == before.version,
               lambda items: items.__setitem__(key, after), on_stale)


class FakeTransfers:
    """WeChat Pay's merchant transfers (`transfer`, `query_transfer`), by out_bill_no. A new
    transfer answers `state` (WAIT_USER_CONFIRM) with a package; `finish` ends it.
    `fault(call, error, times, after)` makes the next calls raise `error`, before WeChat
    acts or (after=True) once it has: a lost answer, the money moved."""

    def __init__(self):
        self.transfers: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.unavailable = False
        self.refuse: WeChatPayError | None = None  # the next transfer is refused with it
        self.state = "WAIT_USER_CONFIRM"
        self._faults = Faults()
        self.authorizations: dict[str, dict] = {}  # out_authorization_no -> WeChat's record

    def fault(self, call: str, error: Exception, times: int = 1, after: bool = False) -> None:
        self._faults.add(call, error, times, after)

    def _fault(self, call: str, after: bool) -> None:
        self._faults.raise_if_due(call, after)

    def _call(self, *call) -> None:
        self.calls.append(call)
        if self.unavailable:
            raise WeChatPayUnavailable(503, "SYSTEM_ERROR", "try again")
        self._fault(call[0], after=False)

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                 **kwargs) -> dict:
        self._call("transfer", out_bill_no)
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            raise error
        auth = kwargs.get("authorization_info")
        if auth is not None:
            self.authorizations.setdefault(auth["out_authorization_no"], {
                "out_authorization_no": auth["out_authorization_no"], "openid": openid, "state": "WAIT_USER_CONFIRM"})
        bill = self.transfers.setdefault(out_bill_no, {
            "out_bill_no": out_bill_no, "transfer_bill_no": f"1330{out_bill_no}", "openid": openid,
            "transfer_amount": amount_fen, "state": self.state, "package_info": f"pkg-{out_bill_no}",
            "authorization": auth and auth["out_authorization_no"]})
        if bill["transfer_amount"] != amount_fen:
            raise WeChatPayError(400, "INVALID_REQUEST", "same out_bill_no, different amount")
        self._fault("transfer", after=True)
        return dict(bill)

    def query_transfer(self, out_bill_no: str) -> dict:
        self._call("query_transfer", out_bill_no)
        if out_bill_no not in self.transfers:
            raise OrderNotFoundAtWeChat(404, "NOT_FOUND", "no such transfer")
        return dict(self.transfers[out_bill_no])

    def finish(self, out_bill_no: str, succeed: bool = True, state: str | None = None) -> dict:
        """The distributor confirmed (or the transfer failed, or was CANCELLED: not confirmed
        in 24 hours): what the notification carries."""
        bill = self.transfers[out_bill_no]
        bill["state"] = state or ("SUCCESS" if succeed else "FAIL")
        if bill["state"] == "FAIL":
            bill["fail_reason"] = "PAYEE_ACCOUNT_ABNORMAL"
        if bill["state"] == "SUCCESS" and bill.get("authorization"):
            # confirming a transfer made with authorization_info grants the authorization
            self.authorizations[bill["authorization"]].update(state="TAKING_EFFECT",
                                                              authorization_id=f"auth-{bill['authorization']}")
        return dict(bill)

    def authorized_transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                            authorization_id: str) -> dict:
        self._call("authorized_transfer", out_bill_no)
        if not any(a.get("authorization_id") == authorization_id and a["state"] == "TAKING_EFFECT"
                   and a["openid"] == openid for a in self.authorizations.values()):
            raise WeChatPayError(403, "NO_AUTH", "用户未授权免确认收款或授权已失效")
        bill = self.transfers.setdefault(out_bill_no, {
            "out_bill_no": out_bill_no, "transfer_bill_no": f"1330{out_bill_no}", "openid": openid,
            "transfer_amount": amount_fen, "state": "ACCEPTED"})
        return dict(bill)

    def query_authorization(self, out_authorization_no: str) -> dict:
        self._call("query_authorization", out_authorization_no)
        if out_authorization_no not in self.authorizations:
            raise OrderNotFoundAtWeChat(404, "NOT_FOUND", "no such authorization")
        return dict(self.authorizations[out_authorization_no])

    def posts(self, out_bill_no: str) -> int:
        return sum(1 for c in self.calls if c == ("transfer", out_bill_no))

    def paid_total(self) -> int:
        return sum(b["transfer_amount"] for b in self.transfers.values() if b["state"] == "SUCCESS")


class RecordingSender:
    """`send(queue_url, body, delay_s=0)` that keeps what it was given."""

    def __init__(self):
        self.sent: list[tuple[str | None, dict]] = []

    def __call__(self, queue_url: str | None, body: dict, delay_s: int = 0) -> None:
        self.sent.append((queue_url, body))


