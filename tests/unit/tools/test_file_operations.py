from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from toolbox import InvalidArguments, PathRefused, ToolContext, ToolFailed, ToolSettings, run_tool
from toolbox.file_operations import FileOperations
from toolbox.registry import Registry


@pytest.fixture
def registry(tool_settings: ToolSettings) -> Registry:
    return Registry([FileOperations(tool_settings)])


async def _op(registry: Registry, context: ToolContext, **args: object) -> Any:
    return await run_tool(registry, "file_operations", args, context)


async def test_write_then_read_list_and_search(registry: Registry, context: ToolContext) -> None:
    written = await _op(registry, context, op="write", path="notes/a.txt", content="alpha\nbeta\ngamma\n")
    assert written["bytes_written"] == 17
    read = await _op(registry, context, op="read", path="notes/a.txt")
    assert read["content"] == "alpha\nbeta\ngamma\n"
    assert read["truncated"] is False
    listed = await _op(registry, context, op="list", path=".")
    assert listed["entries"] == ["notes/"]
    listed = await _op(registry, context, op="list", path="notes", pattern="*.txt")
    assert listed["entries"] == ["a.txt"]
    found = await _op(registry, context, op="search", path=".", pattern="^be")
    assert found["matches"] == [{"path": "notes/a.txt", "line": 2, "text": "beta"}]


async def test_reads_are_capped(tool_settings: ToolSettings, context: ToolContext) -> None:
    registry = Registry([FileOperations(tool_settings.model_copy(update={"file_max_read_bytes": 4}))])
    (context.workspace / "big.txt").write_text("0123456789")
    read = await _op(registry, context, op="read", path="big.txt")
    assert (read["content"], read["truncated"]) == ("0123", True)


async def test_a_read_only_root_can_be_read_and_searched_but_not_written(
    registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("needle\n")
    ctx = ToolContext(workspace=tmp_path / "workspace", read_only_roots=(data,))
    assert (await _op(registry, ctx, op="read", path=str(data / "in.txt")))["content"] == "needle\n"
    assert (await _op(registry, ctx, op="search", path=str(data), pattern="need"))["matches"][0]["line"] == 1
    with pytest.raises(PathRefused, match="read-only root"):
        await _op(registry, ctx, op="write", path=str(data / "x.txt"), content="no")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"op": "read", "path": "../outside.txt"}, "leaves the workspace"),
        ({"op": "write", "path": "../outside.txt", "content": "x"}, "leaves the workspace"),
        ({"op": "read", "path": "/etc/passwd"}, "outside the workspace"),
        ({"op": "list", "path": "/"}, "outside the workspace"),
        ({"op": "read", "path": "escape/secret.txt"}, "symlink that points outside"),
        ({"op": "write", "path": "escape/new.txt", "content": "x"}, "symlink that points outside"),
    ],
)
async def test_paths_leaving_the_workspace_are_refused(
    registry: Registry, context: ToolContext, tmp_path: Path, args: dict[str, object], reason: str
) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    os.symlink(tmp_path, context.workspace / "escape")
    with pytest.raises(PathRefused, match=reason):
        await _op(registry, context, **args)
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path / "new.txt").exists()


async def test_search_does_not_follow_symlinks_out(
    registry: Registry, context: ToolContext, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("needle")
    os.symlink(tmp_path / "secret.txt", context.workspace / "link.txt")
    assert (await _op(registry, context, op="search", path=".", pattern="needle"))["matches"] == []


async def test_missing_arguments_and_missing_files_are_clear(
    registry: Registry, context: ToolContext
) -> None:
    with pytest.raises(InvalidArguments, match="write needs 'content'"):
        await _op(registry, context, op="write", path="a.txt")
    with pytest.raises(InvalidArguments, match="search needs 'pattern'"):
        await _op(registry, context, op="search", path=".")
    with pytest.raises(ToolFailed, match=r"'nope\.txt' does not exist"):
        await _op(registry, context, op="read", path="nope.txt")
    with pytest.raises(InvalidArguments, match="bad search pattern"):
        await _op(registry, context, op="search", path=".", pattern="(")
