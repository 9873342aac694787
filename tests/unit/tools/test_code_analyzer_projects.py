"""code_analyzer on project layouts met in real code: src/ layouts, entry points, inference, callbacks, budgets."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from toolbox import Registry, ToolContext, run_tool
from toolbox.code_analyzer import CodeAnalyzer, PythonAnalyzer, analyse_project
from toolbox.code_analyzer.model import AnalyzeResult, CallEdge, CallGraph
from toolbox.settings import ToolSettings


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _analyse(root: Path, source: str | None = None, target: str | None = None) -> AnalyzeResult:
    return analyse_project(root, source, target, [PythonAnalyzer()])


def _edges(result: AnalyzeResult, kind: str = "call") -> set[tuple[str, str]]:
    return {(e.caller, e.callee) for e in result.graph.edges if e.kind == kind}


_SHOP = {
    "shop/__init__.py": "",
    "shop/cli.py": "from shop.orders import place\n\ndef main():\n    place()\n",
    "shop/orders.py": "from shop import store\n\ndef place():\n    store.save()\n",
    "shop/store.py": "def save():\n    pass\n",
}


def test_a_src_layout_is_named_from_src_and_its_own_imports_resolve(tmp_path: Path) -> None:
    root = _tree(tmp_path, {f"src/{name}": text for name, text in _SHOP.items()} | {"pyproject.toml": ""})
    result = _analyse(root, "main", "save")
    assert result.sources == ["shop.cli.main"]
    assert result.paths == [["shop.cli.main", "shop.orders.place", "shop.store.save"]]
    assert result.graph.package_roots == ["src"]
    assert result.warnings == []


def test_a_folder_above_the_project_names_modules_from_the_package(tmp_path: Path) -> None:
    _tree(tmp_path / "checkouts" / "shop-repo", {f"src/{name}": text for name, text in _SHOP.items()})
    result = _analyse(tmp_path, "main", "save")
    assert result.paths == [["shop.cli.main", "shop.orders.place", "shop.store.save"]]
    assert result.graph.package_roots == ["checkouts/shop-repo/src"]


def test_packages_side_by_side_each_get_their_own_root(tmp_path: Path) -> None:
    _tree(tmp_path / "one" / "src", _SHOP)
    _tree(
        tmp_path / "two",
        {
            "billing/__init__.py": "",
            "billing/invoice.py": "from shop.cli import main\n\ndef issue():\n    main()\n",
        },
    )
    result = _analyse(tmp_path, "issue", "save")
    assert result.paths == [
        ["billing.invoice.issue", "shop.cli.main", "shop.orders.place", "shop.store.save"]
    ]
    assert result.graph.package_roots == ["one/src", "two"]


def test_a_src_folder_with_an_init_file_is_not_part_of_the_names_when_the_code_imports_below_it(
    tmp_path: Path,
) -> None:
    root = _tree(tmp_path, {f"src/{name}": text for name, text in _SHOP.items()} | {"src/__init__.py": ""})
    assert _analyse(root, "main", "save").paths == [["shop.cli.main", "shop.orders.place", "shop.store.save"]]


def test_python_dash_m_starts_at_the_package_main_and_its_main_block(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _SHOP
        | {
            "shop/__main__.py": "from .cli import main\n\nif __name__ == '__main__':\n    main()\n",
            "other.py": "def save():\n    pass\n",
        },
    )
    result = _analyse(root, "python -m shop", "shop.store.save")
    assert result.sources == ["shop.__main__"]
    assert result.paths == [["shop.__main__", "shop.cli.main", "shop.orders.place", "shop.store.save"]]
    assert _analyse(root, "shop.__main__", "shop.store.save").paths == result.paths


def test_a_console_script_names_the_function_it_runs(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {f"src/{name}": text for name, text in _SHOP.items()}
        | {
            "src/shop/__init__.py": "from .cli import main as run\n",
            "pyproject.toml": '[project]\nname = "shop"\n[project.scripts]\nshop-cli = "shop.cli:main"\n'
            'shop-run = "shop:run"\n',
        },
    )
    result = _analyse(root, "shop-cli", "save")
    assert result.sources == ["shop.cli.main"]
    assert result.paths == [["shop.cli.main", "shop.orders.place", "shop.store.save"]]
    assert result.graph.entry_points == {"shop-cli": "shop.cli.main", "shop-run": "shop.cli.main"}
    assert _analyse(root, "shop-run", "save").sources == ["shop.cli.main"]


def test_a_console_script_in_setup_cfg(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _SHOP | {"setup.cfg": "[options.entry_points]\nconsole_scripts =\n    shop-cli = shop.cli:main\n"},
    )
    assert _analyse(root, "shop-cli", "save").sources == ["shop.cli.main"]


_FACTORIES = {
    "app/__init__.py": "",
    "app/jobs.py": (
        "class Job:\n    def run(self):\n        pass\n\n"
        "class Batch:\n    def run(self):\n        pass\n\n"
        "def make() -> Job:\n    return build()\n\n"
        "def maybe() -> 'Job | None':\n    return None\n\n"
        "def build():\n    return Job()\n"
    ),
}


def test_a_return_annotation_gives_the_class_of_a_call(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _FACTORIES
        | {
            "app/main.py": (
                "from app.jobs import make, maybe\n\n"
                "def chained():\n    make().run()\n\n"
                "def assigned():\n    job = make()\n    job.run()\n\n"
                "def optional():\n    job = maybe()\n    job.run()\n"
            )
        },
    )
    edges = _edges(_analyse(root))
    assert ("app.main.chained", "app.jobs.Job.run") in edges
    assert ("app.main.assigned", "app.jobs.Job.run") in edges
    assert ("app.main.optional", "app.jobs.Job.run") in edges


def test_an_unannotated_function_returning_a_class_gives_an_instance(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _FACTORIES
        | {
            "app/main.py": (
                "from app.jobs import build\n\n"
                "async def later():\n    return build()\n\n"
                "def direct():\n    job = build()\n    job.run()\n\n"
                "async def awaited():\n    job = await later()\n    job.run()\n"
            )
        },
    )
    edges = _edges(_analyse(root))
    assert ("app.main.direct", "app.jobs.Job.run") in edges
    assert ("app.main.awaited", "app.jobs.Job.run") in edges


def test_a_conditional_expression_gives_both_classes(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _FACTORIES
        | {
            "app/main.py": (
                "from app.jobs import Job, Batch\n\n"
                "def pick(many):\n    job = Batch() if many else Job()\n    job.run()\n\n"
                "def inline(many):\n    (Batch() if many else Job()).run()\n"
            )
        },
    )
    edges = _edges(_analyse(root))
    for caller in ("app.main.pick", "app.main.inline"):
        assert (caller, "app.jobs.Job.run") in edges
        assert (caller, "app.jobs.Batch.run") in edges


def test_recursive_factories_end(tmp_path: Path) -> None:
    root = _tree(
        tmp_path, {"m.py": "def a():\n    return b()\ndef b():\n    return a()\ndef c():\n    a().run()\n"}
    )
    result = _analyse(root)
    assert [u.expression for u in result.unresolved if u.caller == "m.c"] == ["a().run"]


def test_functions_passed_as_arguments_are_callback_edges(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "work.py": (
                "import functools, threading\nfrom concurrent.futures import ThreadPoolExecutor\n\n"
                "def step(x):\n    return x\n\ndef loop():\n    pass\n\ndef later():\n    pass\n\n"
                "def on_done(f):\n    pass\n\n"
                "class Handler:\n    def handle(self, x):\n        pass\n\n"
                "    def start(self):\n        register(self.handle)\n\n"
                "def register(fn):\n    pass\n\n"
                "def main(pool: ThreadPoolExecutor):\n"
                "    list(map(step, [1]))\n"
                "    pool.submit(later).add_done_callback(on_done)\n"
                "    functools.partial(step, 1)()\n"
                "    threading.Thread(target=loop).start()\n"
            )
        },
    )
    result = _analyse(root)
    callbacks = _edges(result, "callback")
    assert {
        ("work.main", "work.step"),
        ("work.main", "work.later"),
        ("work.main", "work.on_done"),
        ("work.main", "work.loop"),
        ("work.Handler.start", "work.Handler.handle"),
    } <= callbacks
    assert ("work.main", "work.step") not in _edges(result)  # passed, not called here
    assert _analyse(root, "main", "loop").paths == [["work.main", "work.loop"]]


def test_a_callback_that_cannot_be_resolved_is_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "work.py": (
                "import threading\n\n"
                "def main(handlers, name):\n"
                "    threading.Thread(target=handlers.get).start()\n"
                "    print(name)\n"
            )
        },
    )
    unresolved = {(u.caller, u.expression): u.reason for u in _analyse(root).unresolved}
    assert "callback passed to threading.Thread" in unresolved[("work.main", "handlers.get")]
    assert ("work.main", "name") not in unresolved  # an ordinary argument is not a callback


def test_an_import_alias_matches_sources_and_targets(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/fmt.py": "def emit(text):\n    pass\n",
            "pkg/cli.py": (
                "from .fmt import emit as write_out\n\ndef main():\n    write_out('x')\n\nstart = main\n"
            ),
        },
    )
    result = _analyse(root, "start", "write_out")
    assert result.sources == ["pkg.cli.main"]
    assert result.targets == ["pkg.fmt.emit"]
    assert result.paths == [["pkg.cli.main", "pkg.fmt.emit"]]
    assert result.graph.aliases == {"start": ["pkg.cli.main"], "write_out": ["pkg.fmt.emit"]}


def test_no_path_says_how_many_calls_were_not_resolved(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "m.py": (
                "def main(plugin):\n    plugin.run()\n    helper()\n\n"
                "def helper():\n    unknown_thing()\n\n"
                "def target():\n    pass\n\n"
                "def elsewhere(x):\n    x()\n"
            )
        },
    )
    result = _analyse(root, "main", "target")
    assert result.paths == []
    assert result.warnings == [
        "no call path from main to target; 3 calls could not be resolved, 2 of them in functions reachable "
        "from main (see unresolved)"
    ]


def test_own_package_imports_that_look_external_are_warned_with_the_roots_chosen(tmp_path: Path) -> None:
    # `email` shadows the standard library's name, so the imports cannot show that src/ is a root.
    root = _tree(
        tmp_path,
        {
            "src/__init__.py": "",
            "src/email/__init__.py": "",
            "src/email/send.py": "def deliver():\n    pass\n",
            "src/cli.py": "from email.send import deliver\n\ndef main():\n    deliver()\n",
        },
    )
    result = _analyse(root, "main", "deliver")
    assert result.paths == []
    assert any(
        w.startswith("calls into email were taken as external") and "package roots the folder analysed" in w
        for w in result.warnings
    )


def test_a_spent_time_budget_returns_a_partial_result_with_a_warning(tmp_path: Path) -> None:
    files = {f"m{i:02}.py": f"def f{i}():\n    pass\n" for i in range(20)}
    root = _tree(tmp_path, files | {"main.py": "from m00 import f0\n\ndef main():\n    f0()\n"})
    ticks = itertools.count()
    result = analyse_project(
        root, "main", "f0", [PythonAnalyzer()], budget_s=10, clock=lambda: float(next(ticks))
    )
    assert result.partial
    assert result.graph.partial
    assert any("time budget of 10s ran out while parsing" in w for w in result.warnings)
    assert 0 < len([f for f in result.graph.functions if f.kind == "module"]) < 21
    assert any("no function matches the source 'main'" in w for w in result.warnings)


def test_an_ample_budget_gives_the_whole_result(tmp_path: Path) -> None:
    root = _tree(tmp_path, _SHOP)
    result = analyse_project(root, "main", "save", [PythonAnalyzer()], budget_s=3600)
    assert not result.partial
    assert result.paths == [["shop.cli.main", "shop.orders.place", "shop.store.save"]]


def test_results_without_the_new_fields_still_load() -> None:
    edge = CallEdge.model_validate({"caller": "a", "callee": "b", "file": "a.py", "line": 1})
    assert edge.kind == "call"
    graph = CallGraph.model_validate({"language": "python", "root": "/x"})
    assert (graph.warnings, graph.partial, graph.aliases, graph.entry_points) == ([], False, {}, {})
    old = {
        "language": "python",
        "sources": [],
        "targets": [],
        "paths": [],
        "mermaid": "",
        "unresolved": [],
        "errors": [],
        "graph": graph.model_dump(),
    }
    assert AnalyzeResult.model_validate(old).warnings == []


def test_callback_edges_are_dotted_in_the_diagram(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"m.py": "def step(x):\n    pass\n\ndef main():\n    map(step, [])\n"})
    assert "n0 -.-> n1" in _analyse(root, "main", "step").mermaid


@pytest.mark.parametrize("layout", ["src", "flat"])
def test_relative_imports_only_still_name_the_package(tmp_path: Path, layout: str) -> None:
    prefix = "src/" if layout == "src" else "repo/"
    root = _tree(
        tmp_path,
        {
            f"{prefix}lib/__init__.py": "from .core import run\n",
            f"{prefix}lib/core.py": "from .util import helper\n\ndef run():\n    helper()\n",
            f"{prefix}lib/util.py": "def helper():\n    pass\n",
        },
    )
    assert _analyse(root, "run", "helper").paths == [["lib.core.run", "lib.util.helper"]]


def test_setting_an_attribute_of_a_local_keeps_what_the_local_holds(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        _FACTORIES
        | {
            "app/main.py": (
                "from app.jobs import make\n\n"
                "def main(flag):\n    job = make()\n    job.flag = flag\n    job.items[0] = 1\n    job.run()\n"
            )
        },
    )
    assert ("app.main.main", "app.jobs.Job.run") in _edges(_analyse(root))


async def test_the_tool_returns_a_partial_result_when_its_budget_is_spent(tmp_path: Path) -> None:
    _tree(tmp_path / "proj", _SHOP)
    settings = ToolSettings(analysis_timeout_s=60, analysis_budget_share=1e-9)
    out: Any = await run_tool(
        Registry([CodeAnalyzer(settings)]), "code_analyzer", {"path": "proj"}, ToolContext(workspace=tmp_path)
    )
    assert out["partial"] is True
    assert any("time budget" in w for w in out["warnings"])
