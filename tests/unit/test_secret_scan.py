"""The secret scan finds a credential however it was written down: plain, percent-encoded, hex or base64."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import quote

import pytest

from tests.e2e.secret_scan import encodings, find_secrets

SECRET = "sk-proj-Zq3+x/Yv9_w-TtR8pLmN0aB7cDe"  # fake, with the characters base64 alphabets differ on


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz", b'{"event": "hello", "n": 12}'])
def test_a_secret_inside_a_longer_base64_text_is_found_at_any_alignment(prefix: bytes) -> None:
    message = prefix + json.dumps({"key": SECRET}).encode() + b" trailing"
    for encoded in (base64.b64encode(message), base64.urlsafe_b64encode(message)):
        assert find_secrets(b'{"original_base64": "' + encoded + b'"}', {"openai": SECRET}, "dlt")


@pytest.mark.parametrize(
    "written",
    [
        SECRET.encode(),
        quote(SECRET, safe="").encode(),
        binascii.hexlify(SECRET.encode()),
        f"Authorization: Bearer {SECRET}".encode(),
    ],
)
def test_a_secret_is_found_as_written_and_encoded(written: bytes) -> None:
    found = find_secrets(b"log line: " + written + b"\n", {"openai": SECRET}, "gateway.log")
    assert found and found[0].secret == "openai" and found[0].where == "gateway.log"


def test_other_text_and_a_neighbouring_key_are_not_findings() -> None:
    blob = b"sk-proj-Zq3+x/Yv9_w-TtR8pLmN0aB7cDX " + base64.b64encode(b"sk-proj-something-else-entirely")
    assert find_secrets(blob, {"openai": SECRET}, "doc") == []


def test_a_finding_names_the_secret_never_its_value() -> None:
    (finding, *_) = find_secrets(SECRET.encode(), {"openai": SECRET}, "doc")
    assert SECRET not in repr(finding)


def test_every_base64_needle_is_long_enough_to_mean_something() -> None:
    assert all(len(needle) >= len(SECRET) for needle in encodings(SECRET).values())
