"""What the shop needs of WeChat Pay, as a Protocol, and the errors it answers with.

`layers/wechat/pay_client.py` implements it over APIv3; `tests/fakes/` has an in-memory
one. Every call about one payment, refund or transfer carries the same number
(out_trade_no, out_refund_no, out_bill_no), so a retry is never a second movement.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol


class WeChatPayError(Exception):
    """WeChat Pay answered, and said no."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class OutcomeUnknown(WeChatPayError):
    """WeChat may or may not have acted: ask it (query with the same number) before
    deciding, and retry with the same number. Never a failure by itself."""


class WeChatPayUnavailable(OutcomeUnknown):
    """Timeout, connection error or 5xx: nothing is known; retry with the same ids."""


class ResponseNotVerified(OutcomeUnknown):
    """A 2xx whose signature does not verify: WeChat may have acted, we cannot believe
    what the answer says (RESPONSE_NOT_VERIFIED)."""


class FrequencyLimited(OutcomeUnknown):
    """429 FREQUENCY_LIMITED: not accepted this time; the same call, later."""


class OrderNotFoundAtWeChat(WeChatPayError):
    pass


# Error codes WeChat Pay documents as "not done; call again with the same number"
# (SYSTEM_ERROR 系统超时/繁忙, FREQUENCY_LIMITED 频率限制, NOT_ENOUGH 余额不足: the merchant
# tops up and retries with the same out_refund_no / out_bill_no).
RETRY_SAME_NUMBER = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "BANKERROR", "NETWORK",
                               "RESPONSE_NOT_VERIFIED"})


def retry_later(exc: Exception) -> bool:
    """True when the outcome is unknown or WeChat asked for the same call again later."""
    return isinstance(exc, OutcomeUnknown) or (isinstance(exc, WeChatPayError)
                                                and exc.code in RETRY_SAME_NUMBER)


# -- inbound: a notification that is not genuine ------------------------------------------

class NotificationError(Exception):
    """Not a genuine WeChat Pay message: answer 4xx, change nothing."""


class SignatureProbe(NotificationError):
    """WeChat Pay's own check that we refuse bad signatures (WECHATPAY/SIGNTEST/)."""


class MissingHeaders(NotificationError):
    pass


class StaleTimestamp(NotificationError):
    pass


class UnknownSerial(NotificationError):
    pass


class BadSignature(NotificationError):
    pass


class DecryptFailed(NotificationError):
    pass


class MalformedNotification(NotificationError):
    pass



class PaymentGateway(Protocol):
    def jsapi_prepay(self, out_trade_no: str, description: str, total_fen: int, payer_openid: str,
                     notify_url: str, time_expire: datetime) -> str: ...

    def jsapi_params(self, prepay_id: str) -> dict:
        """The arguments of wx.requestPayment for this prepay id, signed."""

    def query_order(self, out_trade_no: str) -> dict: ...

    def close_order(self, out_trade_no: str) -> None: ...

    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int,
               reason: str, notify_url: str) -> dict: ...

    def query_refund(self, out_refund_no: str) -> dict: ...

    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                 **kwargs) -> dict: ...

    def query_transfer(self, out_bill_no: str) -> dict: ...

    def authorized_transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                            authorization_id: str) -> dict: ...

    def query_authorization(self, out_authorization_no: str) -> dict: ...

    def trade_bill(self, bill_date: date) -> bytes:
        """The day's ALL trade bill as the bytes WeChat served, verified against its SHA1;
        WeChatPayError NO_STATEMENT_EXIST when the day has none."""
