"""Encrypts payloads before they reach Temporal: history holds ciphertext, not PII.

AES-256-GCM with a fresh 12-byte nonce per payload. The plaintext is the whole original
Payload (metadata and data), so the encoding it had comes back on decode. Each encrypted
payload names the key that sealed it (``encryption-key-id``): keys rotate by adding a new
id and encrypting with it, while the old ids stay configured to read older history.
Payloads without ``encoding: binary/encrypted`` pass through, so histories written before
encryption was turned on still read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from domain.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16


class CodecError(ValueError):
    """A payload that says it is encrypted cannot be decrypted."""


class UnknownKeyError(CodecError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"payload encrypted with key id {key_id!r}, which is not configured: add that "
            "key (base64) under this id to TEMPODESK_CODEC_KEYS, e.g. "
            f'TEMPODESK_CODEC_KEYS=\'{{"{key_id}": "<base64 key>", ...}}\'')
        self.key_id = key_id


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], key_id: str) -> None:
        if key_id not in keys:
            raise ValueError(f"key id {key_id!r} is not among the keys: {sorted(keys)}")
        for name, key in keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {name!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        self.key_id = key_id
        self._ciphers = {name: AESGCM(key) for name, key in keys.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> EncryptionCodec | None:
        """The codec the settings describe, or None when no keys are set (no encryption)."""
        keys = settings.codec_key_bytes
        if not keys or settings.codec_key_id is None:
            return None
        return cls(keys, settings.codec_key_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: relabelling a payload makes it fail, not misread.
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption, or never encrypted
        raw_id = payload.metadata.get(KEY_ID)
        if raw_id is None:
            raise CodecError(f"an encrypted payload has no {KEY_ID!r} metadata: it was not "
                             "written by this codec")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id)
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise CodecError(f"a payload encrypted with key id {key_id!r} is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except InvalidTag as exc:
            raise CodecError(f"a payload encrypted with key id {key_id!r} fails authentication: "
                             "it was altered, or the key configured under that id is not the "
                             "one that encrypted it") from exc
        return Payload.FromString(plain)
