"""The mini-program message push (消息推送): what arrives, and the seam that checks it.

WeChat signs every push with `signature = sha1(sort(token, timestamp, nonce))` in the
query; in safe mode the body is `{"ToUserName", "Encrypt"}`, signed again by
`msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))` and encrypted with
AES-256-CBC under the EncodingAESKey. `layers/wechat/push_crypto.py` implements the seam.
In plaintext mode the signature does not cover the body, so once an AES key is set only
safe-mode pushes are accepted.
"""

from __future__ import annotations

from typing import Protocol

SETTLEMENT = "trade_manage_order_settlement"
REMIND_SHIPPING = "trade_manage_remind_shipping"
REMIND_ACCESS_API = "trade_manage_remind_access_api"


def settles(message: dict) -> bool:
    """Whether a `trade_manage_order_settlement` push says the order settled.

    WeChat sends this event twice per payment (小程序发货信息管理服务, "三、相关消息推送"):
    once when it accepts the shipping information, carrying only
    `estimated_settlement_time`, and once at settlement, with `confirm_receive_time` and
    `settlement_time`. Only the second means the goods arrived (or WeChat confirmed for
    the shopper); completing on the first would start the commission freeze and release
    points at shipping time."""
    return bool(message.get("settlement_time") or message.get("confirm_receive_time"))


class InvalidPush(Exception):
    """The signature does not verify, or the safe-mode body does not decrypt."""


class PushCrypto(Protocol):
    safe_mode_required: bool

    def check_signature(self, signature: str, timestamp: str, nonce: str) -> None:
        """InvalidPush unless signature = sha1(sort(token, timestamp, nonce))."""

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """The plaintext of a safe-mode body; InvalidPush if it does not verify or decrypt."""
