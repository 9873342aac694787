"""Reviews grounded in the verifiers' findings: an empty or refuted result is never approved."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import JsonValue

from reviewer_svc import telemetry
from reviewer_svc.deps import ReviewerDeps
from reviewer_svc.judge import RouterJudge
from reviewer_svc.review_execution import review_execution
from schemas import (
    ExecutionCompleted,
    FinalStatus,
    FindingStatus,
    Plan,
    PlanStep,
    ReviewCompleted,
    StepResult,
    StepStatus,
    TaskFinished,
    Verdict,
)
from tests.unit.pipeline.fakes import context
from toolbox import ToolError, ToolSettings, build_registry, check_result
from troupe.artefacts import InMemoryArtefacts, encode_output
from troupe.ledger import InMemoryLedger, stage_key
from troupe.llm.config import LLMSettings
from troupe.llm.providers import FunctionProvider, ProviderReply, ProviderRequest
from troupe.llm.router import LLMRouter
from troupe.publishing import RecordingPublisher

SPECS = {s.name: s for s in build_registry(ToolSettings(), entry_points=False).specs()}
PLAN = Plan(
    steps=[
        PlanStep(
            id="s1", tool="code_analyzer", args={"path": ".", "source": "main", "target": "process_data"}
        )
    ]
)
PATH = ["app.cli.main", "app.core.run", "app.data.process_data"]


def output_ok(tool: str, output: JsonValue) -> bool:
    """The reviewer service's check: the output has its tool's result form."""
    try:
        check_result(SPECS[tool], output)  # type: ignore[arg-type]
    except (ToolError, TypeError):
        return False
    return True


def analysis(paths: list[list[str]], edges: list[tuple[str, str]]) -> dict[str, Any]:
    """A code_analyzer output of the tool's own form."""
    functions = [{"name": n, "kind": "function", "file": "app.py", "line": 1} for n in PATH]
    return {
        "language": "python",
        "sources": [PATH[0]],
        "targets": [PATH[-1]],
        "paths": paths,
        "paths_truncated": False,
        "mermaid": "flowchart LR",
        "unresolved": [],
        "errors": [],
        "graph": {
            "language": "python",
            "root": "/src",
            "files": 3,
            "functions": functions,
            "edges": [{"caller": a, "callee": b, "file": "app.py", "line": 2} for a, b in edges],
            "external": [],
            "unresolved": [],
            "errors": [],
        },
    }


ALL_EDGES = [(PATH[0], PATH[1]), (PATH[1], PATH[2])]


async def reviewed(
    judge: RouterJudge, output: dict[str, Any], *, iteration: int = 1, as_artefact: bool = False
) -> RecordingPublisher:
    store, ledger, publisher = InMemoryArtefacts(), InMemoryLedger(), RecordingPublisher()
    result = StepResult(step_id="s1", tool="code_analyzer", status=StepStatus.SUCCEEDED, output=output)
    if as_artefact:
        ref = await store.put("acme", "t-1", f"{iteration}/s1", *encode_output(output))
        result = result.model_copy(update={"output": None, "artefact": ref})
    event = ExecutionCompleted(
        task_id="t-1", tenant="acme", iteration=iteration, context=context(), plan=PLAN, results=[result]
    )
    await ledger.record_once(stage_key("execute", "t-1", iteration), event)
    await review_execution(event, ReviewerDeps(ledger, publisher, judge, store))
    return publisher


def offline_judge() -> RouterJudge:
    return RouterJudge(LLMRouter(LLMSettings(_env_file=None), {}), output_ok)


def scripted_judge(answer: str, prompts: list[str] | None = None) -> RouterJudge:
    """A reviewer chain of one model that always gives `answer`; the prompts it is sent are kept."""

    async def reply(request: ProviderRequest) -> ProviderReply:
        if prompts is not None:
            prompts.append("\n".join(m.content for m in request.messages))
        return ProviderReply(text=answer, tokens_in=10, tokens_out=5, model=request.model)

    settings = LLMSettings(
        _env_file=None,
        reviewer_chain="openai:gpt-4o",  # type: ignore[arg-type]
        retry_initial_s=0,
        retry_max_s=0,
    )
    return RouterJudge(LLMRouter(settings, {"openai": FunctionProvider("openai", reply)}), output_ok)


APPROVAL = (
    '{"verdict": "approved", "feedback": "the path is there", "final_result": "main -> run -> process_data"}'
)


async def test_the_offline_reviewer_refuses_an_empty_paths_list_saying_why() -> None:
    published = await reviewed(offline_judge(), analysis([], ALL_EDGES))
    [review] = published.of_type(ReviewCompleted)
    assert review.verdict is Verdict.FAILED, review.feedback
    assert "s1:paths_found failed: no call path was found" in review.feedback
    assert review.citations == ["s1:paths_found"]
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.FAILED and "no call path was found" in (finished.reason or "")


async def test_the_offline_reviewer_approves_a_verified_path_and_cites_the_findings_it_checked() -> None:
    published = await reviewed(offline_judge(), analysis([PATH], ALL_EDGES), as_artefact=True)
    [review] = published.of_type(ReviewCompleted)
    assert review.verdict is Verdict.APPROVED, review.feedback
    assert review.citations == ["s1:paths_found", "s1:path_edges", "s1:source", "s1:target"]
    assert {f.status for f in review.findings} == {FindingStatus.OK}
    edges = next(f for f in review.findings if f.check == "path_edges")
    assert edges.evidence["artefact_id"] == review.results[0].artefact.id  # type: ignore[union-attr]


async def test_an_llm_approval_of_a_path_the_graph_does_not_hold_becomes_a_revision_saying_why() -> None:
    prompts: list[str] = []
    published = await reviewed(scripted_judge(APPROVAL, prompts), analysis([PATH], ALL_EDGES[:1]))
    [review] = published.of_type(ReviewCompleted)
    assert review.reviewer == "openai:gpt-4o"
    assert review.verdict is Verdict.REVISE
    assert review.overruled is not None and "s1:path_edges failed" in review.overruled
    assert "app.core.run -> app.data.process_data" in review.feedback
    assert review.citations == ["s1:path_edges"]
    assert review.final_result is None
    assert published.of_type(TaskFinished) == []  # the planner gets another iteration
    [prompt] = prompts
    assert "## Verifier findings" in prompt and '"id": "s1:path_edges"' in prompt


async def test_an_overruled_approval_on_the_last_iteration_ends_the_task_with_the_reason() -> None:
    published = await reviewed(scripted_judge(APPROVAL), analysis([], ALL_EDGES), iteration=3)
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.BUDGET_EXHAUSTED
    assert "approval overruled by the verifiers: s1:paths_found failed" in (finished.reason or "")


async def test_an_llm_approval_the_findings_support_stands_with_its_citations() -> None:
    cited = APPROVAL[:-1] + ', "citations": ["s1:path_edges"]}'
    published = await reviewed(scripted_judge(cited), analysis([PATH], ALL_EDGES))
    [review] = published.of_type(ReviewCompleted)
    assert (review.verdict, review.overruled, review.citations) == (Verdict.APPROVED, None, ["s1:path_edges"])
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.SUCCEEDED


@pytest.mark.parametrize("citations", ["", ', "citations": ["s9:made_up"]'])
async def test_an_llm_that_cites_nothing_it_was_shown_is_taken_to_cite_every_finding(citations: str) -> None:
    published = await reviewed(scripted_judge(APPROVAL[:-1] + citations + "}"), analysis([PATH], ALL_EDGES))
    [review] = published.of_type(ReviewCompleted)
    assert review.verdict is Verdict.APPROVED
    assert review.citations == [f.id for f in review.findings] and len(review.citations) == 4


async def test_the_review_span_carries_each_finding_and_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracer", provider.get_tracer("test"))
    await reviewed(scripted_judge(APPROVAL), analysis([PATH], ALL_EDGES[:1]))
    [span] = [s for s in exporter.get_finished_spans() if s.name == "review"]
    assert span.attributes is not None
    assert span.attributes["troupe.review.verdict"] == "revise"
    assert span.attributes["troupe.review.findings_failed"] == 1
    assert "s1:path_edges failed" in str(span.attributes["troupe.review.overruled"])
    found = {e.attributes["troupe.finding.id"]: e.attributes for e in span.events if e.attributes}
    assert found["s1:path_edges"]["troupe.finding.status"] == "failed"
    assert "app.data.process_data" in str(found["s1:path_edges"]["troupe.finding.evidence"])
