"""Small real HTTP servers that speak the OpenAI chat-completions and Gemini generateContent wire APIs.

Each answers from a script (status, body, delay) in order and records every request, so a test can drive the
real `openai` and `google-genai` clients by base URL and count the calls they made.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "Reply",
    "ScriptedServer",
    "gemini_error",
    "gemini_text",
    "openai_error",
    "openai_text",
    "scripted_server",
]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Recorded:
    path: str
    body: dict[str, Any]


@dataclass
class ScriptedServer:
    base_url: str = ""
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def reset(self) -> None:
        """Forget the script and the requests, so one server can serve many tests."""
        self.script.clear()
        self.requests.clear()

    async def answer(self, request: Request) -> Response:
        self.requests.append(Recorded(request.url.path, json.loads(await request.body())))
        reply = (
            self.script.popleft() if self.script else Reply(500, {"error": {"message": "script exhausted"}})
        )
        if reply.delay_s:
            # Wakes early when the server shuts down, so a test never waits out a client that gave up.
            with suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), reply.delay_s)
        return JSONResponse(reply.body, status_code=reply.status)


@asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """A server on 127.0.0.1 with a free port, serving `/v1/chat/completions` and `/<version>/models/...`."""
    scripted = ScriptedServer()
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", scripted.answer, methods=["POST"]),
            Route("/{version}/models/{call:path}", scripted.answer, methods=["POST"]),
        ]
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    scripted.base_url = f"http://127.0.0.1:{port}"
    try:
        yield scripted
    finally:
        scripted.closing.set()
        # Clients keep idle keep-alive connections; waiting for them to close would only slow the suite.
        server.should_exit = server.force_exit = True
        await task


def openai_text(content: str, tokens_in: int = 10, tokens_out: int = 5, model: str = "gpt-4o") -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        }
    )


def openai_error(
    status: int, message: str = "scripted error", code: str | None = None, delay_s: float = 0
) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "error", "code": code}}, delay_s)


def gemini_text(text: str, tokens_in: int = 10, tokens_out: int = 5, model: str = "gemini-2.5-pro") -> Reply:
    return Reply(
        body={
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": tokens_in,
                "candidatesTokenCount": tokens_out,
                "totalTokenCount": tokens_in + tokens_out,
            },
            "modelVersion": model,
        }
    )


def gemini_error(code: int, status: str, message: str = "scripted error", delay_s: float = 0) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}}, delay_s)
