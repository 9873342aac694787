"""A scripted LLM that speaks the OpenAI chat-completions wire API, for the pipeline's end-to-end tests.

It answers like a careful model would for the demo task, deterministically and per task without state:
- planner: the first plan asks the code analyzer for the wrong target ("process"); a revision (its prompt
  carries the review) asks for "process_data";
- reviewer: approves when a step found a call path, with the path as the final result; asks for a revision
  otherwise. So every task goes plan, execute, review (revise), plan, execute, review (approved);
- ai_tool (model AI_TOOL_MODEL, when a test points the ai_tool chain at it): a line of text about the prompt.
It runs in a thread with its own event loop, so the services (separate processes) reach it whatever the
test's own loop is doing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "callchain_app"
PLANNER_MODEL, REVIEWER_MODEL, AI_TOOL_MODEL = "gpt-4o", "gpt-4o-mini", "gpt-4.1-nano"
SLOW_S = 4


def plan_for(prompt: str) -> dict[str, Any]:
    target = "process_data" if "Review of the previous attempt" in prompt else "process"
    steps: list[dict[str, Any]] = [
        {
            "id": "callgraph",
            "tool": "code_analyzer",
            "args": {"path": str(SAMPLE), "source": "main", "target": target},
        }
    ]
    if "[slow:executor]" in prompt:
        # Something to kill the executor in the middle of.
        steps.append(
            {"id": "pause", "tool": "python_exec", "args": {"code": f"import time; time.sleep({SLOW_S})"}}
        )
    if "[unknown-tool]" in prompt:
        steps.append({"id": "beam", "tool": "teleport", "args": {}})
    if "[unknown-tool-once]" in prompt and "refused by the validator" not in prompt:
        # A first draft the validator refuses; the re-plan's prompt carries its findings.
        steps.append({"id": "beam", "tool": "teleport", "args": {}})
    return {"rationale": f"trace calls from main to {target}", "steps": steps}


def review_for(prompt: str) -> dict[str, Any]:
    results = prompt.split("## Step results", 1)[1].split("## Verifier findings", 1)[0]
    shown = json.loads(results)
    for step in shown:
        # The reviewer prompt shows each output's excerpt as JSON text, so read the paths out of the text.
        found = re.search(r'"paths": (\[\[.*?\]\])', step["output"] or "")
        paths = json.loads(found.group(1)) if found else None
        if paths:
            return {
                "verdict": "approved",
                "feedback": "the path answers the task",
                "final_result": {"call_sequences": paths},
            }
    return {"verdict": "revise", "feedback": "no call path was found: the target function is process_data()"}


@dataclass
class ScriptedLLM:
    base_url: str = ""
    calls: dict[str, int] = field(default_factory=lambda: {PLANNER_MODEL: 0, REVIEWER_MODEL: 0})
    fail_with: int | None = None  # every call answers this HTTP status when set
    seen: list[tuple[str, str]] = field(default_factory=list)
    # The credentials callers sent (Authorization or x-goog-api-key), to show a key was really used.
    credentials: list[str] = field(default_factory=list)
    latency_s: float = 0.0  # every answer waits this long, so a kill can land while a stage is mid-call
    # Calls being answered now and the most at once, per model: how much work a planner or reviewer had open.
    open_calls: dict[str, int] = field(default_factory=lambda: {PLANNER_MODEL: 0, REVIEWER_MODEL: 0})
    peak_open_calls: dict[str, int] = field(default_factory=lambda: {PLANNER_MODEL: 0, REVIEWER_MODEL: 0})

    def asked(self, role: str, marker: str) -> bool:
        return any(r == role and marker in prompt for r, prompt in list(self.seen))

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    async def chat(self, request: Request) -> JSONResponse:
        self.credentials.append(request.headers.get("authorization", ""))
        body = await request.json()
        model = body["model"]
        self.calls[model] = self.calls.get(model, 0) + 1
        if self.fail_with is not None:
            return JSONResponse(
                {"error": {"message": "scripted outage", "type": "error"}}, status_code=self.fail_with
            )
        prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        role = "planner" if model == PLANNER_MODEL else "reviewer"
        self.seen.append((role, prompt))
        self.open_calls[model] = self.open_calls.get(model, 0) + 1
        self.peak_open_calls[model] = max(self.peak_open_calls.get(model, 0), self.open_calls[model])
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if f"[slow:{role}]" in prompt:
                await asyncio.sleep(SLOW_S)
        finally:
            self.open_calls[model] -= 1
        if model == AI_TOOL_MODEL:
            content = f"summary of: {prompt[:60]}"
        else:
            content = json.dumps(plan_for(prompt) if model == PLANNER_MODEL else review_for(prompt))
        return JSONResponse(
            {
                "id": "chatcmpl-e2e",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            }
        )

    async def gemini(self, request: Request) -> JSONResponse:
        """Gemini's wire API refusing the key, as Google does, so a chain falls through to the next link."""
        self.credentials.append(request.headers.get("x-goog-api-key", ""))
        error = {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
        }
        return JSONResponse({"error": error}, status_code=400)


@contextmanager
def scripted_llm(latency_s: float = 0.0) -> Iterator[ScriptedLLM]:
    llm = ScriptedLLM(latency_s=latency_s)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", llm.chat, methods=["POST"]),
            Route("/{version}/models/{call:path}", llm.gemini, methods=["POST"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the scripted LLM server did not start")
        time.sleep(0.01)
    llm.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1"
    try:
        yield llm
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def llm_environment(llm: ScriptedLLM) -> dict[str, str]:
    """Point every role at the scripted server and nowhere else (no offline fallback)."""
    return {
        "OPENAI_API_KEY": "scripted",
        "TROUPE_LLM_OPENAI_BASE_URL": llm.base_url,
        "TROUPE_LLM_PLANNER_CHAIN": f"openai:{PLANNER_MODEL}",
        "TROUPE_LLM_REVIEWER_CHAIN": f"openai:{REVIEWER_MODEL}",
        "TROUPE_LLM_AI_TOOL_CHAIN": f"openai:{REVIEWER_MODEL}",
        "TROUPE_LLM_OFFLINE_FALLBACK": "false",
        "TROUPE_LLM_CACHE_ENABLED": "false",
        "TROUPE_LLM_RETRY_INITIAL_S": "0.05",
        "TROUPE_LLM_RETRY_MAX_S": "0.2",
        "TROUPE_LLM_TIMEOUT_S": "10",
    }
