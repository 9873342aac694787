"""The JavaScript and TypeScript analyser: a static call graph from tree-sitter's syntax trees, running nothing.

Two passes, as for Python. `collect` walks each module and records, per scope (module, function), what every
name is bound to: declarations (functions, classes, functions and classes assigned to names, object literals
and their methods), ES module imports and exports (named, aliased, namespace, default, re-exports), CommonJS
(`require`, `module.exports`, `exports.x`), instances (`new C()`, TypeScript's typed parameters and fields,
`this.x = ...`), plus the calls each unit makes. `resolve` follows every call through those bindings, across
modules by their relative specifiers and through `extends`, `this` and `super`. A function passed as an argument
counts as called. Calls inside a function that has no name (a callback written in place) count as calls of the
enclosing unit. A name bound twice to different things in one scope becomes unknown, so a call through it is
reported unresolved instead of guessed.

Names: the module part is the file's path under the root without its extension, with `/`
(`src/utils/math`); what it defines follows with dots (`src/utils/math.add`, `lib/command.Command.parse`,
`index.default` for an anonymous default export). Each package.json's `main`, `module`, `exports` and `bin`
become units of their own (`package.json.main`, `package.json.bin.mycli`) that call the entry module and every
function it exports: the places a package's users start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toolbox.code_analyzer.javascript.collect import collect
from toolbox.code_analyzer.javascript.modules import ModuleTable, package_entries
from toolbox.code_analyzer.javascript.resolve import LANGUAGE, build_graph
from toolbox.code_analyzer.javascript.syntax import EXTENSIONS
from toolbox.code_analyzer.model import CallGraph

__all__ = ["JavaScriptAnalyzer"]


class JavaScriptAnalyzer:
    language = LANGUAGE
    extensions = EXTENSIONS

    def analyse(self, root: Path, files: Sequence[Path]) -> CallGraph:
        base = root if root.is_dir() else root.parent
        # Declaration files (`.d.ts`) hold types only: no calls to follow.
        rels = [
            f.relative_to(base).as_posix()
            for f in files
            if not f.name.endswith((".d.ts", ".d.mts", ".d.cts"))
        ]
        table = ModuleTable(rels)
        project = collect(base, files, table)
        return build_graph(project, table, package_entries(base, table))
