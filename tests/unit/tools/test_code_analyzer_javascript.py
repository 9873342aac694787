"""The JavaScript/TypeScript analyser, one construct per test, on small trees written into tmp_path."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from toolbox import Registry, ToolContext, run_tool
from toolbox.code_analyzer import CodeAnalyzer, JavaScriptAnalyzer, PythonAnalyzer, analyse_project
from toolbox.code_analyzer.model import AnalyzeResult


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def _analyse(root: Path, source: str | None = None, target: str | None = None) -> AnalyzeResult:
    return analyse_project(root, source, target, [PythonAnalyzer(), JavaScriptAnalyzer()])


def _edges(result: AnalyzeResult) -> set[tuple[str, str]]:
    return {(e.caller, e.callee) for e in result.graph.edges}


def _unresolved(result: AnalyzeResult) -> dict[str, str]:
    return {u.expression: u.reason for u in result.graph.unresolved}


def test_declarations_become_units_named_by_path_and_scope(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "src/app.js": """
function main() { const helper = () => work(); helper(); }
const work = function () { return inner(); };
function inner() {}
export function exported() { main(); }
let later;
later = () => inner();
""",
        },
    )
    result = _analyse(tmp_path)
    kinds = {f.name: f.kind for f in result.graph.functions}
    assert kinds == {
        "src/app": "module",
        "src/app.main": "function",
        "src/app.main.helper": "function",
        "src/app.work": "function",
        "src/app.inner": "function",
        "src/app.exported": "function",
        "src/app.later": "function",
    }
    assert {
        ("src/app.main", "src/app.main.helper"),
        ("src/app.main.helper", "src/app.work"),
        ("src/app.work", "src/app.inner"),
        ("src/app.exported", "src/app.main"),
        ("src/app.later", "src/app.inner"),
    } == _edges(result)
    assert result.language == "javascript/typescript"


def test_classes_constructors_this_super_and_instances(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shapes.js": """
export class Shape {
  constructor() { this.init(); }
  init() {}
  area() { return 0; }
  describe() { return this.area(); }
}
export class Square extends Shape {
  constructor(side) { super(); this.side = side; this.logger = new Logger(); }
  area() { this.logger.log(); return super.area(); }
  static unit() { return new Square(1); }
}
class Logger { log() {} }
class Plain { run() {} }
function use() {
  const s = new Square(2);
  s.describe();
  new Plain().run();
  Square.unit();
}
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("shapes.Shape.constructor", "shapes.Shape.init"),
        ("shapes.Shape.describe", "shapes.Shape.area"),
        ("shapes.Square.constructor", "shapes.Shape.constructor"),  # super()
        ("shapes.Square.constructor", "shapes.Logger"),  # no constructor: the class itself
        ("shapes.Square.area", "shapes.Logger.log"),  # this.logger = new Logger()
        ("shapes.Square.area", "shapes.Shape.area"),  # super.area()
        ("shapes.Square.unit", "shapes.Square.constructor"),
        ("shapes.use", "shapes.Square.constructor"),  # new C() -> its constructor
        ("shapes.use", "shapes.Shape.describe"),  # inherited, through `const s = new Square()`
        ("shapes.use", "shapes.Plain"),
        ("shapes.use", "shapes.Plain.run"),  # new C().m()
        ("shapes.use", "shapes.Square.unit"),  # static method
    } <= edges


def test_object_literal_methods_and_this_inside_them(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "api.js": """
function save() {}
const api = {
  start() { this.stop(); },
  stop: function () { save(); },
  quick: () => save(),
  save,
  nested: { deep() { save(); } },
};
api.late = function () { api.start(); };
function main() { api.start(); api.quick(); api.save(); api.nested.deep(); api.late(); }
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("api.api.start", "api.api.stop"),
        ("api.api.stop", "api.save"),
        ("api.api.quick", "api.save"),
        ("api.api.nested.deep", "api.save"),
        ("api.api.late", "api.api.start"),
        ("api.main", "api.api.start"),
        ("api.main", "api.api.quick"),
        ("api.main", "api.save"),
        ("api.main", "api.api.nested.deep"),
        ("api.main", "api.api.late"),
    } <= edges


def test_es_module_imports_exports_defaults_and_re_exports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "lib/math.js": """
export function add() {}
function sub() {}
export { sub as minus };
export default function () { add(); }
""",
            "lib/named.js": "export default function named() {}\n",
            "lib/index.js": """
export * from './math.js';
export { default as math } from './math.js';
export * as ns from './math.js';
export { default } from './named.js';
""",
            "main.js": """
import mathDefault, { add as plus, minus } from './lib/math.js';
import * as m from './lib/math';
import lib, { add, math, ns } from './lib';
function main() { mathDefault(); plus(); minus(); m.add(); lib(); add(); math(); ns.minus(); }
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("main.main", "lib/math.default"),
        ("main.main", "lib/math.add"),
        ("main.main", "lib/math.sub"),  # `export { sub as minus }`
        ("main.main", "lib/named.named"),  # `export { default } from`
        ("lib/math.default", "lib/math.add"),
    } <= edges
    assert not _analyse(tmp_path).graph.unresolved


def test_commonjs_require_module_exports_and_exports_x(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "util.js": """
function go() { helper(); }
function helper() {}
module.exports = { go, other() { go(); } };
""",
            "single.js": "module.exports = function () {};\n",
            "parts.cjs": "exports.one = () => {};\nmodule.exports.two = function () {};\n",
            "esm.mjs": "import util from './util.js';\nimport { one } from './parts.cjs';\nexport function run() { util.go(); one(); }\n",
            "main.js": """
const util = require('./util');
const { go, other: alias } = require('./util.js');
const single = require('./single');
const parts = require('./parts.cjs');
function main() { util.go(); go(); alias(); single(); parts.one(); parts.two(); require('./util').other(); }
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("util.go", "util.helper"),
        ("util.other", "util.go"),
        ("main.main", "util.go"),
        ("main.main", "util.other"),
        ("main.main", "single.exports"),
        ("main.main", "parts.one"),
        ("main.main", "parts.two"),
        ("esm.run", "util.go"),  # the default import of CommonJS is module.exports
        ("esm.run", "parts.one"),
    } <= edges
    assert all("require" not in u.expression for u in _analyse(tmp_path).graph.unresolved)


@pytest.mark.parametrize(
    ("importer", "specifier", "file", "expected"),
    [
        ("a.js", "./b", "b.js", "b.f"),
        ("a.ts", "./b.js", "b.ts", "b.f"),  # TypeScript names the .js it compiles to
        ("a.ts", "./b.mjs", "b.mts", "b.f"),
        ("a.ts", "./b.cjs", "b.cts", "b.f"),
        ("a.tsx", "./b.jsx", "b.tsx", "b.f"),
        ("a.js", "./b", "b/index.ts", "b/index.f"),
        ("a.js", "./b/", "b/index.jsx", "b/index.f"),
        ("sub/a.mjs", "../b.mjs", "b.mjs", "b.f"),
        ("sub/a.cjs", "../b", "b.cjs", "b.f"),
    ],
)
def test_relative_specifiers_resolve_across_extensions_and_index_files(
    tmp_path: Path, importer: str, specifier: str, file: str, expected: str
) -> None:
    _write(
        tmp_path,
        {
            importer: f"import {{ f }} from '{specifier}';\nexport function main() {{ f(); }}\n",
            file: "export function f() {}\n",
        },
    )
    caller = importer.rsplit(".", 1)[0] + ".main"
    assert (caller, expected) in _edges(_analyse(tmp_path))


def test_a_file_beside_its_compiled_twin_keeps_its_extension_in_its_name(tmp_path: Path) -> None:
    _write(tmp_path, {"x.ts": "export function f() {}\n", "x.js": "exports.f = function () {};\n"})
    names = {f.name for f in _analyse(tmp_path).graph.functions}
    assert {"x.ts", "x.ts.f", "x.js", "x.js.f"} <= names


def test_typescript_types_parameter_properties_and_import_require(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "service.ts": """
export class Repo { save(): void {} }
export class Service {
  private backup: Repo;
  constructor(private readonly repo: Repo) {}
  store(): void { this.repo.save(); this.backup.save(); }
}
export = Service;
""",
            "main.ts": """
import Service = require('./service');
import type { Repo } from './types';
function handle(svc: Service, r: Repo): void { svc.store(); }
export default function main(): void { const s = new Service(null as any) as Service; s!.store(); }
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("service.Service.store", "service.Repo.save"),
        ("main.handle", "service.Service.store"),  # the parameter's declared type
        ("main.main", "service.Service.store"),  # through `as` and `!`
        ("main.main", "service.Service.constructor"),
    } <= edges


def test_functions_passed_as_arguments_are_called_by_the_caller(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "events.js": """
function onData() {}
function render(x) { return x; }
class View { handle() {} attach(el) { el.addEventListener('click', this.handle); } }
function main(items, emitter) {
  items.map(render);
  emitter.on('data', onData);
  setTimeout(() => onData(), 10);
  items.forEach(function (x) { render(x); });
}
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("events.main", "events.render"),
        ("events.main", "events.onData"),
        ("events.View.attach", "events.View.handle"),
    } <= edges


def test_unresolvable_calls_are_listed_with_a_reason_and_externals_are_not(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.js": """
import fs from 'node:fs';
import { join } from 'path';
const lodash = require('lodash');
function main(cb, obj) {
  cb();
  obj.run();
  undefinedThing();
  obj[name]();
  fs.readFileSync('x'); join('a'); lodash.map([]); console.log('x'); JSON.parse('1'); [1].map(String);
}
""",
        },
    )
    result = _analyse(tmp_path)
    reasons = _unresolved(result)
    assert set(reasons) == {"cb", "obj.run", "undefinedThing", "obj[name]"}
    assert "parameter" in reasons["cb"]
    assert "not defined" in reasons["undefinedThing"]
    assert "computed" in reasons["obj[name]"]
    external = {e.callee for e in result.graph.external}
    assert {
        "node:fs.readFileSync",
        "path.join",
        "lodash.map",
        "console.log",
        "JSON.parse",
        "Array.map",
    } <= external


def test_a_name_bound_to_two_values_is_unknown_not_guessed(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.js": """
function a() {} function b() {}
let f = null;
if (Math.random()) { f = a; } else { f = b; }
let g = null;
g = a;
function main() { f(); g(); }
""",
        },
    )
    result = _analyse(tmp_path)
    assert ("main.main", "main.a") in _edges(result)  # null first is "nothing yet", not a second value
    assert "different things" in _unresolved(result)["f"]


def test_package_json_main_and_bin_entries_are_sources(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "package.json": '{\n  "name": "demo",\n  "main": "lib/index.js",\n  "bin": {"demo": "./bin/cli.js"}\n}\n',
            "lib/index.js": "exports.api = function () { core(); };\nfunction core() {}\n",
            "bin/cli.js": "const { api } = require('../lib');\nrun();\nfunction run() { api(); }\n",
        },
    )
    result = _analyse(tmp_path, "package.json.bin.demo", "core")
    assert result.paths == [
        ["package.json.bin.demo", "bin/cli", "bin/cli.run", "lib/index.api", "lib/index.core"]
    ]
    entry = next(f for f in result.graph.functions if f.name == "package.json.main")
    assert (entry.file, entry.line) == ("package.json", 3)
    assert ("package.json.main", "lib/index.api") in _edges(result)


def test_package_json_entry_built_to_dist_points_at_the_typescript_source(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "package.json": '{"main": "dist/index.js", "exports": {".": {"import": "./dist/index.mjs"}}}',
            "src/index.ts": "export function start(): void {}\n",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {("package.json.main", "src/index.start"), ("package.json.exports", "src/index.start")} <= edges


def test_mermaid_output_draws_the_path(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.ts": "import { b } from './b';\nexport function main(): void { b(); }\n",
            "b.ts": "export const b = (): void => target();\nfunction target(): void {}\n",
        },
    )
    result = _analyse(tmp_path, "main", "target")
    assert result.paths == [["a.main", "b.b", "b.target"]]
    assert result.mermaid == (
        "flowchart TD\n"
        '    n0["a.main"]\n'
        '    n1["b.b"]\n'
        '    n2["b.target"]\n'
        "    n0 --> n1\n"
        "    n1 --> n2\n"
        "    classDef endpoint stroke-width:3px\n"
        "    class n0,n2 endpoint\n"
    )


def test_a_file_with_a_syntax_error_is_reported_and_the_rest_analysed(tmp_path: Path) -> None:
    _write(tmp_path, {"bad.js": "function ok() { done(); }\nfunction done() {}\nconst = ;\n"})
    result = _analyse(tmp_path)
    assert [(e.file, e.line) for e in result.errors] == [("bad.js", 3)]
    assert ("bad.ok", "bad.done") in _edges(result)


def test_the_language_with_more_files_is_analysed(tmp_path: Path) -> None:
    _write(tmp_path, {"a.py": "def f(): pass\n", "b.js": "function g() {}\n", "c.ts": "function h() {}\n"})
    assert _analyse(tmp_path).language == "javascript/typescript"
    _write(tmp_path, {"d.py": "def f(): pass\n", "e.py": "def f(): pass\n"})
    assert _analyse(tmp_path).language == "python"


def test_declaration_files_and_node_modules_are_skipped(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "index.ts": "export function f(): void {}\n",
            "index.d.ts": "export declare function f(): void;\n",
            "node_modules/dep/index.js": "module.exports = function () {};\n",
        },
    )
    result = _analyse(tmp_path)
    assert {f.file for f in result.graph.functions} == {"index.ts"}


def test_the_analyser_pickles_for_the_worker_process() -> None:
    analyzer = pickle.loads(pickle.dumps(JavaScriptAnalyzer()))
    assert analyzer.extensions == (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")


async def test_the_tool_analyses_a_typescript_project_in_its_worker(tmp_path: Path) -> None:
    _write(
        tmp_path / "proj",
        {
            "src/main.ts": "import { Runner } from './runner';\nexport function main(): void { new Runner().run(); }\n",
            "src/runner.ts": "export class Runner { run(): void { this.step(); } private step(): void {} }\n",
        },
    )
    out: Any = await run_tool(
        Registry([CodeAnalyzer()]),
        "code_analyzer",
        {"path": "proj", "source": "main", "target": "step"},
        ToolContext(workspace=tmp_path),
    )
    assert out["language"] == "javascript/typescript"
    assert out["paths"] == [["src/main.main", "src/runner.Runner.run", "src/runner.Runner.step"]]


def test_jsx_components_rendered_are_called(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "Button.jsx": "export function Button() { return <span>{format()}</span>; }\nfunction format() {}\n",
            "App.tsx": """
import { Button } from './Button';
import * as UI from './ui';
export default function App(): JSX.Element { return <div><Button /><UI.Card title="x" /></div>; }
""",
            "ui.tsx": "export const Card = (props: { title: string }) => <p>{props.title}</p>;\n",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {("App.App", "Button.Button"), ("App.App", "ui.Card"), ("Button.Button", "Button.format")} <= edges


def test_decorators_and_dynamic_imports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.ts": """
function register(): ClassDecorator { return () => {}; }
function field(): PropertyDecorator { return () => {}; }
@register()
class Widget { @field() name = ''; }
export async function load(): Promise<void> { await import('./main'); }
""",
        },
    )
    result = _analyse(tmp_path)
    assert {("main", "main.register"), ("main", "main.field")} <= _edges(result)
    assert result.graph.unresolved == []


def test_deep_nesting_is_analysed_or_reported_never_a_crash(tmp_path: Path) -> None:
    terms = " + ".join(f"part{i}()" for i in range(5_000))
    _write(
        tmp_path,
        {
            "long.js": f"function part0() {{}}\nconst all = () => {terms};\n",
            "deep.js": "const x = " + "[" * 5_000 + "f()" + "]" * 5_000 + ";\nfunction f() {}\n",
            "ok.js": "function a() { b(); }\nfunction b() {}\n",
        },
    )
    result = _analyse(tmp_path)
    assert ("long.all", "long.part0") in _edges(result)  # a 5,000-term sum is walked in a loop
    assert ("ok.a", "ok.b") in _edges(result)
    assert [(e.file, e.message) for e in result.errors] == [
        ("deep.js", "nested too deeply; analysed only in part")
    ]


def test_es5_prototype_classes(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "legacy.js": """
function Emitter() { this.init(); }
Emitter.prototype.init = function () {};
Emitter.prototype.emit = function () { this.init(); };
Emitter.create = function () { return new Emitter(); };
function main() { var e = new Emitter(); e.emit(); Emitter.create(); }
module.exports = Emitter;
""",
        },
    )
    edges = _edges(_analyse(tmp_path))
    assert {
        ("legacy.Emitter", "legacy.Emitter.init"),
        ("legacy.Emitter.emit", "legacy.Emitter.init"),
        ("legacy.Emitter.create", "legacy.Emitter"),
        ("legacy.main", "legacy.Emitter"),
        ("legacy.main", "legacy.Emitter.emit"),
        ("legacy.main", "legacy.Emitter.create"),
    } <= edges


def test_a_source_that_is_not_a_regular_file_or_too_big_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"ok.js": "function a() {}\n", "big.js": "// x\\n" * 400_000})
    os.mkfifo(tmp_path / "pipe.js")
    result = _analyse(tmp_path)
    assert sorted(e.file for e in result.errors) == ["big.js", "pipe.js"]
    assert all(e.message.startswith("cannot read") for e in result.errors)


def test_literal_values_have_their_builtin_type(tmp_path: Path) -> None:
    _write(
        tmp_path, {"main.js": "function main() { const out = []; out.push(1); const s = `x`; s.trim(); }\n"}
    )
    result = _analyse(tmp_path)
    assert {e.callee for e in result.graph.external} == {"Array.push", "String.trim"}
    assert result.graph.unresolved == []
