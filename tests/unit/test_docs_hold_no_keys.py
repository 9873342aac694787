"""The docs and the README hold no real-looking key: an example must be a clear placeholder (`sk-...`,
`trp_<your key>`), never something pasted from a terminal."""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".md", ".json", ".yaml", ".yml", ".txt", ".toml", ".env", ".example", ""}

# The key shapes Troupe deals with: OpenAI, Google (Gemini), Troupe's own gateway keys, and bearer tokens.
KEY_SHAPES = re.compile(
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|AIza[0-9A-Za-z_-]{30,}"
    r"|trp_[A-Za-z0-9_-]{20,}"
    r"|Bearer\s+[A-Za-z0-9._~+/-]{20,}"
)
PLACEHOLDER_WORDS = re.compile(r"(?i)example|your|here|placeholder|change|dummy|fake|redacted|xxx|\.\.\.")


def looks_real(candidate: str) -> bool:
    """Random-looking: long, varied and mixed (letters and digits), with no placeholder word in it."""
    tail = re.sub(r"^(sk-(proj-|ant-)?|AIza|trp_|Bearer\s+)", "", candidate)
    if PLACEHOLDER_WORDS.search(tail) or len(tail) < 20:
        return False
    counts = Counter(tail)
    entropy = -sum(n / len(tail) * math.log2(n / len(tail)) for n in counts.values())
    mixed = bool(re.search(r"[0-9]", tail)) and bool(re.search(r"[A-Za-z]", tail))
    return mixed and entropy >= 3.5


def real_looking_keys(text: str) -> list[str]:
    return [m.group(0) for m in KEY_SHAPES.finditer(text) if looks_real(m.group(0))]


def documents() -> list[Path]:
    docs = [p for p in (REPO / "docs").rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return [REPO / "README.md", *sorted(docs)]


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_a_document_holds_no_real_looking_key(path: Path) -> None:
    found = real_looking_keys(path.read_text(errors="replace"))
    # Only the start of each is shown: enough to find it, not enough to use it.
    assert not found, f"{path.relative_to(REPO)} holds real-looking keys: {[k[:10] + '…' for k in found]}"


def fake_tail(length: int, seed: int) -> str:
    """Random-looking characters, the same on every run (a random word in them must not make a flaky test)."""
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(length))


@pytest.mark.parametrize(
    "key",
    [
        "sk-proj-" + fake_tail(64, 1),
        "sk-" + fake_tail(48, 2),
        "AIza" + fake_tail(35, 3),
        "trp_" + fake_tail(43, 4),
        "Bearer trp_" + fake_tail(43, 5),
    ],
)
def test_a_pasted_key_is_caught(key: str) -> None:
    assert real_looking_keys(f"export KEY={key}  # oops") != []


@pytest.mark.parametrize(
    "text",
    [
        "OPENAI_API_KEY=sk-...",
        "OPENAI_API_KEY=sk-your-key-here-0123456789",
        "trp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "Keys are random (`trp_` + 43 URL-safe characters)",
        "Authorization: Bearer <key>",
        "curl -H 'Authorization: Bearer $KEY'",
        "GEMINI_API_KEY=AIzaSyEXAMPLE0000000000000000000000000",
        "TROUPE_ADMIN_API_KEY=change-me",
    ],
)
def test_a_placeholder_is_not_a_key(text: str) -> None:
    assert real_looking_keys(text) == []
