"""A tenant's CPU-heavy math must not stall the executor's event loop, which every tenant's steps share."""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from pathlib import Path
from typing import Any

from executor_svc.step_runner import StepFailed
from executor_svc.toolbox_runner import ToolboxRunner
from tests.unit.tools.conftest import SAMPLES
from toolbox import ToolContext, ToolSettings, build_registry

# perm first: on a loop that computes these itself, perm alone stalls it for seconds and comb for minutes.
ATTACKS = ["perm(10**6)", "comb(10**7, 5*10**6)", "2**2**2**2**2**2", "9**9**9", "(9**9999)**9999"]
_TICK_S = 0.05
_ATTACK_FOR_S = 6.0  # about 120 ticks, so the p99 is not just the worst one


async def _sample_lag(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        asked = time.monotonic()
        await asyncio.sleep(_TICK_S)
        lags.append(time.monotonic() - asked - _TICK_S)


async def _outcome(runner: ToolboxRunner, tool: str, args: dict[str, Any]) -> Any:
    try:
        return await runner.run(tool, args)
    except StepFailed as failed:
        return failed.reason


async def _attack(runner: ToolboxRunner, until: float) -> list[Any]:
    refusals = []
    attack = 0
    while time.monotonic() < until:
        expression = ATTACKS[attack % len(ATTACKS)]
        refusals.append(await _outcome(runner, "math", {"expression": expression}))
        attack += 1
    return refusals


async def test_math_attacks_leave_the_event_loop_free_and_other_steps_finish(
    tool_settings: ToolSettings, tmp_path: Path
) -> None:
    shutil.copytree(SAMPLES / "callchain_app", tmp_path / "proj")
    runner = ToolboxRunner(build_registry(tool_settings, entry_points=False), ToolContext(workspace=tmp_path))
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_sample_lag(lags, stop))
    until = time.monotonic() + _ATTACK_FOR_S
    attackers = [asyncio.create_task(_attack(runner, until)) for _ in range(3)]
    plain, rooted, analysed = await asyncio.gather(
        _outcome(runner, "math", {"expression": "2 + 3 * 4"}),
        _outcome(runner, "math", {"expression": "round(sqrt(2), 3)"}),
        _outcome(runner, "code_analyzer", {"path": "proj", "source": "main", "target": "process_data"}),
    )
    refused = [reason for attacker in attackers for reason in await attacker]
    stop.set()
    await ticker

    assert (plain, rooted) == ({"value": 14}, {"value": 1.414})
    assert analysed["paths"][0][0] == "app.main.main"
    assert refused
    assert all(isinstance(r, str) and ("digits" in r or "exponent" in r) for r in refused), refused
    p99 = sorted(lags)[math.ceil(0.99 * len(lags)) - 1]
    print(
        f"{len(refused)} attacks; event-loop lag over {len(lags)} ticks: p99 {p99 * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )
    assert p99 < 0.2
    assert max(lags) < 1.0
