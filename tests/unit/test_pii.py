"""Personal information sealed at rest (layers/storage/pii.py): AES-256-GCM with a random
nonce, bound to its item by the associated data, under a named key version; old versions
still open after a rotation, new seals use the newest key; no key is a loud failure."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from layers.config import reset_settings_cache
from layers.storage import pii
from layers.storage.pii import PiiKeyError, PiiTampered, keyring

ROOT = Path(__file__).resolve().parents[2]
KEY1, KEY2 = os.urandom(32), os.urandom(32)
V1 = "v1:" + base64.b64encode(KEY1).decode()
V2 = "v2:" + base64.b64encode(KEY2).decode()
PLAIN = "张三 13800000000 南京西路 1 号".encode()
CONTEXT = "USER#u1|ADDRESSES"


def _flip(token: str, at: int) -> str:
    version, _, body = token.partition(":")
    blob = bytearray(base64.b64decode(body))
    blob[at] ^= 0x01
    return f"{version}:{base64.b64encode(bytes(blob)).decode()}"


def test_a_sealed_value_opens_to_what_was_sealed_and_shows_none_of_it():
    ring = keyring(V1)
    token = ring.seal(PLAIN, CONTEXT)
    assert token.startswith("v1:")
    assert ring.open_(token, CONTEXT) == PLAIN
    assert "13800000000" not in token and PLAIN not in base64.b64decode(token[3:])
    # A fresh nonce each time: the same address sealed twice gives two different values.
    assert ring.seal(PLAIN, CONTEXT) != token


def test_it_is_aes_256_gcm_with_the_nonce_first_and_the_context_as_associated_data():
    """An oracle independent of our code: cryptography's AESGCM opens our value."""
    token = keyring(V1).seal(PLAIN, CONTEXT)
    blob = base64.b64decode(token.partition(":")[2])
    assert len(blob) == 12 + len(PLAIN) + 16
    assert AESGCM(KEY1).decrypt(blob[:12], blob[12:], CONTEXT.encode()) == PLAIN


@pytest.mark.parametrize("at", [0, 11, 12, -1])  # the nonce, the ciphertext, the tag
def test_a_tampered_value_is_refused(at):
    ring = keyring(V1)
    token = ring.seal(PLAIN, CONTEXT)
    with pytest.raises(PiiTampered):
        ring.open_(_flip(token, at), CONTEXT)


def test_a_value_moved_to_another_item_or_cut_short_or_garbled_is_refused():
    ring = keyring(V1)
    token = ring.seal(PLAIN, CONTEXT)
    with pytest.raises(PiiTampered):
        ring.open_(token, "USER#u2|ADDRESSES")  # another shopper's item
    with pytest.raises(PiiTampered):
        ring.open_(token[:20], CONTEXT)
    for garbled in ("", "no-version", "v1:not base64!", "x1:" + token[3:], PLAIN.decode()):
        with pytest.raises(PiiTampered):
            ring.open_(garbled, CONTEXT)


def test_after_a_rotation_old_values_still_open_and_new_ones_use_the_new_key():
    old = keyring(V1).seal(PLAIN, CONTEXT)
    rotated = keyring(V2, V1)
    assert rotated.current == "v2"
    assert rotated.open_(old, CONTEXT) == PLAIN
    new = rotated.seal(PLAIN, CONTEXT)
    assert new.startswith("v2:")
    blob = base64.b64decode(new[3:])
    assert AESGCM(KEY2).decrypt(blob[:12], blob[12:], CONTEXT.encode()) == PLAIN
    # Once v1 is retired for good, what it sealed does not open: a missing key, said as such.
    with pytest.raises(PiiKeyError, match="v1"):
        keyring(V2).open_(old, CONTEXT)


def test_a_bare_key_is_version_1():
    bare = base64.b64encode(KEY1).decode()
    assert keyring(bare).open_(keyring(V1).seal(PLAIN, CONTEXT), CONTEXT) == PLAIN


@pytest.mark.parametrize("current, retired, message", [
    (None, None, "PII_KEY is not configured"),
    ("", None, "PII_KEY is not configured"),
    ("v1:" + base64.b64encode(os.urandom(16)).decode(), None, "32 bytes"),
    ("v1:not-base64!", None, "not base64"),
    ("version1:" + base64.b64encode(KEY1).decode(), None, "version"),
    (V1, base64.b64encode(KEY2).decode(), "<version>:<base64>"),   # a retired key must say its version
    (V1, V2, "newer v2"),                                         # new seals must use the newest key
    (V2, "v2:" + base64.b64encode(KEY1).decode(), "two different keys"),
])
def test_missing_or_malformed_keys_fail_loudly(current, retired, message):
    with pytest.raises(PiiKeyError, match=message):
        keyring(current, retired)


def test_seal_and_open_use_the_settings_and_refuse_without_a_key(monkeypatch):
    monkeypatch.setenv("PII_KEY", V1)
    monkeypatch.delenv("PII_KEYS", raising=False)
    reset_settings_cache()
    try:
        token = pii.seal(PLAIN, CONTEXT)
        assert pii.open_(token, CONTEXT) == PLAIN
        monkeypatch.setenv("PII_KEY", V2)
        monkeypatch.setenv("PII_KEYS", V1)
        reset_settings_cache()  # a new container, or a SnapStart restore reading rotated keys
        assert pii.open_(token, CONTEXT) == PLAIN
        assert pii.seal(PLAIN, CONTEXT).startswith("v2:")
        monkeypatch.delenv("PII_KEY")
        monkeypatch.delenv("PII_KEYS")
        reset_settings_cache()
        with pytest.raises(PiiKeyError):
            pii.seal(PLAIN, CONTEXT)
        with pytest.raises(PiiKeyError):
            pii.open_(token, CONTEXT)
    finally:
        reset_settings_cache()


def test_a_generated_key_is_a_valid_version_1_key():
    key = pii.new_key()
    assert key.startswith("v1:") and len(base64.b64decode(key[3:])) == 32
    assert keyring(key).current == "v1"
    assert pii.new_key() != key


def test_importing_it_loads_no_cryptography():
    code = "import layers.storage.pii, sys; print(any(m.startswith('cryptography') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
