from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolbox import PathRefused
from toolbox.workspace import confine, lexical_target


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    ws = tmp_path / "ws"
    data = tmp_path / "data"
    (ws / "src").mkdir(parents=True)
    data.mkdir()
    (ws / "src" / "a.py").write_text("x = 1\n")
    (data / "input.csv").write_text("a,b\n")
    (tmp_path / "secret.txt").write_text("s3cret")
    return ws, data


def test_relative_paths_start_at_the_workspace(roots: tuple[Path, Path]) -> None:
    ws, _ = roots
    assert confine("src/a.py", ws, write=False) == (ws / "src" / "a.py").resolve()
    assert confine("src/../src/a.py", ws, write=True) == (ws / "src" / "a.py").resolve()
    assert confine(".", ws, write=False) == ws.resolve()


def test_lexical_target_folds_dot_dot_without_touching_the_disk() -> None:
    assert lexical_target("a/../../b", Path("/w/ws")) == Path("/w/b")


@pytest.mark.parametrize("path", ["../secret.txt", "src/../../secret.txt", "../ws2/x"])
def test_traversal_out_of_the_workspace_is_refused(roots: tuple[Path, Path], path: str) -> None:
    ws, _ = roots
    with pytest.raises(PathRefused, match="leaves the workspace"):
        confine(path, ws, write=False)


def test_absolute_paths_outside_are_refused(roots: tuple[Path, Path]) -> None:
    ws, data = roots
    with pytest.raises(PathRefused, match="outside the workspace and the allowed read-only roots"):
        confine("/etc/passwd", ws, [data], write=False)
    assert confine(str(ws / "src" / "a.py"), ws, write=False).name == "a.py"


def test_read_only_roots_are_readable_but_not_writable(roots: tuple[Path, Path]) -> None:
    ws, data = roots
    assert confine(str(data / "input.csv"), ws, [data], write=False) == (data / "input.csv").resolve()
    with pytest.raises(PathRefused, match="read-only root"):
        confine(str(data / "out.csv"), ws, [data], write=True)


def test_symlinks_pointing_out_are_refused(roots: tuple[Path, Path], tmp_path: Path) -> None:
    ws, _ = roots
    os.symlink(tmp_path / "secret.txt", ws / "link.txt")
    os.symlink(tmp_path, ws / "up")
    with pytest.raises(PathRefused, match="symlink that points outside"):
        confine("link.txt", ws, write=False)
    with pytest.raises(PathRefused, match="symlink that points outside"):
        confine("up/secret.txt", ws, write=True)


def test_symlinks_inside_the_workspace_are_followed(roots: tuple[Path, Path]) -> None:
    ws, _ = roots
    os.symlink(ws / "src" / "a.py", ws / "alias.py")
    assert confine("alias.py", ws, write=False) == (ws / "src" / "a.py").resolve()


@pytest.mark.parametrize("path", ["", "a\x00b"])
def test_empty_and_nul_paths_are_refused(roots: tuple[Path, Path], path: str) -> None:
    with pytest.raises(PathRefused, match="invalid path"):
        confine(path, roots[0], write=False)
