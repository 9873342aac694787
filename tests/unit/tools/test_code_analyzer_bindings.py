"""code_analyzer's Python bindings met in real projects: cycles, `with ... as`, rebinding, callbacks received."""

from __future__ import annotations

from pathlib import Path

from toolbox.code_analyzer import PythonAnalyzer, analyse_project
from toolbox.code_analyzer.model import AnalyzeResult


def _analyse(
    root: Path, files: dict[str, str], source: str | None = None, target: str | None = None
) -> AnalyzeResult:
    for name, text in files.items():
        (root / name).write_text(text)
    return analyse_project(root, source, target, [PythonAnalyzer()])


def _edges(result: AnalyzeResult, kind: str = "call") -> set[tuple[str, str]]:
    return {(e.caller, e.callee) for e in result.graph.edges if e.kind == kind}


def test_an_attribute_defined_through_a_call_on_itself_ends_unresolved(tmp_path: Path) -> None:
    # Django's shape: `self.x = self.x.make()` resolved x through x, through a call, forever.
    result = _analyse(
        tmp_path,
        {
            "m.py": (
                "class Node:\n"
                "    def __init__(self):\n        self.parent = self.parent.make()\n"
                "    def run(self):\n        self.parent.go()\n"
            )
        },
    )
    assert [u.expression for u in result.unresolved if u.caller == "m.Node.run"] == ["self.parent.go"]


def test_a_local_rebound_through_a_call_on_itself_ends(tmp_path: Path) -> None:
    result = _analyse(
        tmp_path,
        {
            "m.py": (
                "class A:\n    def child(self):\n        pass\n    def go(self):\n        pass\n\n"
                "def main():\n    a = A()\n    a = a.child()\n    a.go()\n"
            )
        },
    )
    assert ("m.main", "m.A.go") in _edges(result)  # what `a = A()` gives still counts


def test_class_bases_that_refer_back_to_the_class_end(tmp_path: Path) -> None:
    # pip's shape: resolving a base meets the class whose bases are being resolved.
    result = _analyse(
        tmp_path,
        {
            "m.py": (
                "class Thing(Base):\n    def run(self):\n        self.missing()\n\n"
                "Base = Thing.kind()\n\n"
                "def main():\n    Thing().run()\n"
            )
        },
    )
    assert ("m.main", "m.Thing.run") in _edges(result)
    assert any(u.caller == "m.Thing.run" for u in result.unresolved)


_SESSIONS = (
    "class Session:\n"
    "    def __enter__(self):\n        return self\n"
    "    def __exit__(self, *args):\n        pass\n"
    "    def request(self):\n        pass\n\n"
    "class Pool:\n"
    "    async def __aenter__(self):\n        return self\n"
    "    async def __aexit__(self, *args):\n        pass\n"
    "    async def fetch(self):\n        pass\n\n"
    "class Transaction:\n"
    "    def commit(self):\n        pass\n\n"
    "class Database:\n"
    "    def __enter__(self) -> Transaction:\n        return Transaction()\n"
    "    def __exit__(self, *args):\n        pass\n\n"
    "class Tracing(Session):\n"
    "    def request(self):\n        pass\n"
)


def test_with_as_binds_what_entering_gives(tmp_path: Path) -> None:
    # requests' `with sessions.Session() as session: return session.request(...)`.
    result = _analyse(
        tmp_path,
        {
            "net.py": _SESSIONS,
            "api.py": (
                "import net\n\n"
                "def get():\n    with net.Session() as session:\n        session.request()\n\n"
                "async def pull():\n    async with net.Pool() as pool:\n        await pool.fetch()\n\n"
                "def save():\n    with net.Database() as tx:\n        tx.commit()\n\n"
                "def traced():\n    with net.Tracing() as session:\n        session.request()\n"
            ),
        },
    )
    assert {
        ("api.get", "net.Session.request"),
        ("api.pull", "net.Pool.fetch"),
        ("api.save", "net.Transaction.commit"),
        ("api.traced", "net.Tracing.request"),
    } <= _edges(result)
    assert ("api.traced", "net.Session.request") not in _edges(result)  # `return self` keeps the subclass
    assert [u.expression for u in result.unresolved if u.caller.startswith("api.")] == []


def test_a_name_assigned_twice_is_either(tmp_path: Path) -> None:
    result = _analyse(
        tmp_path,
        {
            "m.py": (
                "class A:\n    def run(self):\n        pass\n\nclass B:\n    def run(self):\n        pass\n\n"
                "def main(flag):\n    x = A()\n    if flag:\n        x = B()\n    x.run()\n\n"
                "class Holder:\n"
                "    def __init__(self):\n        self.job = A()\n"
                "    def reset(self):\n        self.job = B()\n"
                "    def go(self):\n        self.job.run()\n"
            )
        },
    )
    edges = _edges(result)
    for caller in ("m.main", "m.Holder.go"):
        assert {(caller, "m.A.run"), (caller, "m.B.run")} <= edges
    assert [u.expression for u in result.unresolved] == []


def test_a_function_passed_to_a_parameter_the_callee_calls_is_called_by_the_callee(tmp_path: Path) -> None:
    # httpie's `raw_main(parser=parser, main_program=program)`, where raw_main calls `main_program(...)`.
    result = _analyse(
        tmp_path,
        {
            "core.py": (
                "def program(args):\n    pass\n\n"
                "def other(args):\n    pass\n\n"
                "def audit(args):\n    pass\n\n"
                "def raw_main(args, main_program, log=None):\n    return main_program(args)\n\n"
                "def main(args):\n    return raw_main(args, main_program=program)\n\n"
                "def positional(args):\n    return raw_main(args, other)\n\n"
                "def logged(args):\n    return raw_main(args, program, log=audit)\n\n"
                "class Runner:\n"
                "    def start(self, step):\n        step(1)\n"
                "    def go(self):\n        self.start(other)\n"
            )
        },
        "main",
        "program",
    )
    callbacks = _edges(result, "callback")
    assert {
        ("core.main", "core.program"),  # the passer keeps its edge
        ("core.raw_main", "core.program"),
        ("core.raw_main", "core.other"),
        ("core.Runner.start", "core.other"),
    } <= callbacks
    assert ["core.main", "core.raw_main", "core.program"] in result.paths
    assert ("core.raw_main", "core.audit") not in callbacks  # `log` is passed, never called


def test_a_method_called_on_self_also_reaches_the_overrides_in_subclasses(tmp_path: Path) -> None:
    # click's `BaseCommand.main` calls `self.invoke(ctx)`; Command and MultiCommand override invoke.
    result = _analyse(
        tmp_path,
        {
            "core.py": (
                "class BaseCommand:\n"
                "    def main(self):\n        return self.invoke()\n"
                "    def invoke(self):\n        pass\n\n"
                "class Command(BaseCommand):\n    def invoke(self):\n        pass\n\n"
                "class MultiCommand(Command):\n    def invoke(self):\n        pass\n\n"
                "class Plain(BaseCommand):\n    def other(self):\n        pass\n\n"
                "def run(cmd: BaseCommand):\n    cmd.invoke()\n"
            )
        },
        "BaseCommand.main",
        "MultiCommand.invoke",
    )
    assert ("core.BaseCommand.main", "core.BaseCommand.invoke") in _edges(result)
    assert _edges(result, "override") == {
        ("core.BaseCommand.main", "core.Command.invoke"),
        ("core.BaseCommand.main", "core.MultiCommand.invoke"),
    }
    assert result.paths == [["core.BaseCommand.main", "core.MultiCommand.invoke"]]


def test_literal_locals_are_builtins_and_an_unresolved_call_is_listed_once(tmp_path: Path) -> None:
    # click's `rv = []` then `rv.append(...)`, and `_compat`'s `stream = stream._stream` over a parameter.
    result = _analyse(
        tmp_path,
        {
            "m.py": (
                "def collect(words):\n    rv = []\n    seen = {}\n    rv.append(1)\n    seen.get(1)\n\n"
                "def unwrap(stream):\n    while stream:\n        stream = stream._stream\n"
                "    return stream.name.startswith('x')\n"
            )
        },
    )
    external = {(c.caller, c.callee) for c in result.graph.external}
    assert {("m.collect", "builtins.list.append"), ("m.collect", "builtins.dict.get")} <= external
    assert [u.expression for u in result.unresolved] == ["stream.name.startswith"]
