"""Payload encryption: findings, statuses and results sealed with AES-256-GCM before Temporal
stores them.

Each payload (the whole `Payload` proto, its metadata included) is serialized and sealed with
the current key under a fresh 12-byte nonce; the sealed payload says only `encoding:
binary/encrypted` and which key sealed it (`encryption-key-id`, the first 8 hex digits of the
key's SHA-256). Any configured key opens it, so keys rotate by moving the old key to
REMEDY_PAYLOAD_OLD_KEYS. Payloads that were never sealed pass through unchanged on decode: a
worker that turns encryption on still reads the runs started before.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32


class SealedPayloadError(ValueError):
    """A sealed payload that cannot be opened: its key is not configured, or it was altered."""


def new_key() -> str:
    """A fresh key, as REMEDY_PAYLOAD_KEY holds it (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    """What a sealed payload names its key by: safe to show, it says nothing of the key."""
    return hashlib.sha256(key).hexdigest()[:8]


class EncryptionCodec(PayloadCodec):
    """Seal with the first key, open with any of them."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        ciphers = {key_id(key): AESGCM(key) for key in keys}
        if not ciphers:
            raise ValueError("EncryptionCodec needs at least one key")
        self.current_key_id = next(iter(ciphers))
        self._ciphers = ciphers

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def __repr__(self) -> str:
        return f"EncryptionCodec(key_ids={self.key_ids})"

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_key_id].encrypt(
            nonce, payload.SerializeToString(), None
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self.current_key_id.encode()},
            data=nonce + sealed,
        )

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # never sealed (a run from before encryption was turned on)
        sealed_by = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(sealed_by)
        if cipher is None:
            raise SealedPayloadError(
                f"payload sealed with key id {sealed_by or '(none)'}, which is not configured "
                f"(configured: {', '.join(self.key_ids)}); set REMEDY_PAYLOAD_KEY to that key, "
                "or add it to REMEDY_PAYLOAD_OLD_KEYS (comma-separated) if it was rotated out"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise SealedPayloadError(
                f"payload sealed with key id {sealed_by} does not open: it was altered or is "
                "corrupt"
            ) from None
        return Payload.FromString(plain)

    def seal_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    def open_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.seal_all(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.open_all(payloads)
