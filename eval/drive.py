"""Asking the pipeline: each case as a task on Kafka, one at a time, timed from submission to its end."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from bench.pipeline_load import KafkaDoor
from eval.cases import Case
from eval.scoring import judge, paths_in

__all__ = ["Answer", "ask"]

SHOWN_PATHS = 5


@dataclass(frozen=True)
class Answer:
    """What one case's task came to, as the report shows it."""

    case: str
    project: str
    status: str | None
    seconds: float
    right: bool
    why: str
    paths_found: int
    paths: list[list[str]]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def ask(door: KafkaDoor, case: Case, root: Path, limit_s: float) -> Answer:
    """Submit the case's question about the project at `root`; wait at most `limit_s` for its end."""
    task_id = f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    done, sent = await door.publish(task_id, case.question(root))
    await sent
    status: str | None = None
    reason: str | None = None
    result: JsonValue = None
    try:
        finished = await asyncio.wait_for(asyncio.shield(done), limit_s)
    except TimeoutError:
        pass
    else:
        status, reason, result = finished.status.value, finished.reason, finished.result
    seconds = time.perf_counter() - started
    verdict = judge(status, reason, result, case.expected)
    paths = paths_in(result) or []
    return Answer(
        case.id,
        case.project,
        status,
        seconds,
        verdict.right,
        verdict.reason,
        len(paths),
        paths[:SHOWN_PATHS],
        case.note,
    )
