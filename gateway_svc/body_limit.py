"""Request bodies over a limit are refused with 413 before they are read into memory.

A body that announces its length is refused at once; one sent in chunks is counted as it arrives and refused
as soon as it goes over. The limit is `TROUPE_MAX_EVENT_BYTES`: a task larger than that could never become an
event its consumers accept.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]


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
