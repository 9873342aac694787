"""The HTTP API over in-memory fakes: the whole request path, without Kafka or MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from gateway_svc.app import create_app
from gateway_svc.auth import InMemoryKeyStore, Role
from gateway_svc.components import Components
from gateway_svc.idempotency import InMemoryIdempotencyStore
from gateway_svc.live_events import LiveEvents
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from gateway_svc.rate_limit import InMemoryCounters, RateLimiter
from gateway_svc.settings import GatewaySettings
from gateway_svc.task_state import LogEntry, TaskState
from schemas import Envelope, Finding, FindingStatus, ReviewCompleted, TaskSubmitted, Verdict
from troupe.artefacts import InMemoryArtefacts
from troupe.llm.config import LLMSettings
from troupe.llm.price_check import unpriced_refusal
from troupe.publishing import RecordingPublisher

from .events import happy_path

TOKEN = "trp_test_token"


class FailingPublisher(RecordingPublisher):
    """Refuses the first `failures` publishes, as a broker that is away would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, event: Envelope) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        await super().publish(event)


class UnreachableStore(InMemoryTaskStore):
    async def load(self, task_id: str) -> TaskState | None:
        raise ServerSelectionTimeoutError("no servers")

    async def page(
        self, tenant: str, statuses: Sequence[str], limit: int, cursor: str | None
    ) -> list[TaskState]:
        raise ServerSelectionTimeoutError("no servers")

    async def log_page(self, task_id: str, limit: int, cursor: str | None) -> list[LogEntry]:
        raise ServerSelectionTimeoutError("no servers")


@pytest.fixture
async def parts() -> Components:
    keys = InMemoryKeyStore()
    await keys.put("k_acme", TOKEN, "acme", Role.USER)

    async def ready() -> dict[str, bool]:
        return {"mongodb": True, "kafka": True}

    return Components(
        settings=GatewaySettings(rate_limit_per_minute=1_000, sse_first_event_wait_s=0),
        keys=keys,
        limiter=RateLimiter(InMemoryCounters(), 1_000),
        idempotency=InMemoryIdempotencyStore(),
        tasks=InMemoryTaskStore(),
        publisher=RecordingPublisher(),
        live=LiveEvents(),
        readiness=ready,
        artefacts=InMemoryArtefacts(),
    )


@asynccontextmanager
async def serving(parts: Components) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def connect(_: GatewaySettings) -> AsyncIterator[Components]:
        yield parts

    app = create_app(parts.settings, connect=connect)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            yield client


async def test_a_submitted_task_is_published_and_readable_once_projected(parts: Components) -> None:
    async with serving(parts) as api:
        answer = await api.post("/tasks", json={"description": "evaluate 2**10"})
        assert answer.status_code == 202
        task_id = answer.json()["task_id"]
        assert isinstance(parts.publisher, RecordingPublisher)
        [event] = parts.publisher.of_type(TaskSubmitted)
        assert (event.task_id, event.tenant) == (task_id, "acme")
        assert (await api.get(f"/tasks/{task_id}")).status_code == 404  # not projected yet

        assert isinstance(parts.tasks, InMemoryTaskStore)
        await Projector(parts.tasks).apply(event)
        task = (await api.get(f"/tasks/{task_id}")).json()
        assert (task["status"], task["description"], task["tenant"]) == (
            "submitted",
            "evaluate 2**10",
            "acme",
        )
        [entry] = (await api.get(f"/tasks/{task_id}/logs")).json()["items"]
        assert entry["type"] == "task.submitted"


async def test_a_publish_that_fails_is_503_and_a_retry_with_the_key_publishes_the_same_task(
    parts: Components,
) -> None:
    publisher = FailingPublisher(failures=1)
    async with serving(replace(parts, publisher=publisher)) as api:
        headers = {"Idempotency-Key": "k1"}
        failed = await api.post("/tasks", json={"description": "x"}, headers=headers)
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "5"
        assert "Kafka" in failed.json()["detail"]
        retried = await api.post("/tasks", json={"description": "x"}, headers=headers)
        again = await api.post("/tasks", json={"description": "x"}, headers=headers)
    assert retried.status_code == again.status_code == 202
    assert retried.json()["task_id"] == again.json()["task_id"]
    assert [e.task_id for e in publisher.events] == [retried.json()["task_id"]]


async def test_an_unreachable_task_store_answers_503_with_retry_after(parts: Components) -> None:
    async with serving(replace(parts, tasks=UnreachableStore())) as api:
        for path in ("/tasks/t1", "/tasks", "/tasks/t1/logs"):
            answer = await api.get(path)
            assert answer.status_code == 503, path
            assert answer.headers["retry-after"] == "5"
            assert "MongoDB" in answer.json()["detail"]


async def test_readiness_is_503_when_a_dependency_is_down(parts: Components) -> None:
    async def half() -> dict[str, bool]:
        return {"mongodb": False, "kafka": True}

    async with serving(replace(parts, readiness=half)) as api:
        answer = await api.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {
        "ready": False,
        "checks": {"mongodb": False, "kafka": True},
        "detail": "not ready: MongoDB does not answer; retry later",
    }


async def test_liveness_is_503_when_the_projection_stopped_working(parts: Components) -> None:
    async with serving(replace(parts, liveness=lambda: {"projection": True})) as api:
        assert (await api.get("/healthz", headers={})).json() == {"status": "ok"}
    async with serving(replace(parts, liveness=lambda: {"projection": False})) as api:
        answer = await api.get("/healthz", headers={})
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "failing",
        "checks": {"projection": False},
        "detail": "not working: projection; restart this replica",
    }


async def test_task_lists_page_by_cursor_and_filter_by_status(parts: Components) -> None:
    assert isinstance(parts.tasks, InMemoryTaskStore)
    projector = Projector(parts.tasks)
    for i in range(5):
        for event in happy_path(f"t{i}", "acme")[: 9 if i % 2 else 1]:
            await projector.apply(event)
    await projector.apply(happy_path("foreign", "globex")[0])
    async with serving(parts) as api:
        seen, cursor = [], None
        while True:
            page = (
                await api.get("/tasks", params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
            ).json()
            seen += [t["task_id"] for t in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        done = (await api.get("/tasks", params={"status": "succeeded"})).json()["items"]
        bad = await api.get("/tasks", params={"cursor": "garbage"})
        wrong_status = await api.get("/tasks", params={"status": "sleeping"})
    assert sorted(seen) == ["t0", "t1", "t2", "t3", "t4"]
    assert sorted(t["task_id"] for t in done) == ["t1", "t3"]
    assert bad.status_code == 422
    [invalid] = bad.json()["detail"]
    assert invalid["loc"] == ["query", "cursor"] and "next_cursor" in invalid["msg"]
    assert wrong_status.status_code == 422


async def test_the_verifiers_findings_and_the_verdicts_citations_show_in_the_task(parts: Components) -> None:
    assert isinstance(parts.tasks, InMemoryTaskStore)
    finding = Finding(
        id="a:finite",
        step_id="a",
        tool="math",
        check="finite",
        status=FindingStatus.FAILED,
        detail="the value 'inf' is not a finite number",
        evidence={"value": "inf"},
    )
    *before, approval, _ = happy_path("t1", "acme")
    assert isinstance(approval, ReviewCompleted)
    overruled = approval.model_copy(
        update={
            "verdict": Verdict.REVISE,
            "findings": [finding],
            "citations": ["a:finite"],
            "overruled": "approval overruled by the verifiers: a:finite failed",
        }
    )
    projector = Projector(parts.tasks)
    for event in [*before, overruled]:
        await projector.apply(event)
    async with serving(parts) as api:
        review = (await api.get("/tasks/t1")).json()["review"]
    assert review["verdict"] == "revise"
    assert review["findings"] == [finding.model_dump(mode="json")]
    assert review["citations"] == ["a:finite"]
    assert review["overruled"] == "approval overruled by the verifiers: a:finite failed"


async def test_cancelling_an_ended_task_is_409(parts: Components) -> None:
    assert isinstance(parts.tasks, InMemoryTaskStore)
    for event in happy_path("done", "acme"):
        await Projector(parts.tasks).apply(event)
    async with serving(parts) as api:
        answer = await api.delete("/tasks/done")
    assert answer.status_code == 409
    assert "already ended: succeeded" in answer.json()["detail"]


async def test_the_rate_limit_answers_429_with_retry_after(parts: Components) -> None:
    async with serving(replace(parts, limiter=RateLimiter(InMemoryCounters(), 2))) as api:
        codes = [(await api.get("/tasks")).status_code for _ in range(3)]
        refused = await api.get("/tasks")
    assert codes == [200, 200, 429]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared length", "chunked"])
async def test_a_body_over_the_event_limit_is_413_with_its_size_and_nothing_is_published(
    parts: Components, chunked: bool
) -> None:
    limit = 64 * 1024
    settings = parts.settings.model_copy(update={"max_event_bytes": limit})
    body = b'{"description": "x", "plan": {"steps": [{"id": "a", "tool": "math", "args": {"e": "%s"}}]}}' % (
        b"1" * limit
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    async with serving(replace(parts, settings=settings)) as api:
        content = chunks() if chunked else body
        answer = await api.post("/tasks", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    assert "over the limit of 65,536 bytes (TROUPE_MAX_EVENT_BYTES)" in detail, detail
    assert ("request body is over" if chunked else f"request body is {len(body):,} bytes") in detail
    assert isinstance(parts.publisher, RecordingPublisher) and parts.publisher.events == []


async def test_a_body_within_the_limit_whose_event_is_over_it_is_413(parts: Components) -> None:
    limit = 64 * 1024
    settings = parts.settings.model_copy(update={"max_event_bytes": limit})
    prefix = b'{"description": "x", "plan": {"steps": [{"id": "a", "tool": "math", "args": {"e": "'
    suffix = b'"}}]}}'
    body = prefix + b"1" * (limit - len(prefix) - len(suffix)) + suffix  # the envelope pushes it over
    async with serving(replace(parts, settings=settings)) as api:
        answer = await api.post("/tasks", content=body, headers={"Content-Type": "application/json"})
    assert len(body) == limit
    assert answer.status_code == 413
    assert "the task's event would be" in answer.json()["detail"]
    assert isinstance(parts.publisher, RecordingPublisher) and parts.publisher.events == []


async def test_a_client_cannot_choose_the_task_id_so_none_of_another_tenants_ids_is_reachable(
    parts: Components,
) -> None:
    async with serving(parts) as api:
        chosen = await api.post("/tasks", json={"description": "x", "task_id": "someone-elses"})
        assert chosen.status_code in (400, 422)
        assert isinstance(parts.publisher, RecordingPublisher)
        assert parts.publisher.events == []


async def test_a_cost_budget_over_a_model_without_a_price_is_422_with_the_reason(parts: Components) -> None:
    llm = LLMSettings(_env_file=None, openai_api_key="k", planner_chain="openai:scripted-model")  # type: ignore[arg-type]
    checked = replace(parts, refusal=partial(unpriced_refusal, settings=llm))
    budgeted = {"description": "summarise", "constraints": {"max_cost_usd": 0.5}}
    async with serving(checked) as api:
        refused = await api.post("/tasks", json=budgeted)
        accepted = await api.post("/tasks", json={"description": "summarise"})
    assert refused.status_code == 422
    [invalid] = refused.json()["detail"]
    assert invalid["loc"] == ["body", "constraints", "max_cost_usd"]
    assert invalid["msg"].startswith(
        "max_cost_usd cannot be kept: no price is known for openai:scripted-model"
    )
    assert accepted.status_code == 202
    assert isinstance(parts.publisher, RecordingPublisher)
    assert len(parts.publisher.events) == 1  # only the task without a cost budget went out
