"""A scripted LLM on the OpenAI chat-completions wire, run as its own process by the benchmark.

planner: one `math` step (`1+1`), or a step `recalc` when its prompt carries a review (a revision), or one
python_exec step that sleeps 1 s when the task says `[sandbox-sleep]`, or, for a task asking for a call
sequence (`make eval`), the code_analyzer step the offline planner reads out of its words;
reviewer: approves, unless the task says `[revise-once]` and the plan has not been revised yet; a call-sequence
task it approves with the paths found as its final result, and fails when none was found.
Every answer waits `--delay` seconds, as a real provider takes seconds; a planner call for a task that says
`[hang]` waits `HANG_S` instead. `GET /stats` tells the calls in flight and their peak (by model), when the
hung calls returned and when the sandbox runs reported in the reviewer's prompts started and ended.
A separate process, so its CPU is not the benchmark driver's, the same as a real provider's would not be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas import TaskRequest
from troupe.llm.errors import NoLLMConfigured
from troupe.llm.offline import offline_plan

PLANNER_MODEL, REVIEWER_MODEL = "bench-planner", "bench-reviewer"
REVISE_MARKER = "[revise-once]"
HANG_MARKER = "[hang]"
SANDBOX_MARKER = "[sandbox-sleep]"
REVISION_HEADING = "Review of the previous attempt"
HANG_S = 60.0
SANDBOX_SLEEP_S = 1.0
# The snippet prints wall-clock stamps (the sandbox shares the host's clock); the reviewer's prompt shows them.
SANDBOX_CODE = (
    "import time; print('sandbox-start', time.time(), flush=True); "
    f"time.sleep({SANDBOX_SLEEP_S}); print('sandbox-end', time.time())"
)
_STAMPS = re.compile(r"sandbox-start (\d+\.\d+).*?sandbox-end (\d+\.\d+)", re.DOTALL)
# python_exec's result names its backend; in the prompt it may sit in JSON quoted inside JSON.
_BACKEND = re.compile(r"backend\W+(docker|bwrap)")
# code_analyzer's paths in the reviewer's prompt, where each output is JSON text inside JSON.
_PATHS = re.compile(r'\\?"paths\\?": (\[\[.*?\]\])')


def task_of(prompt: str) -> str:
    """The task's own words in a planner's prompt (its last section, before a revision's review)."""
    return prompt.rsplit("## Task\n", 1)[-1].split(f"## {REVISION_HEADING}", 1)[0].strip()


def call_graph_plan(prompt: str) -> dict[str, Any] | None:
    """The code_analyzer plan for a call-sequence task, built as the offline planner builds it; else None."""
    try:
        plan = offline_plan(TaskRequest(description=task_of(prompt)))
    except NoLLMConfigured:
        return None
    if [step.tool for step in plan.steps] != ["code_analyzer"]:
        return None
    step = plan.steps[0]
    return {
        "rationale": "trace the calls",
        "steps": [{"id": "callgraph", "tool": step.tool, "args": step.args}],
    }


def call_graph_review(prompt: str) -> dict[str, Any]:
    found = _PATHS.search(prompt.split("## Step results", 1)[-1])
    paths = json.loads(found.group(1).replace('\\"', '"')) if found else []
    if paths:
        return {"verdict": "approved", "feedback": "a call path was found", "final_result": {"paths": paths}}
    return {"verdict": "failed", "feedback": "code_analyzer found no call path", "final_result": None}


def plan_for(prompt: str) -> dict[str, Any]:
    if SANDBOX_MARKER in prompt:
        return {
            "rationale": "wait",
            "steps": [{"id": "nap", "tool": "python_exec", "args": {"code": SANDBOX_CODE}}],
        }
    if (traced := call_graph_plan(prompt)) is not None:
        return traced
    step = "recalc" if REVISION_HEADING in prompt else "calc"
    return {"rationale": "add", "steps": [{"id": step, "tool": "math", "args": {"expression": "1+1"}}]}


def review_for(prompt: str) -> dict[str, Any]:
    if '"tool": "code_analyzer"' in prompt:
        return call_graph_review(prompt)
    if SANDBOX_MARKER in prompt and sandbox_run(prompt) is None:
        return {"verdict": "failed", "feedback": "the sandbox run did not finish", "final_result": None}
    if REVISE_MARKER in prompt and '"recalc"' not in prompt:
        return {"verdict": "revise", "feedback": "check it once more", "final_result": None}
    return {"verdict": "approved", "feedback": "right", "final_result": {"value": 2}}


def sandbox_run(prompt: str) -> tuple[float, float, str] | None:
    """(started, ended, backend) of the sandbox run a reviewer's prompt shows, if it shows one; the stamps are
    wall-clock, the backend "?" if the prompt does not name it."""
    found = _STAMPS.search(prompt)
    if found is None:
        return None
    backend = _BACKEND.search(prompt)
    return float(found.group(1)), float(found.group(2)), backend.group(1) if backend else "?"


def _step_results(prompt: str) -> str:
    """The part of a reviewer's prompt that shows the step results, cut short."""
    return prompt[prompt.find('"step_id"') :][:600] if '"step_id"' in prompt else prompt[-600:]


def completion(model: str, answer: dict[str, Any]) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": json.dumps(answer)},
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }
    return json.dumps(body).encode()


def answer_for(model: str, prompt: str) -> dict[str, Any]:
    return plan_for(prompt) if model == PLANNER_MODEL else review_for(prompt)


def hangs(model: str, prompt: str) -> bool:
    """Whether a call is the planner's for a task marked to hang (the reviewer's prompt quotes the task too)."""
    return model == PLANNER_MODEL and HANG_MARKER in prompt


@dataclass
class InFlight:
    """Calls being answered now, by model, and the most there were at once since the last reset."""

    now: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    peak_total: int = 0
    calls: int = 0

    @contextmanager
    def held(self, model: str) -> Iterator[None]:
        self.calls += 1
        self.now[model] = self.now.get(model, 0) + 1
        self.peak[model] = max(self.peak.get(model, 0), self.now[model])
        self.peak_total = max(self.peak_total, sum(self.now.values()))
        try:
            yield
        finally:
            self.now[model] -= 1

    def reset(self) -> None:
        """Peaks start again from the calls in flight now."""
        self.peak = dict(self.now)
        self.peak_total = sum(self.now.values())
        self.calls = 0


@dataclass
class Script:
    delay_s: float = 0.0
    in_flight: InFlight = field(default_factory=InFlight)
    hung_returned: list[float] = field(default_factory=list)
    sandbox_runs: list[tuple[float, float, str]] = field(default_factory=list)
    # What the reviewer was shown for sandbox steps that did not finish: a few, to say why in the report.
    sandbox_misses: list[str] = field(default_factory=list)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        model = body["model"]
        hung = hangs(model, prompt)
        with self.in_flight.held(model):
            if hung or self.delay_s:
                await asyncio.sleep(HANG_S if hung else self.delay_s)
        if hung:
            self.hung_returned.append(time.time())
        if model == REVIEWER_MODEL and SANDBOX_MARKER in prompt:
            if (run := sandbox_run(prompt)) is not None:
                self.sandbox_runs.append(run)
            elif len(self.sandbox_misses) < 3:
                self.sandbox_misses.append(_step_results(prompt))
        return Response(completion(model, answer_for(model, prompt)), media_type="application/json")

    async def stats(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "calls": self.in_flight.calls,
                "in_flight": self.in_flight.now,
                "peak_in_flight": self.in_flight.peak,
                "peak_in_flight_total": self.in_flight.peak_total,
                "hung_returned": self.hung_returned,
                "sandbox_runs": self.sandbox_runs,
                "sandbox_misses": self.sandbox_misses,
            }
        )

    async def reset(self, request: Request) -> JSONResponse:
        self.in_flight.reset()
        self.hung_returned.clear()
        self.sandbox_runs.clear()
        self.sandbox_misses.clear()
        return JSONResponse({})


def app(script: Script) -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", script.chat, methods=["POST"]),
            Route("/stats", script.stats, methods=["GET"]),
            Route("/stats/reset", script.reset, methods=["POST"]),
        ]
    )


def llm_environment(base_url: str) -> dict[str, str]:
    """Every role on the scripted server and nowhere else, as tests/e2e/scripted_llm.py does."""
    return {
        "OPENAI_API_KEY": "scripted",
        "TROUPE_LLM_OPENAI_BASE_URL": base_url,
        "TROUPE_LLM_PLANNER_CHAIN": f"openai:{PLANNER_MODEL}",
        "TROUPE_LLM_REVIEWER_CHAIN": f"openai:{REVIEWER_MODEL}",
        "TROUPE_LLM_AI_TOOL_CHAIN": f"openai:{REVIEWER_MODEL}",
        "TROUPE_LLM_OFFLINE_FALLBACK": "false",
        "TROUPE_LLM_CACHE_ENABLED": "false",
        "TROUPE_LLM_RETRY_INITIAL_S": "0.05",
        "TROUPE_LLM_RETRY_MAX_S": "0.2",
        "TROUPE_LLM_TIMEOUT_S": "30",
    }


def offline_environment() -> dict[str, str]:
    """Every role offline: the offline planner and reviewer (troupe/llm/offline.py), no provider at all."""
    return {
        "TROUPE_LLM_PLANNER_CHAIN": "offline",
        "TROUPE_LLM_REVIEWER_CHAIN": "offline",
        "TROUPE_LLM_AI_TOOL_CHAIN": "offline",
        "TROUPE_LLM_CACHE_ENABLED": "false",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer waits")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The default backlog (2048) holds a burst of 1000 tasks' connections.
    uvicorn.run(
        app(Script(args.delay)), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
