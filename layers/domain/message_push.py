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


class InvalidPush(Exception):
    """The signature does not verify, or the safe-mode body does not decrypt."""


class PushCrypto(Protocol):
    safe_mode_required: bool

    def check_signature(self, signature: str, timestamp: str, nonce: str) -> None:
        """InvalidPush unless signature = sha1(sort(token, timestamp, nonce))."""

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """The plaintext of a safe-mode body; InvalidPush if it does not verify or decrypt."""
