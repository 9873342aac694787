"""Secrets out of what is printed or logged: a URI's password and secret-looking query values."""

from __future__ import annotations

import re

__all__ = ["MASK", "redact"]

MASK = "***"
# scheme://user:password@host — up to the last "@" before the path, so an unescaped "@" in it is covered too.
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&;][^=&;#\s]*(?:password|passwd|pwd|secret|token|key|credential|signature)[^=&;#\s]*=)[^&;#\s]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with the password of every URI in it, and every secret-looking query value, masked."""
    text = _USERINFO.sub(rf"\g<head>:{MASK}@", text)
    return _SECRET_QUERY.sub(rf"\g<head>{MASK}", text)
