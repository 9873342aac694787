from __future__ import annotations

from pathlib import Path

import pytest

from toolbox import SandboxUnavailable, ToolSettings
from toolbox.sandbox import choose_sandbox


async def test_no_backend_gives_one_error_naming_every_cause_and_the_fix(tmp_path: Path) -> None:
    settings = ToolSettings(
        sandbox_backend="auto",
        docker_base_url=f"unix://{tmp_path / 'no.sock'}",
        bwrap_path=str(tmp_path / "no-bwrap"),
    )
    with pytest.raises(SandboxUnavailable) as caught:
        await choose_sandbox(settings)
    reason = str(caught.value)
    assert "no sandbox backend can run code (TROUPE_TOOLS_SANDBOX_BACKEND=auto)" in reason
    assert "docker: no Docker-compatible engine answers at unix://" in reason
    assert "bwrap: bubblewrap" in reason and "is not installed" in reason
    assert "bash infra/sandbox.sh start" in reason


async def test_an_explicit_backend_is_not_replaced_by_another(tmp_path: Path) -> None:
    settings = ToolSettings(sandbox_backend="docker", docker_base_url=f"unix://{tmp_path / 'no.sock'}")
    with pytest.raises(SandboxUnavailable, match=r"BACKEND=docker\): docker: no Docker-compatible engine"):
        await choose_sandbox(settings)
