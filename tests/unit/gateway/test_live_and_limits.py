"""The pieces around the API: live fan-out, rate-limit windows, the SSE reader and the CLI's progress text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway_svc.api_events import sse
from gateway_svc.client import parse_sse
from gateway_svc.live_events import LiveEvent, LiveEvents
from gateway_svc.rate_limit import InMemoryCounters, RateLimiter, window_of
from troupe.cli import describe_event


def _event(task_id: str, kind: str = "step.progressed") -> LiveEvent:
    return LiveEvent(task_id, "acme", kind, f"e-{task_id}", "{}")


async def test_live_events_reach_only_the_subscribers_of_their_task() -> None:
    hub = LiveEvents()
    mine, other = hub.subscribe("t1"), hub.subscribe("t2")
    hub.publish(_event("t1"))
    assert await mine.next(within_s=1) == _event("t1")
    assert other.queue.empty()
    mine.close()
    other.close()
    assert len(hub) == 0


async def test_closing_the_hub_ends_every_stream() -> None:
    hub = LiveEvents()
    sub = hub.subscribe("t1")
    hub.close_all()
    assert await sub.next(within_s=1) is None


async def test_a_subscriber_that_does_not_read_is_cut_off() -> None:
    hub = LiveEvents()
    sub = hub.subscribe("t1")
    for _ in range(sub.queue.maxsize + 1):
        hub.publish(_event("t1"))
    assert len(hub) == 0
    while (item := sub.queue.get_nowait()) is not None:
        assert item.task_id == "t1"


def test_windows_are_whole_minutes_and_retry_after_counts_to_the_end() -> None:
    assert window_of(datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC))[1] == 60
    first, retry = window_of(datetime(2026, 1, 1, 0, 0, 59, 500_000, tzinfo=UTC))
    assert retry == 1
    assert window_of(datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC))[0] == first + 1


async def test_the_limiter_allows_the_limit_then_refuses_until_the_next_window() -> None:
    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    limiter = RateLimiter(InMemoryCounters(), 2, clock=lambda: now)
    decisions = [await limiter.check("k") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].retry_after_s == 30
    assert (await limiter.check("other")).allowed


def test_server_sent_events_round_trip() -> None:
    text = sse("snapshot", '{"a": 1}') + ": keep-alive\n\n" + sse("task.finished", "{}", "e1")
    assert list(parse_sse(text.splitlines())) == [("snapshot", '{"a": 1}'), ("task.finished", "{}")]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("snapshot", {"status": "executing", "progress": 0.5}, ("executing", 0.5)),
        (
            "step.progressed",
            {"step_id": "a", "phase": "finished", "steps_done": 1, "steps_total": 4},
            ("step a finished", 0.25),
        ),
        ("task.finished", {"status": "failed"}, ("failed", None)),
    ],
)
def test_the_progress_bar_follows_the_events(
    name: str, data: dict[str, object], expected: tuple[str, float | None]
) -> None:
    assert describe_event(name, data) == expected
