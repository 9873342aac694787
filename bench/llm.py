"""An instant scripted LLM on the OpenAI chat-completions wire, run as its own process by the benchmark.

planner: one `math` step (`1+1`), or a step `recalc` when its prompt carries a review (a revision);
reviewer: approves, unless the task says `[revise-once]` and the plan has not been revised yet.
A separate process, so its CPU is not the benchmark driver's, the same as a real provider's would not be.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PLANNER_MODEL, REVIEWER_MODEL = "bench-planner", "bench-reviewer"
REVISE_MARKER = "[revise-once]"
REVISION_HEADING = "Review of the previous attempt"


def plan_for(prompt: str) -> dict[str, Any]:
    step = "recalc" if REVISION_HEADING in prompt else "calc"
    return {"rationale": "add", "steps": [{"id": step, "tool": "math", "args": {"expression": "1+1"}}]}


def review_for(prompt: str) -> dict[str, Any]:
    if REVISE_MARKER in prompt and '"recalc"' not in prompt:
        return {"verdict": "revise", "feedback": "check it once more", "final_result": None}
    return {"verdict": "approved", "feedback": "right", "final_result": {"value": 2}}


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


async def chat(request: Request) -> Response:
    body = await request.json()
    prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
    model = body["model"]
    return Response(completion(model, answer_for(model, prompt)), media_type="application/json")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
