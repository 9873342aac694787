from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tools.conftest import SAMPLES
from toolbox import InvalidArguments, PathRefused, Registry, ToolContext, run_tool
from toolbox.code_analyzer import CodeAnalyzer, PythonAnalyzer, analyse_project
from toolbox.code_analyzer.model import AnalyzeResult

CALLCHAIN = SAMPLES / "callchain_app"
PACKAGED = SAMPLES / "packaged_app"


def _analyse(root: Path, source: str | None = None, target: str | None = None) -> AnalyzeResult:
    return analyse_project(root, source, target, [PythonAnalyzer()])


def _edges(result: AnalyzeResult) -> set[tuple[str, str]]:
    return {(e.caller, e.callee) for e in result.graph.edges}


def test_call_paths_from_main_to_process_data_in_the_demo_sample() -> None:
    result = _analyse(CALLCHAIN, "main()", "process_data()")
    assert result.sources == ["app.main.main"]
    assert result.targets == ["app.processing.process_data"]
    assert result.paths == [
        [
            "app.main.main",
            "app.pipeline.run_pipeline",
            "app.pipeline.run_in_batches",
            "app.processing.process_data",
        ],
        ["app.main.main", "app.pipeline.run_pipeline", "app.stages.transform", "app.processing.process_data"],
    ]
    assert result.errors == []


def test_mermaid_diagram_shows_the_paths() -> None:
    result = _analyse(CALLCHAIN, "main", "process_data")
    lines = result.mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    n0["app.main.main"]' in lines
    ids = {line.split("[")[0].strip(): line.split('"')[1] for line in lines if '["' in line}
    arrows = {(ids[a], ids[b]) for a, _, b in (line.split() for line in lines if "-->" in line)}
    assert ("app.main.main", "app.pipeline.run_pipeline") in arrows
    assert ("app.stages.transform", "app.processing.process_data") in arrows


def test_qualified_and_colon_names_select_one_function() -> None:
    assert _analyse(CALLCHAIN, "app.main.main", "app.processing:process_data").paths[0][0] == "app.main.main"


def test_absolute_and_from_imports_resolve_across_modules() -> None:
    edges = _edges(_analyse(CALLCHAIN))
    assert ("app.main.main", "app.config.load_config") in edges  # from-import
    assert (
        "app.pipeline.run_pipeline",
        "app.stages.read_records",
    ) in edges  # module imported with `from app import`
    assert ("app.main", "app.main.main") in edges  # the `if __name__ == "__main__"` block


def test_relative_imports_aliases_and_re_exports_in_packages() -> None:
    result = _analyse(PACKAGED)
    edges = _edges(result)
    assert (
        "shop.cli.main",
        "shop.orders.OrderService.checkout",
    ) in edges  # `from . import orders as order_mod`
    assert ("shop.cli.main", "shop.util.text.banner") in edges  # `import shop.util.text as text_utils`
    assert ("shop.models.order.Order.total", "shop.util.text.banner") in edges  # `from ..util.text import`
    assert ("shop.orders.OrderService.checkout", "shop.payments.charge") in edges  # `from .payments import`


def test_classes_methods_inheritance_and_super() -> None:
    edges = _edges(_analyse(PACKAGED))
    assert ("shop.cli.main", "shop.models.order.Order.__init__") in edges  # constructing a class
    assert (
        "shop.orders.OrderService.checkout",
        "shop.orders.OrderService.validate",
    ) in edges  # self.method()
    assert (
        "shop.orders.OrderService.checkout",
        "shop.orders.Repository.save",
    ) in edges  # self.repo = Repository()
    assert (
        "shop.orders.OrderService.checkout",
        "shop.models.order.Order.total",
    ) in edges  # annotated parameter
    assert (
        "shop.models.order.Order.__init__",
        "shop.models.base.Model.__init__",
    ) in edges  # super().__init__()
    assert ("shop.models.base.Model.__init__", "shop.models.base.Model.validate_fields") in edges


def test_nested_functions_are_units_of_their_own() -> None:
    result = _analyse(PACKAGED)
    assert ("shop.cli.parse_args", "shop.cli.parse_args.normalise") in _edges(result)
    kinds = {f.name: f.kind for f in result.graph.functions}
    assert kinds["shop.cli.parse_args.normalise"] == "function"
    assert kinds["shop.orders.OrderService.checkout"] == "method"
    assert kinds["shop.orders.OrderService"] == "class"


def test_paths_through_classes_in_packages() -> None:
    result = _analyse(PACKAGED, "main", "persist")
    assert result.paths == [
        [
            "shop.cli.main",
            "shop.orders.OrderService.checkout",
            "shop.orders.Repository.save",
            "shop.orders.persist",
        ]
    ]
    deep = _analyse(PACKAGED, "shop.cli.main", "validate_fields")
    assert deep.paths == [
        [
            "shop.cli.main",
            "shop.models.order.Order.__init__",
            "shop.models.base.Model.__init__",
            "shop.models.base.Model.validate_fields",
        ]
    ]


def test_recursion_and_cycles_terminate() -> None:
    result = _analyse(PACKAGED, "gateway_call", "pong")
    assert ("shop.payments.pong", "shop.payments.ping") in _edges(result)
    assert ("shop.models.order.count_items", "shop.models.order.count_items") in _edges(result)
    assert result.paths == [["shop.payments.gateway_call", "shop.payments.ping", "shop.payments.pong"]]
    assert _analyse(PACKAGED, "count_items", "persist").paths == []


def test_unresolvable_calls_are_reported_not_guessed() -> None:
    unresolved = {(u.caller, u.expression): u.reason for u in _analyse(PACKAGED).unresolved}
    assert unresolved[("shop.cli.main", "plugin_hook")] == "'plugin_hook' is not defined"
    assert "Subscript" in unresolved[("shop.cli.main", "handlers[args[0]]")]
    assert "parameter" in unresolved[("shop.util.retry.with_retry", "action")]
    assert all(callee != "plugin_hook" for _, callee in _edges(_analyse(PACKAGED)))


def test_a_file_with_a_syntax_error_is_reported_and_the_rest_analysed() -> None:
    result = _analyse(PACKAGED)
    assert [(e.file, e.line) for e in result.errors] == [("shop/broken.py", 2)]
    assert "syntax error" in result.errors[0].message
    assert any(f.name == "shop.orders.persist" for f in result.graph.functions)


def test_analysing_a_package_directory_keeps_package_qualified_names() -> None:
    result = _analyse(PACKAGED / "shop" / "models", "Order.__init__", "validate_fields")
    assert result.paths[0][0] == "shop.models.order.Order.__init__"


def test_builtins_and_libraries_are_external_not_unresolved() -> None:
    result = _analyse(PACKAGED)
    external = {c.callee for c in result.graph.external}
    assert "builtins.print" in external
    assert all(u.expression != "print" for u in result.unresolved)


def test_rebinding_a_name_differently_gives_each_thing_it_was_bound_to(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "def a(): pass\ndef b(): pass\nf = a\nif True:\n    f = b\ndef main():\n    f()\n"
    )
    result = _analyse(tmp_path, "main", "a")
    assert result.paths == [["m.main", "m.a"]]
    assert {(e.caller, e.callee) for e in result.graph.edges} >= {("m.main", "m.a"), ("m.main", "m.b")}
    assert result.unresolved == []


def test_alias_cycles_terminate(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = b\nb = a\ndef main():\n    a()\n")
    (tmp_path / "n.py").write_text("from o import x\n")
    (tmp_path / "o.py").write_text("from n import x\ndef main():\n    x()\n")
    result = _analyse(tmp_path)
    assert {u.expression for u in result.unresolved} == {"a", "x"}


def test_unknown_functions_are_refused_clearly() -> None:
    with pytest.raises(InvalidArguments, match="no function matches the target 'nowhere'"):
        _analyse(CALLCHAIN, "main", "nowhere")


def test_no_source_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArguments, match="no source files of a known language"):
        _analyse(tmp_path)


async def test_tool_reads_a_project_in_the_workspace(tmp_path: Path) -> None:
    shutil.copytree(CALLCHAIN, tmp_path / "proj")
    out: Any = await run_tool(
        Registry([CodeAnalyzer()]),
        "code_analyzer",
        {"path": "proj", "source": "main()", "target": "process_data()"},
        ToolContext(workspace=tmp_path),
    )
    assert out["paths"][0] == [
        "app.main.main",
        "app.pipeline.run_pipeline",
        "app.pipeline.run_in_batches",
        "app.processing.process_data",
    ]
    assert out["mermaid"].startswith("flowchart TD")
    assert out["errors"] == []


async def test_tool_reads_a_read_only_root_and_refuses_other_paths(tmp_path: Path) -> None:
    registry = Registry([CodeAnalyzer()])
    ctx = ToolContext(workspace=tmp_path, read_only_roots=(SAMPLES,))
    out: Any = await run_tool(
        registry, "code_analyzer", {"path": str(PACKAGED), "source": "main", "target": "persist"}, ctx
    )
    assert len(out["paths"]) == 1
    with pytest.raises(PathRefused, match="outside the workspace"):
        await run_tool(
            registry, "code_analyzer", {"path": "/usr/lib/python3"}, ToolContext(workspace=tmp_path)
        )
