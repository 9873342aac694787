from __future__ import annotations

import pytest

from troupe.redaction import redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("mongodb://troupe:s3cret@db:27017/", "mongodb://troupe:***@db:27017/"),
        (
            "mongodb+srv://u:p%40ss@cluster.example/troupe?tls=true",
            "mongodb+srv://u:***@cluster.example/troupe?tls=true",
        ),
        ("at mongodb://u:pa@ss@h1,h2/x: timeout", "at mongodb://u:***@h1,h2/x: timeout"),
        ("https://api.example/v1?api_key=s3cret&q=1", "https://api.example/v1?api_key=***&q=1"),
        ("redis://h/0?password=s3cret", "redis://h/0?password=***"),
        ("mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/"),
        ("127.0.0.1:9092,kafka:9092", "127.0.0.1:9092,kafka:9092"),
    ],
)
def test_passwords_and_secret_query_values_are_masked(text: str, shown: str) -> None:
    assert redact(text) == shown
