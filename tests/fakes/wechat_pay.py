"""An in-memory WeChat Pay for service tests: it keeps trades and refunds by our own
numbers, as WeChat does, so a retry with the same number finds the same thing. The
protocol itself (signatures, encryption, field rules) is the sandbox's job."""

from __future__ import annotations

from layers.domain.payment_gateway import (
    OrderNotFoundAtWeChat,
    ResponseNotVerified,
    WeChatPayError,
    WeChatPayUnavailable,
)
from tests.fakes.faults import Faults


class FakePayGateway:
    def __init__(self, mchid: str = "1900000001", appid: str = "wx-test"):
        self.mchid, self.appid = mchid, appid
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.unavailable = False  # every call raises WeChatPayUnavailable while True
        self.refund_status = "PROCESSING"  # what a new refund answers
        self._faults = Faults()

    def fault(self, call: str, error: Exception | str, times: int = 1, after: bool = False) -> None:
        """The next `times` calls named `call` raise `error`; with `after`, only once WeChat
        has done what was asked (the answer is lost or does not verify: the money moved).
        `error` may be a WeChat error code, raised as a final WeChatPayError."""
        if isinstance(error, str):
            error = WeChatPayError(403 if error == "NOT_ENOUGH" else 400, error, "injected")
        self._faults.add(call, error, times, after)

    def lose_answer(self, call: str, times: int = 1) -> None:
        self.fault(call, ResponseNotVerified(200, "RESPONSE_NOT_VERIFIED", "bad signature"), times, after=True)

    def _fault(self, call: str, after: bool) -> None:
        self._faults.raise_if_due(call, after)

    def _call(self, *call) -> None:
        self.calls.append(call)
        if self.unavailable:
            raise WeChatPayUnavailable(503, "SYSTEM_ERROR", "try again")
        self._fault(call[0], after=False)

    def jsapi_prepay(self, out_trade_no, description, total_fen, payer_openid, notify_url, time_expire) -> str:
        self._call("prepay", out_trade_no)
        trade = self.trades.setdefault(out_trade_no, {"out_trade_no": out_trade_no, "trade_state": "NOTPAY",
                                                      "amount": {"total": total_fen}})
        if trade["amount"]["total"] != total_fen:
            raise WeChatPayError(400, "INVALID_REQUEST", "same out_trade_no, different amount")
        return f"wx-prepay-{out_trade_no}"

    def jsapi_params(self, prepay_id: str) -> dict:
        return {"package": f"prepay_id={prepay_id}", "signType": "RSA"}

    def pay(self, out_trade_no: str, transaction_id: str | None = None) -> dict:
        """The shopper pays: what WeChat's notification would carry."""
        trade = self.trades[out_trade_no]
        trade.update(trade_state="SUCCESS", mchid=self.mchid, appid=self.appid,
                     transaction_id=transaction_id or f"42000{out_trade_no}",
                     success_time="2026-11-29T10:00:00+08:00")
        return dict(trade)

    def query_order(self, out_trade_no: str) -> dict:
        self._call("query", out_trade_no)
        if out_trade_no not in self.trades:
            raise OrderNotFoundAtWeChat(404, "ORDER_NOT_EXIST", "no such order")
        return dict(self.trades[out_trade_no])

    def close_order(self, out_trade_no: str) -> None:
        self._call("close", out_trade_no)
        trade = self.trades.get(out_trade_no)
        if trade is not None and trade["trade_state"] == "SUCCESS":
            raise WeChatPayError(400, "ORDERPAID", "already paid")
        if trade is not None:
            trade["trade_state"] = "CLOSED"

    def refund(self, out_trade_no, out_refund_no, refund_fen, total_fen, reason, notify_url) -> dict:
        self._call("refund", out_refund_no)
        refund = self.refunds.setdefault(out_refund_no, {
            "out_refund_no": out_refund_no, "out_trade_no": out_trade_no, "refund_id": f"50000{out_refund_no}",
            "status": self.refund_status, "amount": {"refund": refund_fen, "total": total_fen}})
        self._fault("refund", after=True)
        return dict(refund)

    def refunds_of(self, out_trade_no: str) -> list[dict]:
        return [r for r in self.refunds.values() if r["out_trade_no"] == out_trade_no]

    def query_refund(self, out_refund_no: str) -> dict:
        self._call("query_refund", out_refund_no)
        if out_refund_no not in self.refunds:
            raise OrderNotFoundAtWeChat(404, "RESOURCE_NOT_EXISTS", "no such refund")
        return dict(self.refunds[out_refund_no])

    def apply_abnormal_refund(self, wechat_refund_id, out_refund_no, kind, **bank) -> dict:
        self._call("apply_abnormal_refund", out_refund_no)
        refund = self.refunds[out_refund_no]
        if refund["refund_id"] != wechat_refund_id or refund["status"] != "ABNORMAL":
            raise WeChatPayError(400, "INVALID_REQUEST", "not an abnormal refund")
        refund.update(status="PROCESSING", abnormal=kind)
        return dict(refund)
