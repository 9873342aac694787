"""Slow sandbox runs do not take the threads other tenants' work waits on."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.integration.tools.conftest import sandbox_settings
from toolbox import ToolContext
from toolbox.python_exec import PythonExec, PythonExecArgs
from toolbox.sandbox.docker_backend import DockerSandbox


async def test_slow_docker_runs_leave_the_default_thread_pool_free(reachable_dir: Path) -> None:
    # More runs than the default pool has threads (cores + 4), each blocking its thread in the docker SDK.
    runs = min(32, (os.cpu_count() or 1) + 4) + 2
    settings = sandbox_settings("docker").model_copy(update={"max_concurrent_runs": runs})
    tool = PythonExec(settings, DockerSandbox(settings))
    contexts = []
    for n in range(runs):
        (reachable_dir / f"w{n}").mkdir()
        contexts.append(ToolContext(workspace=reachable_dir / f"w{n}"))
    slow = [
        asyncio.create_task(tool.run(PythonExecArgs(code="import time; time.sleep(6)", timeout_s=25), c))
        for c in contexts
    ]
    await asyncio.sleep(1.0)  # every run is in the SDK by now, starting or waiting for its container

    await asyncio.wait_for(asyncio.to_thread(lambda: None), timeout=30)

    assert not any(task.done() for task in slow), "a run ended before a thread of the default pool was free"
    results = await asyncio.gather(*slow)
    assert all(r.exit_code == 0 for r in results)
