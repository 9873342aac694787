"""The JavaScript/TypeScript analyser on real npm packages, fetched with `npm pack` at pinned versions.

Skipped, saying why, where npm or its registry cannot be reached.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from toolbox.code_analyzer import JavaScriptAnalyzer, analyse_project
from toolbox.code_analyzer.model import AnalyzeResult

COMMANDER = "commander@12.1.0"  # plain JavaScript, CommonJS, one big class
RXJS = "rxjs@7.8.1"  # ships its TypeScript sources in src/


_UNREACHABLE: list[str] = []  # why npm failed once, so later packages skip at once


def _unpacked(spec: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    if _UNREACHABLE:
        pytest.skip(_UNREACHABLE[0])
    try:
        done = subprocess.run(
            [npm, "pack", spec, "--pack-destination", str(into), "--loglevel=error", "--fetch-retries=0"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        said = [line for line in done.stderr.splitlines() if line.strip()]
        failure = "" if done.returncode == 0 else (said[0] if said else f"exit {done.returncode}")
    except subprocess.TimeoutExpired:
        failure = "timed out"
    tarballs = sorted(into.glob("*.tgz"))
    if failure or not tarballs:
        _UNREACHABLE.append(f"npm pack {spec} failed, so the npm registry is taken as unreachable: {failure}")
        pytest.skip(_UNREACHABLE[0])
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(into, filter="data")
    return into / "package"


@pytest.fixture(scope="module")
def commander(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpacked(COMMANDER, tmp_path_factory.mktemp("commander"))


@pytest.fixture(scope="module")
def rxjs_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpacked(RXJS, tmp_path_factory.mktemp("rxjs")) / "src"


def _analyse(root: Path, source: str, target: str) -> AnalyzeResult:
    return analyse_project(root, source, target, [JavaScriptAnalyzer()])


def test_commander_parse_reaches_the_subcommand_it_executes(commander: Path) -> None:
    result = _analyse(commander, "parse", "_executeSubCommand")
    assert result.graph.files == 8  # index.js, esm.mjs, lib/*.js; the two typings are declarations only
    assert result.errors == []
    assert result.paths[0] == [
        "lib/command.Command.parse",
        "lib/command.Command._parseCommand",
        "lib/command.Command._dispatchSubcommand",
        "lib/command.Command._executeSubCommand",
    ]


def test_commander_package_main_reaches_the_did_you_mean_helper(commander: Path) -> None:
    result = _analyse(commander, "package.json.main", "suggestSimilar")
    # index.js exports `program = new Command()`: the methods of an exported instance are where users start.
    assert result.paths[0] == [
        "package.json.main",
        "lib/command.Command.unknownCommand",
        "lib/suggestSimilar.suggestSimilar",
    ]
    assert "flowchart TD" in result.mermaid and "lib/suggestSimilar.suggestSimilar" in result.mermaid


def test_rxjs_typescript_sources_resolve_through_typed_parameters(rxjs_src: Path) -> None:
    result = _analyse(rxjs_src, "mergeWith", "_trySubscribe")
    assert result.graph.files == 252
    assert result.errors == []
    # mergeInternals(source: Observable<T>, ...) calls source.subscribe: the declared type names the class.
    assert result.paths[0] == [
        "internal/operators/mergeWith.mergeWith",
        "internal/operators/merge.merge",
        "internal/operators/mergeAll.mergeAll",
        "internal/operators/mergeMap.mergeMap",
        "internal/operators/mergeInternals.mergeInternals",
        "internal/Observable.Observable.subscribe",
        "internal/Observable.Observable._trySubscribe",
    ]
