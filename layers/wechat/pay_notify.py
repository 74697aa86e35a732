"""Verifying what WeChat Pay sends us: notifications (signed and encrypted) and API
responses (signed). A typed notification or a typed error, nothing in between.

Order of checks: signature probe, headers, timestamp window, key lookup, signature,
then JSON and decryption, so nothing unverified is parsed. Bodies and decrypted
content are never logged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from layers.wechat import paycrypto

MAX_SKEW_S = 300
# The typed refusals live with the gateway's Protocol, so that routes and services can
# tell them apart without importing this module.
from layers.domain.payment_gateway import (  # noqa: E402,F401
    BadSignature,
    DecryptFailed,
    MalformedNotification,
    MissingHeaders,
    NotificationError,
    SignatureProbe,
    StaleTimestamp,
    UnknownSerial,
)

CERT_MAX_AGE_S = 12 * 3600
CERT_EXPIRY_MARGIN_S = 24 * 3600
UNKNOWN_SERIAL_REFRESH_S = 60


@dataclass(frozen=True)
class Notification:
    id: str
    create_time: str
    event_type: str
    resource_type: str
    summary: str
    resource: dict


Certificate = tuple[str, object, float]  # (serial, public key, not_after epoch seconds)


class WeChatPayKeys:
    """The keys WeChat Pay signs with, by serial: its public key (`PUB_KEY_ID_...`), and/or
    platform certificates fetched through `refresh` (both at once while a merchant
    migrates). Refreshes are rate-limited: a forged serial cannot make us call WeChat."""

    def __init__(self, public_key_id: str | None = None, public_key_pem: str | None = None,
                 refresh: Callable[[], list[Certificate]] | None = None,
                 clock: Callable[[], float] = time.time):
        self._keys: dict[str, tuple[object, float | None]] = {}
        if public_key_id and public_key_pem:
            self._keys[public_key_id] = (paycrypto.load_public_key(public_key_pem), None)
        self._refresh = refresh
        self._clock = clock
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._lock = threading.Lock()

    def set_refresh(self, refresh: Callable[[], list[Certificate]]) -> None:
        self._refresh = refresh

    def add_certificate(self, serial: str, public_key, not_after: float) -> None:
        self._keys[serial] = (public_key, not_after)

    def _certificates_stale(self, now: float) -> bool:
        if self._refresh is None:
            return False
        if self._fetched_at is None or now - self._fetched_at > CERT_MAX_AGE_S:
            return True
        return any(exp is not None and exp - now < CERT_EXPIRY_MARGIN_S for _, exp in self._keys.values())

    def _do_refresh(self, now: float) -> None:
        self._last_attempt = now
        for serial, key, not_after in self._refresh():
            self._keys[serial] = (key, not_after)
        self._fetched_at = now

    def get(self, serial: str):
        pinned = self._keys.get(serial)
        if pinned is not None and pinned[1] is None:
            return pinned[0]  # the configured public key: nothing to fetch
        now = self._clock()
        with self._lock:
            if self._certificates_stale(now) and self._may_refresh(now):
                self._try_refresh(now)
            if serial not in self._keys and self._may_refresh(now):
                self._try_refresh(now)
            found = self._keys.get(serial)
        if found is None:
            raise UnknownSerial(f"no WeChat Pay key with serial {serial}")
        key, not_after = found
        if not_after is not None and not_after < now:
            raise UnknownSerial(f"the certificate {serial} has expired")
        return key

    def _may_refresh(self, now: float) -> bool:
        return self._refresh is not None and (
            self._last_attempt is None or now - self._last_attempt >= UNKNOWN_SERIAL_REFRESH_S)

    def _try_refresh(self, now: float) -> None:
        try:
            self._do_refresh(now)
        except Exception:  # noqa: BLE001 - keep the keys we have; the caller decides
            self._last_attempt = now

    @property
    def serials(self) -> list[str]:
        return list(self._keys)

    def newest_certificate_serial(self) -> str | None:
        """The serial of the platform certificate that expires last (refreshing first when
        the certificates are stale or none is known yet), or None without certificates:
        what a certificate-mode merchant names in `Wechatpay-Serial`."""
        now = self._clock()
        with self._lock:
            if (self._certificates_stale(now) or not self._certificates()) and self._may_refresh(now):
                self._try_refresh(now)
            live = [(exp, serial) for serial, exp in self._certificates() if exp > now]
        return max(live)[1] if live else None

    def _certificates(self) -> list[tuple[str, float]]:
        return [(serial, exp) for serial, (_, exp) in self._keys.items() if exp is not None]


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class NotificationVerifier:
    def __init__(self, keys: WeChatPayKeys, apiv3_key: str, clock: Callable[[], float] = time.time,
                 max_skew_s: int = MAX_SKEW_S):
        self.keys = keys
        self.apiv3_key = apiv3_key
        self.clock = clock
        self.max_skew_s = max_skew_s

    def verify_signature(self, headers: Mapping[str, str], body: bytes | str) -> str:
        """The body as text, once its signature, serial and timestamp check out."""
        h = _headers(headers)
        signature = h.get("wechatpay-signature", "")
        if signature.startswith("WECHATPAY/SIGNTEST/"):
            raise SignatureProbe("signature probe")
        timestamp, nonce, serial = h.get("wechatpay-timestamp"), h.get("wechatpay-nonce"), h.get("wechatpay-serial")
        if not (signature and timestamp and nonce and serial):
            raise MissingHeaders("Wechatpay-Signature, -Timestamp, -Nonce and -Serial are required")
        kind = h.get("wechatpay-signature-type")
        if kind is not None and kind != paycrypto.SCHEMA:
            raise BadSignature(f"unsupported signature type {kind}")
        try:
            ts = int(timestamp)
        except ValueError as exc:
            raise StaleTimestamp("the timestamp is not a number") from exc
        if abs(self.clock() - ts) > self.max_skew_s:
            raise StaleTimestamp("the timestamp is more than 5 minutes off")
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        key = self.keys.get(serial)
        if not paycrypto.verify(key, paycrypto.response_message(timestamp, nonce, text), signature):
            raise BadSignature("the signature does not verify")
        return text

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> Notification:
        text = self.verify_signature(headers, body)
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise MalformedNotification("unsupported algorithm")
            plain = paycrypto.aead_decrypt(self.apiv3_key, resource["nonce"],
                                           resource.get("associated_data", ""), resource["ciphertext"])
        except NotificationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedNotification("not a WeChat Pay notification") from exc
        except paycrypto.InvalidTag as exc:
            raise DecryptFailed("the resource does not decrypt with our APIv3 key") from exc
        try:
            decrypted = json.loads(plain)
        except ValueError as exc:
            raise MalformedNotification("the resource is not JSON") from exc
        return Notification(id=str(envelope.get("id", "")), create_time=str(envelope.get("create_time", "")),
                            event_type=str(envelope.get("event_type", "")),
                            resource_type=str(envelope.get("resource_type", "")),
                            summary=str(envelope.get("summary", "")), resource=decrypted)

    def verify_response(self, headers: Mapping[str, str], body: bytes | str) -> str:
        return self.verify_signature(headers, body)
