from __future__ import annotations

from pathlib import Path

import pytest

from toolbox import ToolContext, ToolSettings

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


@pytest.fixture
def tool_settings() -> ToolSettings:
    # Explicit values: the tests must not depend on TROUPE_TOOLS_* in the developer's environment.
    return ToolSettings(sandbox_backend="auto", search_url=None, http_allowlist=[])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    return ws


@pytest.fixture
def context(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace)
