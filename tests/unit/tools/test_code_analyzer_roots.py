"""The pure parts of finding package roots and console scripts."""

from __future__ import annotations

import itertools
from pathlib import PurePath

from toolbox.code_analyzer.base import Deadline
from toolbox.code_analyzer.python.entry_points import from_pyproject, from_setup_cfg
from toolbox.code_analyzer.python.roots import look_alike_externals, module_names


def _names(files: list[str], heads: set[str]) -> dict[str, str]:
    names, _ = module_names([PurePath(f) for f in files], heads)
    return {str(path): name for path, name in names.items()}


def test_imports_put_the_root_below_src_even_with_an_init_file_there() -> None:
    files = ["src/__init__.py", "src/pkg/__init__.py", "src/pkg/cli.py"]
    assert _names(files, {"pkg"})["src/pkg/cli.py"] == "pkg.cli"
    assert _names(files, set())["src/pkg/cli.py"] == "src.pkg.cli"  # no sign: the outermost package


def test_a_package_only_imported_relatively_is_named_from_above_its_outermost_init() -> None:
    assert (
        _names(["a/b/src/lib/__init__.py", "a/b/src/lib/core.py"], set())["a/b/src/lib/core.py"] == "lib.core"
    )


def test_namespace_packages_are_named_from_the_folder_the_code_imports() -> None:
    assert _names(["src/ns/pkg/mod.py"], {"ns"})["src/ns/pkg/mod.py"] == "ns.pkg.mod"


def test_loose_modules_take_the_root_of_their_neighbours_or_skip_unnamable_folders() -> None:
    names = _names(["src/pkg/__init__.py", "src/helper.py", "docs/conf.py", "my-repo/tests/test_a.py"], set())
    assert names["src/helper.py"] == "helper"
    assert names["docs/conf.py"] == "docs.conf"
    assert names["my-repo/tests/test_a.py"] == "tests.test_a"


def test_standard_library_names_are_no_sign_of_a_root() -> None:
    assert _names(["src/json/__init__.py", "src/json/x.py"], {"json"})["src/json/x.py"] == "json.x"
    assert _names(["tools/json.py"], {"json"})["tools/json.py"] == "tools.json"


def test_the_roots_used_are_reported() -> None:
    _, roots = module_names([PurePath("one/src/a/__init__.py"), PurePath("two/b/__init__.py")], set())
    assert roots == [PurePath("one/src"), PurePath("two")]


def test_external_calls_that_end_a_project_function_look_alike() -> None:
    units = ["src.pkg.core.run", "src.pkg.core"]
    assert look_alike_externals(["pkg.core.run", "json.dumps", "builtins.print", "run"], units) == ["pkg"]


def test_scripts_from_pyproject_and_setup_cfg() -> None:
    pyproject = (
        '[project.scripts]\nmytool = "pkg.cli:main"\n[tool.poetry.scripts]\nother = "pkg.x:run [extra]"\n'
    )
    assert from_pyproject(pyproject) == {"mytool": "pkg.cli.main", "other": "pkg.x.run"}
    cfg = "[options.entry_points]\nconsole_scripts =\n    mytool = pkg.cli:main\n"
    assert from_setup_cfg(cfg) == {"mytool": "pkg.cli.main"}
    assert from_setup_cfg("[metadata]\nname = x\n") == {}


def test_a_deadline_is_spent_by_shares() -> None:
    ticks = itertools.count()
    deadline = Deadline.after(10, clock=lambda: float(next(ticks)))  # start at 0, then 1, 2, ...
    assert not deadline.expired(0.5)  # 1s of 10
    assert deadline.expired(0.1)  # 2s of 10
    assert not Deadline.never().expired()
