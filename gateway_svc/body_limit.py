"""Request bodies over a limit are refused with 413, and never kept in memory.

A body that announces its length is refused at once; one sent in chunks is counted as it arrives and refused
as soon as it goes over. The limit is `TROUPE_MAX_EVENT_BYTES`: a task larger than that could never become an
event its consumers accept.

Before the 413 goes out, the rest of the body is read and dropped (up to a bound): a server that closes a
connection with unread bytes in it resets it, and the client, still sending, never sees the answer. (It cannot
be read after the answer: uvicorn reports a disconnect to an app whose response is complete.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]

# How much of a refused body is read and dropped so the client sees the answer; beyond it, the answer goes out
# at once and the client may only see the connection closed.
_DRAIN_BYTES = 64 * 1024 * 1024
_DRAIN_S = 30.0


class BodyTooLarge(HTTPException):
    """Raised inside the app's receive when a chunked body goes over the limit.

    An HTTPException, so that FastAPI, which turns other errors met while reading a body into 400, lets it
    through and answers with its status and detail.
    """

    def __init__(self, received: int, max_bytes: int) -> None:
        super().__init__(413, _reason(f"request body is over {received:,} bytes", max_bytes))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            if declared <= _DRAIN_BYTES:
                await _drain(receive)
            await _refuse(send, _reason(f"request body is {declared:,} bytes", self.max_bytes))
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if message.get("more_body", False):
                        await _drain(receive)
                    raise BodyTooLarge(received, self.max_bytes)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noting_send)
        except BodyTooLarge as exc:
            if started:  # too late for a status; the server closes the connection
                raise
            await _refuse(send, exc.detail)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DRAIN_S):
            while dropped < _DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


def _reason(size: str, max_bytes: int) -> str:
    return (
        f"{size}, over the limit of {max_bytes:,} bytes (TROUPE_MAX_EVENT_BYTES); "
        "put large inputs in a file the task reads"
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
