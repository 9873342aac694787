from __future__ import annotations

import pytest
from pydantic import JsonValue

from schemas import Plan, PlanStep, TaskConstraints, TaskRequest
from troupe.llm import NoLLMConfigured, offline_plan

FORMS: list[tuple[str, str, dict[str, JsonValue]]] = [
    (
        "analyse the Python files in ./src and give me the call sequence from main() to process_data()",
        "code_analyzer",
        {"path": "./src", "source": "main", "target": "process_data"},
    ),
    (
        "Show the call path from `cli.main` to `store.save` in src/app.",
        "code_analyzer",
        {"path": "src/app", "source": "cli.main", "target": "store.save"},
    ),
    ("run python: print(sum(range(10)))", "python_exec", {"code": "print(sum(range(10)))"}),
    (
        "Run this Python code:\n```python\nimport sys\nprint(sys.version)\n```",
        "python_exec",
        {"code": "import sys\nprint(sys.version)"},
    ),
    (
        "fetch https://example.com/data.json?x=1",
        "http_client",
        {"url": "https://example.com/data.json?x=1", "method": "GET"},
    ),
    ("evaluate 2**10", "math", {"expression": "2**10"}),
    ("What is sqrt(16) + 3 * 2?", "math", {"expression": "sqrt(16) + 3 * 2"}),
    ("list files in ./src", "file_operations", {"op": "list", "path": "./src"}),
    ("read the file ./notes/todo.txt.", "file_operations", {"op": "read", "path": "./notes/todo.txt"}),
]


@pytest.mark.parametrize(("description", "tool", "args"), FORMS)
def test_each_documented_task_form_becomes_a_labelled_one_step_plan(
    description: str, tool: str, args: dict[str, JsonValue]
) -> None:
    plan = offline_plan(TaskRequest(description=description))
    [step] = plan.steps
    assert (step.tool, step.args) == (tool, args)
    assert plan.rationale.startswith("[offline planner] no LLM is configured;")


def test_the_call_sequence_form_defaults_to_the_current_directory() -> None:
    [step] = offline_plan(TaskRequest(description="give me the call chain from main to run")).steps
    assert step.args == {"path": ".", "source": "main", "target": "run"}


@pytest.mark.parametrize(
    "description",
    ["write a poem about Kafka", "what is the meaning of life?", "summarise https://example.com"],
)
def test_anything_else_fails_fast_saying_how_to_configure_a_model(description: str) -> None:
    with pytest.raises(NoLLMConfigured) as refused:
        offline_plan(TaskRequest(description=description))
    assert "GEMINI_API_KEY" in refused.value.reason
    assert "TROUPE_LLM_OLLAMA_BASE_URL" in refused.value.reason
    assert "explicit plan" in refused.value.reason


def test_an_explicit_plan_is_taken_as_it_is_and_labelled() -> None:
    explicit = Plan(
        steps=[
            PlanStep(id="a", tool="math", args={"expression": "1+1"}),
            PlanStep(id="b", tool="math", args={"expression": "2+2"}, depends_on=["a"]),
        ]
    )
    plan = offline_plan(TaskRequest(description="anything at all", plan=explicit))
    assert plan.steps == explicit.steps
    assert plan.rationale == "[offline planner] no LLM is configured; explicit plan"


def test_a_recognised_form_whose_tool_is_not_allowed_is_refused() -> None:
    request = TaskRequest(
        description="evaluate 1+1", constraints=TaskConstraints(allowed_tools=["python_exec"])
    )
    with pytest.raises(NoLLMConfigured, match="'math', which this task does not allow"):
        offline_plan(request)
