"""Looking for credentials in bytes: each secret as written and in the encodings a leak would likely take.

Base64 is the subtle one: a secret inside a longer base64 text (a dead letter's `original_base64`) is encoded
together with its neighbours, so its characters depend on where it starts modulo 3. Each of the three
alignments gives a run of characters that only the secret decides; any of them found means the secret is
there.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["Finding", "encodings", "find_secrets"]


@dataclass(frozen=True)
class Finding:
    secret: str  # the secret's name, never its value, so a failing test does not print it
    encoding: str
    where: str


def encodings(secret: str) -> dict[str, bytes]:
    """Needles for the secret: as written, percent-encoded, hex, and base64 (both alphabets, every alignment)."""
    raw = secret.encode()
    needles = {
        "plain": raw,
        "percent-encoded": quote(secret, safe="").encode(),
        "hex": binascii.hexlify(raw),
        "HEX": binascii.hexlify(raw).upper(),
    }
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0\0")
        # Character i carries bits [6i, 6i + 6); keep those that lie wholly inside the secret's bits.
        first = math.ceil(8 * offset / 6)
        last = (8 * (offset + len(raw)) - 6) // 6
        core = encoded[first : last + 1]
        needles[f"base64@{offset}"] = core
        needles[f"base64url@{offset}"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return needles


def find_secrets(blob: bytes, secrets: dict[str, str], where: str) -> list[Finding]:
    """Every (secret, encoding) whose needle occurs in `blob`; `secrets` maps a name to the secret."""
    return [
        Finding(name, encoding, where)
        for name, secret in secrets.items()
        for encoding, needle in encodings(secret).items()
        if needle in blob
    ]
