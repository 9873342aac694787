"""Planning and reviewing without a model: honest about it, and limited to forms it can recognise for sure.

The offline planner takes a task's explicit plan as it is, or builds a one-step plan for these task forms
(case does not matter; documented in docs/llm-router.md):

- call sequence: "... call sequence/path/chain from main() to process_data() ... in ./src"  -> code_analyzer
- run Python: "run python: print(1)", or "run this python code" followed by a ``` fenced block -> python_exec
- fetch a URL: "fetch https://example.com" (also "get", "download")                      -> http_client
- evaluate: "evaluate 2**10" (also "calculate", "compute", "what is")                    -> math
- list or read files: "list files in ./src", "read ./README.md"                          -> file_operations

Anything else raises NoLLMConfigured with how to configure a provider. The offline reviewer approves only
when every step succeeded, every output has its tool's expected form and no verifier finding failed or was
unverifiable (an empty `paths: []` is a failed finding); it cites the findings it checked and says that no
model judged it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from pydantic import JsonValue

from schemas import Finding, FindingStatus, Plan, PlanStep, StepResult, StepStatus, TaskRequest, Verdict
from troupe.llm.answers import Review
from troupe.llm.errors import NoLLMConfigured

__all__ = ["EXPECTED_OUTPUT_KEYS", "HOW_TO_CONFIGURE", "OutputCheck", "offline_plan", "offline_review"]

PLANNER_LABEL = "[offline planner]"
REVIEWER_LABEL = "[offline reviewer]"
HOW_TO_CONFIGURE = (
    "set GEMINI_API_KEY, OPENAI_API_KEY or MISTRAL_API_KEY, or point TROUPE_LLM_OLLAMA_BASE_URL at a local "
    "OpenAI-compatible server (see docs/llm-router.md)"
)

# (tool, output) -> whether the output has the form the tool promises; the tool registry provides one.
OutputCheck = Callable[[str, JsonValue], bool]

# Keys each tool's output must have when no registry check is given; None means "any non-null output"
# (file_operations answers differently per operation, web_search per engine).
EXPECTED_OUTPUT_KEYS: dict[str, frozenset[str] | None] = {
    "code_analyzer": frozenset({"paths", "mermaid"}),
    "python_exec": frozenset({"stdout", "stderr", "exit_code"}),
    "http_client": frozenset({"status_code", "headers", "body"}),
    "math": frozenset({"value"}),
    "ai_tool": frozenset({"text"}),
    "file_operations": None,
    "web_search": None,
}

_PATH = r"((?:\.{1,2}|~)?/[^\s,;]*|\.{1,2}(?=[\s,;.]|$)|[\w.-]+/[^\s,;]*)"
_FUNC = r"`?([A-Za-z_][\w.]*)(?:\(\))?`?"
_CALL_SEQUENCE = re.compile(
    rf"call\s+(?:sequence|path|chain|graph)s?\b.*?\bfrom\s+{_FUNC}\s+to\s+{_FUNC}", re.I | re.S
)
_IN_PATH = re.compile(
    rf"\b(?:in|under|of|at)\s+(?:the\s+)?(?:python\s+)?(?:files\s+in\s+|directory\s+|folder\s+)?{_PATH}", re.I
)
_PYTHON_FENCED = re.compile(
    r"\b(?:run|execute)\b[^`]*?\bpython\b[^`]*?```(?:python|py)?\s*\n?(.*?)```", re.I | re.S
)
_PYTHON_INLINE = re.compile(
    r"^\s*(?:run|execute)\s+(?:this\s+|the\s+following\s+)?python(?:\s+(?:code|snippet))?\s*:\s*(.+)$",
    re.I | re.S,
)
_FETCH = re.compile(
    r"^\s*(?:fetch|get|download)\s+(?:the\s+)?(?:url\s+|page\s+)?<?(https?://[^\s>]+)>?\s*$", re.I
)
_EVALUATE = re.compile(r"^\s*(?:evaluate|calculate|compute|what\s+is)\s+(.+?)\s*[?.]?\s*$", re.I | re.S)
_EXPRESSION = re.compile(r"^(?=.*\d)[\d\s+\-*/%().,^a-z_]+$", re.I)
_LIST_FILES = re.compile(
    rf"^\s*list\s+(?:all\s+)?(?:the\s+)?files\s+(?:in|under|of)\s+{_PATH}\s*\.?\s*$", re.I
)
_READ_FILE = re.compile(
    rf"^\s*(?:read|show|cat)\s+(?:me\s+)?(?:the\s+)?(?:contents\s+of\s+)?(?:the\s+)?(?:file\s+)?{_PATH}\s*\.?\s*$",
    re.I,
)


def offline_plan(request: TaskRequest) -> Plan:
    """The task's explicit plan, or a one-step plan for a recognised task form; else NoLLMConfigured."""
    if request.plan is not None:
        return request.plan.model_copy(
            update={"rationale": _labelled(request.plan.rationale or "explicit plan")}
        )
    step = _recognise(request.description)
    if step is None:
        raise NoLLMConfigured(
            "the offline planner does not recognise this task (its task forms are listed in "
            f"docs/llm-router.md); {HOW_TO_CONFIGURE}, or submit the task with an explicit plan"
        )
    allowed = request.constraints.allowed_tools
    if allowed is not None and step.tool not in allowed:
        raise NoLLMConfigured(
            f"the offline planner would use {step.tool!r}, which this task does not allow; {HOW_TO_CONFIGURE}"
        )
    return Plan(steps=[step], rationale=_labelled(step.description))


def _recognise(description: str) -> PlanStep | None:
    text = description.strip()
    if m := _CALL_SEQUENCE.search(text):
        where = _IN_PATH.search(text)
        path = _clean(where.group(1)) if where else "."
        return _step(
            "code_analyzer",
            {"path": path, "source": m[1], "target": m[2]},
            f"call paths from {m[1]} to {m[2]} in {path}",
        )
    if m := _PYTHON_FENCED.search(text) or _PYTHON_INLINE.match(text):
        return _step("python_exec", {"code": m[1].strip()}, "run the given Python code")
    if m := _FETCH.match(text):
        return _step("http_client", {"url": m[1], "method": "GET"}, f"fetch {m[1]}")
    if (m := _EVALUATE.match(text)) and _EXPRESSION.match(m[1]):
        return _step("math", {"expression": m[1]}, f"evaluate {m[1]}")
    if m := _LIST_FILES.match(text):
        return _step("file_operations", {"op": "list", "path": _clean(m[1])}, f"list the files in {m[1]}")
    if m := _READ_FILE.match(text):
        return _step("file_operations", {"op": "read", "path": _clean(m[1])}, f"read {_clean(m[1])}")
    return None


def _clean(path: str) -> str:
    """A path without the sentence's closing punctuation ("read ./notes.txt." reads ./notes.txt)."""
    return path if path in {".", ".."} else path.rstrip(".,;:") or "."


def _step(tool: str, args: dict[str, JsonValue], description: str) -> PlanStep:
    return PlanStep(id="step-1", tool=tool, args=args, description=description)


def _labelled(text: str) -> str:
    return f"{PLANNER_LABEL} no LLM is configured; {text}"


def offline_review(
    plan: Plan,
    results: Sequence[StepResult],
    output_ok: OutputCheck | None = None,
    findings: Sequence[Finding] = (),
) -> Review:
    """Approve only when every planned step succeeded with an output of the expected form that the
    verifiers found nothing wrong with; else fail, citing the findings that stood in the way."""
    check = output_ok or default_output_check
    by_step = {r.step_id: r for r in results}
    problems = []
    for step in plan.steps:
        result = by_step.get(step.id)
        if result is None:
            problems.append(f"step {step.id} has no result")
        elif result.status is not StepStatus.SUCCEEDED:
            problems.append(
                f"step {step.id} ({step.tool}) {result.status.value}: {result.error or 'no error given'}"
            )
        elif not check(step.tool, result.output):
            problems.append(f"step {step.id} ({step.tool}) output does not have the expected form")
    refuted = [f for f in findings if f.status is not FindingStatus.OK]
    problems += [f"{f.id} {f.status.value}: {f.detail}" for f in refuted]
    if problems:
        return Review(
            verdict=Verdict.FAILED,
            feedback=f"{REVIEWER_LABEL} failed without a model to revise the plan: {'; '.join(problems)}",
            citations=[f.id for f in refuted],
        )
    checked = f"; {len(findings)} verifier checks passed" if findings else ""
    return Review(
        verdict=Verdict.APPROVED,
        feedback=(
            f"{REVIEWER_LABEL} approved: all {len(plan.steps)} steps succeeded and each output has the "
            f"expected form{checked}; no LLM judged whether the result answers the task"
        ),
        final_result=_final_result(plan, by_step),
        citations=[f.id for f in findings] or [step.id for step in plan.steps],
    )


def default_output_check(tool: str, output: JsonValue) -> bool:
    if output is None:
        return False
    keys = EXPECTED_OUTPUT_KEYS.get(tool)
    if keys is None:
        return True
    return isinstance(output, Mapping) and keys <= output.keys()


def _final_result(plan: Plan, by_step: Mapping[str, StepResult]) -> JsonValue:
    """The output of the step nothing depends on; of several such steps, all of them by id."""
    needed = {dep for step in plan.steps for dep in step.depends_on}
    last = [step.id for step in plan.steps if step.id not in needed]
    if len(last) == 1:
        return _output_of(by_step[last[0]])
    return {step_id: _output_of(by_step[step_id]) for step_id in last}


def _output_of(result: StepResult) -> JsonValue:
    """The output; for one kept as an artefact, its reference and the excerpt the review was given."""
    if result.artefact is None:
        return result.output
    return {"artefact": result.artefact.model_dump(mode="json"), "excerpt": result.output}
