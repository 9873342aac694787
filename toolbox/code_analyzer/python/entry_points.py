"""Console scripts a project declares (`[project.scripts] mytool = "pkg.cli:main"`), as dotted function names."""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from toolbox.code_analyzer.source_files import read_source

__all__ = ["from_pyproject", "from_setup_cfg", "read_entry_points"]


def _dotted(reference: str) -> str:
    """`pkg.cli:main [extra]` -> `pkg.cli.main`."""
    return reference.split("[")[0].strip().replace(":", ".")


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data if isinstance(data, dict) else {}


def from_pyproject(text: str) -> dict[str, str]:
    data = tomllib.loads(text)
    found: dict[str, str] = {}
    for table in (
        _table(data, "project", "scripts"),
        _table(data, "project", "gui-scripts"),
        _table(data, "tool", "poetry", "scripts"),
    ):
        found.update({name: _dotted(ref) for name, ref in table.items() if isinstance(ref, str)})
    return found


def from_setup_cfg(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    found: dict[str, str] = {}
    for key in ("console_scripts", "gui_scripts"):
        for line in parser.get("options.entry_points", key, fallback="").splitlines():
            name, sep, ref = line.partition("=")
            if sep and name.strip():
                found[name.strip()] = _dotted(ref)
    return found


def read_entry_points(folders: Iterable[Path]) -> tuple[dict[str, str], list[str]]:
    """Scripts declared in the pyproject.toml and setup.cfg of these folders, and the files that did not parse."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for folder in folders:
        for name, parse in (("setup.cfg", from_setup_cfg), ("pyproject.toml", from_pyproject)):
            path = folder / name
            if not path.exists():
                continue
            try:
                found.update(parse(read_source(path).decode("utf-8", errors="replace")))
            except (OSError, ValueError, configparser.Error) as e:
                problems.append(f"{path.name} in {folder.name or folder} could not be read: {e}")
    return found, problems
