"""Idempotency keys, remembered for 24 hours in small shards.

A key (already hashed with the credential that sent it, see ``desk/intake.py`` ``scoped_key``)
is remembered by the shard workflow ``idempotency:<PREFIX>:<first 3 hex digits>``: 4,096
shards per client, so even a whole day of keys at every credential's rate limit leaves each
shard's state small (tests/test_idempotency_bounds.py works the numbers).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

KEY_HEX = 32          # 128 bits of the SHA-256: collisions are not a concern
FINGERPRINT_HEX = 16  # enough to tell a different body from the same one
SHARD_HEX = 3
REMEMBER_SECONDS = 24 * 3600


class Claim(BaseModel):
    """``number`` is the ticket number the API took for this request; it is remembered
    unless the key is known, in which case the known number comes back."""

    key: str = Field(pattern=rf"^[0-9a-f]{{{KEY_HEX}}}$")
    fingerprint: str = Field(pattern=rf"^[0-9a-f]{{{FINGERPRINT_HEX}}}$")
    number: int = Field(ge=1)


class ClaimResult(BaseModel):
    number: int
    replayed: bool = False
    fingerprint_matches: bool = True


class ShardState(BaseModel):
    # key -> (ticket number, fingerprint, first seen as epoch seconds): compact on purpose.
    entries: dict[str, tuple[int, str, int]] = Field(default_factory=dict)
