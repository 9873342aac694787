"""The gateway while MongoDB is unreachable (decision 9), over fakes: submissions go on for keys verified
lately, everything that needs the store answers 503 with Retry-After and says why."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from gateway_svc.auth import ApiKey, InMemoryKeyStore, Role
from gateway_svc.components import Components
from gateway_svc.idempotency import Claim, InMemoryIdempotencyStore
from gateway_svc.live_events import LiveEvents
from gateway_svc.rate_limit import InMemoryCounters, RateLimiter
from gateway_svc.recent_keys import RecentKeys
from gateway_svc.settings import GatewaySettings
from schemas import TaskSubmitted, utc_now
from troupe.artefacts import InMemoryArtefacts
from troupe.publishing import RecordingPublisher

from .test_api_with_fakes import TOKEN, UnreachableStore, serving

NO_SERVERS = ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")


@dataclass
class Outage:
    down: bool = False


class FlakyKeys(InMemoryKeyStore):
    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    async def find(self, token: str) -> ApiKey | None:
        if self.outage.down:
            raise NO_SERVERS
        return await super().find(token)


class FlakyCounters(InMemoryCounters):
    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage
        self.asked = 0

    async def hit(self, key_id: str, window: int, limit: int) -> int:
        self.asked += 1
        if self.outage.down:
            raise NO_SERVERS
        return await super().hit(key_id, window, limit)


class FlakyClaims(InMemoryIdempotencyStore):
    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    async def claim(self, claim: Claim) -> Claim:
        if self.outage.down:
            raise NO_SERVERS
        return await super().claim(claim)


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def outage() -> Outage:
    return Outage()


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def flaky(outage: Outage, clock: Clock) -> Components:
    """The API's parts with every MongoDB-backed one failing while `outage.down` (task reads always)."""
    keys = FlakyKeys(outage)
    await keys.put("k_acme", TOKEN, "acme", Role.USER)

    async def ready() -> dict[str, bool]:
        return {"mongodb": not outage.down, "kafka": True}

    return Components(
        settings=GatewaySettings(sse_first_event_wait_s=0),
        keys=keys,
        limiter=RateLimiter(FlakyCounters(outage), 1_000),
        idempotency=FlakyClaims(outage),
        tasks=UnreachableStore(),
        publisher=RecordingPublisher(),
        live=LiveEvents(),
        readiness=ready,
        artefacts=InMemoryArtefacts(),
        recent_keys=RecentKeys(ttl_s=60, clock=clock),
    )


def published(parts: Components) -> list[TaskSubmitted]:
    assert isinstance(parts.publisher, RecordingPublisher)
    return parts.publisher.of_type(TaskSubmitted)


async def test_a_key_verified_lately_still_submits_to_kafka_while_the_store_is_down(
    flaky: Components, outage: Outage
) -> None:
    async with serving(flaky) as api:
        assert (await api.post("/tasks", json={"description": "before"})).status_code == 202
        outage.down = True
        answer = await api.post("/tasks", json={"description": "during"})
    assert answer.status_code == 202
    assert [e.request.description for e in published(flaky)] == ["before", "during"]
    assert published(flaky)[1].task_id == answer.json()["task_id"]
    assert published(flaky)[1].tenant == "acme"
    assert "x-ratelimit-limit" not in answer.headers  # not counted: the counters are in the store


async def test_reads_answer_503_with_retry_after_and_say_why(flaky: Components, outage: Outage) -> None:
    async with serving(flaky) as api:
        await api.post("/tasks", json={"description": "verify the key"})
        outage.down = True
        answers = [await api.get(path) for path in ("/tasks/t1", "/tasks", "/tasks/t1/logs")]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json() == {"detail": "the task store (MongoDB) is unreachable; retry later"}


async def test_a_key_not_verified_lately_is_503_not_401(
    flaky: Components, outage: Outage, clock: Clock
) -> None:
    async with serving(flaky) as api:
        await api.post("/tasks", json={"description": "verify the key"})
        outage.down = True
        clock.now += 60
        stale = await api.post("/tasks", json={"description": "x"})
        unknown = await api.post(
            "/tasks", json={"description": "x"}, headers={"Authorization": "Bearer trp_never_seen"}
        )
    for answer in (stale, unknown):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["detail"] == (
            "cannot verify this API key: the key store (MongoDB) is unreachable and the key was not "
            "verified in the last 60 s; retry later"
        )
    assert len(published(flaky)) == 1


async def test_a_key_found_revoked_is_forgotten_at_once(flaky: Components, outage: Outage) -> None:
    async with serving(flaky) as api:
        await api.post("/tasks", json={"description": "verify the key"})
        assert isinstance(flaky.keys, FlakyKeys)
        await flaky.keys.revoke("k_acme")
        assert (await api.post("/tasks", json={"description": "x"})).status_code == 401
        outage.down = True
        answer = await api.post("/tasks", json={"description": "x"})
    assert answer.status_code == 503
    assert len(published(flaky)) == 1


async def test_an_idempotency_key_cannot_be_honoured_while_the_store_is_down(
    flaky: Components, outage: Outage
) -> None:
    async with serving(flaky) as api:
        await api.post("/tasks", json={"description": "verify the key"})
        outage.down = True
        answer = await api.post("/tasks", json={"description": "x"}, headers={"Idempotency-Key": "k1"})
        outage.down = False
        retried = await api.post("/tasks", json={"description": "x"}, headers={"Idempotency-Key": "k1"})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert "Idempotency-Key" in answer.json()["detail"] and "MongoDB" in answer.json()["detail"]
    assert retried.status_code == 202
    assert [e.task_id for e in published(flaky)][1:] == [retried.json()["task_id"]]


async def test_the_rate_limit_fails_open_when_only_its_counters_are_unreachable(
    flaky: Components, outage: Outage
) -> None:
    class CountersDown(FlakyCounters):
        async def hit(self, key_id: str, window: int, limit: int) -> int:
            raise NO_SERVERS

    async with serving(replace(flaky, limiter=RateLimiter(CountersDown(outage), 1))) as api:
        answers = [await api.post("/tasks", json={"description": str(i)}) for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]


async def test_a_refused_command_is_a_500_not_an_outage(flaky: Components) -> None:
    class Refusing(UnreachableStore):
        async def load(self, task_id: str) -> None:
            raise OperationFailure("unknown operator: $bad", code=2)

    async with serving(replace(flaky, tasks=Refusing())) as api:
        with pytest.raises(OperationFailure):  # the test transport re-raises what became a 500
            await api.get("/tasks/t1")


def test_recent_keys_forget_after_the_ttl_and_on_a_revoked_answer() -> None:
    clock = Clock()
    recent = RecentKeys(ttl_s=60, clock=clock)
    key = ApiKey(key_id="k1", tenant="acme", created_at=utc_now())
    recent.note("tok", key)
    clock.now += 59.9
    assert recent.recall("tok") == key
    assert recent.recall("other") is None
    clock.now += 0.1
    assert recent.recall("tok") is None
    recent.note("tok", key)
    recent.note("tok", key.model_copy(update={"revoked": True}))
    assert recent.recall("tok") is None


def test_recent_keys_stay_bounded() -> None:
    clock = Clock()
    recent = RecentKeys(ttl_s=60, clock=clock, max_entries=2)
    key = ApiKey(key_id="k1", tenant="acme", created_at=utc_now())
    recent.note("a", key)
    recent.note("b", key)
    recent.note("c", key)  # full of fresh entries: not remembered
    assert [recent.recall(t) for t in "abc"] == [key, key, None]
    clock.now += 61
    recent.note("c", key)  # the expired ones make room
    assert [recent.recall(t) for t in "abc"] == [None, None, key]
