"""Personal information sealed where it is stored: AES-256-GCM, one key per version.

A shopper's addresses (names, phones, where they live) are personal information under
PIPL (个人信息保护法): the shop must keep them secure, and a leaked table export, backup or
point-in-time copy must not be a list of who lives where. So what holds them stores
`seal(plaintext, context)`, never the plaintext, and reads it back with `open_`.

- A sealed value is `<version>:<base64 of nonce (12 bytes) + ciphertext + tag (16 bytes)>`,
  e.g. `v1:...`. The nonce is random per seal (96 bits: with one key, a repeat is a
  2^-96 event per pair of seals at our volumes).
- `context` is the associated data: it names the item the value belongs to (its key), so
  a value copied into another shopper's item does not open there. It is authenticated,
  not stored.
- Keys: PII_KEY is the key new seals use, `v1` unless it names its version
  (`v2:<base64>`); PII_KEYS lists retired keys that still open what they sealed
  (`v1:<base64>,...`). Each key is 32 random bytes, base64. Rotation: move the current key
  into PII_KEYS, put a new one with the next version in PII_KEY (docs/addresses.md).
- No key, a malformed one, or a value naming a version we hold no key for raises
  `PiiKeyError`: nothing is ever written or read as plaintext instead.

Only storage imports this (pyproject.toml's import-linter contract). It loads
`cryptography` on the first seal or open, not at import.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from layers.config import settings

NONCE_BYTES = 12
KEY_BYTES = 32
_VERSION = re.compile(r"v[1-9][0-9]{0,5}")


class PiiKeyError(RuntimeError):
    """The keys are missing or malformed, or a sealed value names a version we hold no key
    for: a configuration fault, never an answer to a shopper's input."""


class PiiTampered(ValueError):
    """A sealed value that does not open under its key and context: altered, truncated,
    or moved from the item it was sealed for."""


@dataclass(frozen=True)
class Keyring:
    current: str                 # the version new seals use
    keys: dict[str, bytes]       # version -> 32-byte key, the current one included

    def seal(self, plaintext: bytes, context: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, context.encode())
        return f"{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def open_(self, token: str, context: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, sep, body = token.partition(":")
        if not sep or not _VERSION.fullmatch(version):
            raise PiiTampered("not a sealed value")
        key = self.keys.get(version)
        if key is None:
            raise PiiKeyError(f"no PII key of version {version} (PII_KEY or PII_KEYS): it cannot be opened")
        try:
            blob = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise PiiTampered("a sealed value that is not base64") from None
        if len(blob) < NONCE_BYTES + 16:
            raise PiiTampered("a sealed value too short to be one")
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise PiiTampered(f"a sealed value that does not open under key {version} for this item") from None


def _key(entry: str, setting: str, default_version: str | None) -> tuple[str, bytes]:
    entry = entry.strip()
    version, sep, encoded = entry.partition(":")
    if not sep:
        if default_version is None:
            raise PiiKeyError(f"{setting}: each key is `<version>:<base64>`, e.g. v1:...")
        version, encoded = default_version, entry
    if not _VERSION.fullmatch(version):
        raise PiiKeyError(f"{setting}: a key's version is v1, v2, ...; not {version[:8]!r}")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise PiiKeyError(f"{setting}: key {version} is not base64") from None
    if len(key) != KEY_BYTES:
        raise PiiKeyError(f"{setting}: key {version} must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return version, key


def keyring(current: str | None, retired: str | None = None) -> Keyring:
    """The keys of PII_KEY (`current`) and PII_KEYS (`retired`, comma-separated)."""
    if not current:
        raise PiiKeyError("PII_KEY is not configured: personal information is never stored in plaintext "
                          "(docs/addresses.md says how to provide it)")
    version, key = _key(current, "PII_KEY", "v1")
    keys = {version: key}
    for entry in (retired or "").split(","):
        if not entry.strip():
            continue
        old_version, old_key = _key(entry, "PII_KEYS", None)
        if keys.get(old_version, old_key) != old_key:
            raise PiiKeyError(f"PII_KEYS: two different keys named {old_version}")
        keys[old_version] = old_key
    newest = max(keys, key=lambda v: int(v[1:]))
    if newest != version:
        raise PiiKeyError(f"PII_KEY is {version} but PII_KEYS holds the newer {newest}: new seals use the newest "
                          "key, so PII_KEY must be it")
    return Keyring(current=version, keys=keys)


_rings: dict[tuple[str | None, str | None], Keyring] = {}


def _ring() -> Keyring:
    """The keyring of the settings as they are now (a SnapStart restore may have read new
    ones), parsed once per value."""
    s = settings()
    configured = (s.pii_key, s.pii_keys)
    ring = _rings.get(configured)
    if ring is None:
        ring = _rings[configured] = keyring(*configured)
    return ring


def seal(plaintext: bytes, context: str) -> str:
    """`plaintext` encrypted under the newest key, bound to `context` (the item's key)."""
    return _ring().seal(plaintext, context)


def open_(token: str, context: str) -> bytes:
    """What `seal` sealed for `context`, under whichever key version it names."""
    return _ring().open_(token, context)


def new_key(version: str = "v1") -> str:
    """A fresh key as PII_KEY takes it (`make deploy` and `make dev` generate one)."""
    return f"{version}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


# -- blind indexes: find a sealed value by equality without opening anything -------------------

def _index_key(key: bytes, purpose: str) -> bytes:
    """A key for `purpose` derived from a PII key by HKDF-SHA256: never the sealing key itself,
    and one per purpose, so a hash of the whole number and one of its last four digits are
    not comparable with each other."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"wechat-shop blind index {purpose}".encode()).derive(key)


def blind_index(value: str, purpose: str) -> str:
    """`<version>:<hex HMAC-SHA256>` of `value` under the newest key's index key: what is stored
    beside the sealed value and indexed. Equal values give equal indexes under one key
    version; the value cannot be read back from it without the key."""
    import hashlib
    import hmac

    ring = _ring()
    mac = hmac.new(_index_key(ring.keys[ring.current], purpose), value.encode(), hashlib.sha256).hexdigest()
    return f"{ring.current}:{mac}"


def blind_indexes(value: str, purpose: str) -> list[str]:
    """`value`'s index under every key held (the newest first): a lookup asks for each, so a
    record indexed before a key rotation is still found (until the recount re-indexes it)."""
    import hashlib
    import hmac

    ring = _ring()
    versions = sorted(ring.keys, key=lambda v: -int(v[1:]))
    return [f"{v}:{hmac.new(_index_key(ring.keys[v], purpose), value.encode(), hashlib.sha256).hexdigest()}"
            for v in versions]
