"""Deterministic identifiers: every id the sandbox mints is a function of (seed, kind, n).

Ids depend on a per-kind sequence number kept in the sandbox's state, never on
wall-clock time or process-global randomness, so that the same seed and the
same sequence of requests give byte-identical answers, in one process or across
several workers sharing a state file.
"""

from __future__ import annotations

import hashlib
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


class IdFactory:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _digest(self, kind: str, n: int, size: int = 32) -> bytes:
        return hashlib.blake2b(f"{self.seed}:{kind}:{n}".encode(), digest_size=size).digest()

    def hex(self, kind: str, n: int, length: int = 32) -> str:
        return self._digest(kind, n, (length + 1) // 2).hex()[:length]

    def uuid(self, kind: str, n: int) -> str:
        """A version-4 UUID string (what `uuid.UUID(bytes=..., version=4)` gives, without building the object)."""
        raw = bytearray(self._digest(kind, n, 16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def alphanumeric(self, kind: str, n: int, length: int = 20) -> str:
        digest = self._digest(kind, n, 64)
        return "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in digest[:length])

    # The vendor's id styles, named after what they identify.
    def twilio_sid(self, prefix: str, kind: str, n: int) -> str:
        """Twilio-style sid: a two-letter prefix (PN, AD, BU, AC) and 32 hex digits."""
        return prefix + self.hex(kind, n, 32)

    def record_id(self, kind: str, n: int) -> str:
        """A 20-alphanumeric document id, the style of the vendor's ids (`8xMPW85D2z5jgcTa5L1p`)."""
        return self.alphanumeric(kind, n, 20)

    def access_token(self, n: int) -> str:
        """A private-integration-style token: `pit-` and a UUID."""
        return "pit-" + self.uuid("token", n)
