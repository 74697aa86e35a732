"""The message push's signature and safe mode, through wechatpy.

wechatpy's `WeChatCrypto` is WeChat's documented message crypto (msg_signature over
token, timestamp, nonce and the ciphertext; AES-256-CBC with the EncodingAESKey, IV = the
key's first 16 bytes, PKCS#7 to 32 bytes; plaintext = 16 random bytes, the length, the
message, the appid, which it checks). It takes the safe-mode body as a dict, so the
mini-program's JSON body (`{"ToUserName", "Encrypt"}`) goes straight in. The plain
signature is compared here in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from layers.domain.message_push import InvalidPush


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class PushCrypto:
    def __init__(self, token: str | None, aes_key: str | None, appid: str | None):
        self.token = token
        self.appid = appid
        self.safe_mode_required = bool(aes_key)
        self._crypto = WeChatCrypto(token or "", aes_key, appid or "") if aes_key else None

    def check_signature(self, signature_: str, timestamp: str, nonce: str) -> None:
        if not self.token:
            raise InvalidPush("WECHAT_PUSH_TOKEN is not set")
        if not (signature_ and timestamp and nonce):
            raise InvalidPush("signature, timestamp and nonce are required")
        # Bytes: compare_digest refuses str with non-ASCII characters (anyone can send them).
        if not hmac.compare_digest(signature(self.token, timestamp, nonce).encode(), signature_.encode()):
            raise InvalidPush("the signature does not verify")

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        if self._crypto is None:
            raise InvalidPush("safe mode needs WECHAT_PUSH_AES_KEY")
        try:
            plain = self._crypto.decrypt_message({"Encrypt": encrypted}, msg_signature or "", timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise InvalidPush(type(exc).__name__) from exc
        except Exception as exc:  # noqa: BLE001 - a body that does not decrypt is a forgery, not a 500
            raise InvalidPush("the body does not decrypt") from exc
        return plain.decode() if isinstance(plain, bytes) else plain
