"""code_analyzer on a real project from PyPI: click's source distribution, a src/ layout with tests beside it."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from toolbox.code_analyzer import PythonAnalyzer, analyse_project

pytestmark = pytest.mark.network

CLICK = "click==8.1.7"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pypi")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        CLICK,
        "-d",
        str(folder),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"the package index is unreachable, so {CLICK} could not be downloaded: {e}")
    with tarfile.open(next(folder.glob("click-*.tar.gz"))) as archive:
        archive.extractall(folder / "unpacked", filter="data")
    return folder / "unpacked"


def test_click_analysed_from_the_folder_above_its_checkout(unpacked: Path) -> None:
    result = analyse_project(unpacked, "CliRunner.invoke", "BaseCommand.invoke", [PythonAnalyzer()])
    assert "click-8.1.7/src" in result.graph.package_roots
    assert result.sources == ["click.testing.CliRunner.invoke"]
    assert result.paths[0] == [
        "click.testing.CliRunner.invoke",
        "click.core.BaseCommand.main",
        "click.core.BaseCommand.invoke",
    ]
    names = {f.name for f in result.graph.functions}
    assert not any(n.startswith(("src.", "click-8")) for n in names)
    assert "tests.test_basic.test_basic_functionality" in names
    # click's own imports (`from .core import`, `from click.testing import`) stay inside the project.
    assert not any(c.callee.startswith("click.") for c in result.graph.external)
    assert result.warnings == []
    assert result.unresolved and all(u.reason for u in result.unresolved)


def test_click_tests_pass_commands_as_callbacks(unpacked: Path) -> None:
    result = analyse_project(unpacked / "click-8.1.7", None, None, [PythonAnalyzer()])
    callbacks = {(e.caller, e.callee) for e in result.graph.edges if e.kind == "callback"}
    # `runner.invoke(cli, ...)`: the command function defined in the test is handed to the runner.
    assert (
        "tests.test_basic.test_basic_functionality",
        "tests.test_basic.test_basic_functionality.cli",
    ) in callbacks
