"""Pass 1: walk every module once and record scopes, bindings, units, classes and the calls each unit makes."""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolbox.code_analyzer.base import Deadline
from toolbox.code_analyzer.facts_cache import FactsCache, content_hash
from toolbox.code_analyzer.model import FileError, FunctionKind
from toolbox.code_analyzer.python.bindings import (
    LITERAL_TYPES,
    PROPERTY_DECORATORS,
    Alias,
    Annotated,
    Binding,
    ClassInfo,
    Entered,
    FileFacts,
    InstanceOf,
    Project,
    Ref,
    Scope,
    SelfOf,
    Unit,
    Unknown,
    decorator_name,
    joined,
    parse_annotation,
    source_text,
)
from toolbox.code_analyzer.python.entry_points import read_entry_points
from toolbox.code_analyzer.python.roots import imported_heads, module_names
from toolbox.code_analyzer.source_files import read_source

__all__ = ["RESOLVE_SHARE", "analyser_version", "collect", "module_name"]

# Parts of the time budget by which parsing, recording and resolving must be done; path search gets the rest.
# Recording a file takes about 0.8 and resolving it 0.3 of the time parsing it took (docs/decisions/0013).
_PARSE_SHARE = 0.45
_RECORD_SHARE = 0.8
RESOLVE_SHARE = 0.95


def module_name(path: Path, root: Path) -> str:
    """`pkg/sub/mod.py` -> `pkg.sub.mod`; `pkg/__init__.py` -> `pkg`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_base(root: Path) -> Path:
    """A directory that is itself a package is named from the directory above its top package."""
    base = root
    while (base / "__init__.py").is_file() and base.parent != base:
        base = base.parent
    return base


@functools.cache
def analyser_version() -> str:
    """Names the code that turns bytes into facts, and the Python whose `ast` it reads: any change to either
    is a new version, so cached facts of another version are never used."""
    folder = Path(__file__).parent
    digest = content_hash(sys.version.encode())
    for name in ("bindings.py", "collect.py", "roots.py"):
        digest = content_hash(digest.encode() + (folder / name).read_bytes())
    return digest


@dataclass
class _Parsed:
    """A file read and checked: its bytes' hash, the heads of its imports, its tree unless that came cached."""

    file: Path
    data: bytes
    digest: str
    heads: frozenset[str]
    tree: ast.Module | None


def collect(
    root: Path, files: Sequence[Path], deadline: Deadline | None = None, cache: FactsCache | None = None
) -> Project:
    """Parse every file, name the modules from the package roots their imports reveal, then record them; when
    `deadline` expires the project holds the files done so far and is marked partial. With `cache`, what a
    file gives is taken from there when its bytes were seen before, and stored there when not."""
    deadline = deadline or Deadline.never()
    collector = _Collector(root, files, cache)
    parsed: list[_Parsed] = []
    for file in sorted(files):
        if deadline.expired(_PARSE_SHARE):
            collector.stop(f"parsing, after {len(parsed)} of {len(files)} files", deadline)
            break
        one = collector.parse(file)
        if one is not None:
            parsed.append(one)
    collector.name_modules(parsed)
    for done, one in enumerate(parsed):
        if deadline.expired(_RECORD_SHARE):
            collector.stop(f"recording, after {done} of {len(parsed)} parsed files", deadline)
            break
        collector.load(one)
    if cache is not None:
        cache.trim()
    return collector.project


def _walk(node: ast.AST) -> list[ast.AST]:
    """The nodes of `node`'s tree in `ast.walk`'s order (breadth first), without the Load/Store markers; about
    three times faster than `ast.walk`, which recording calls spends much of its time in."""
    found = [node]
    for current in found:  # the loop reaches the nodes appended while it runs
        for name in current._fields:
            value = getattr(current, name, None)
            if isinstance(value, list):
                found += [item for item in value if isinstance(item, ast.AST)]
            elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
                found.append(value)
    return found


def _heads_of(tree: ast.Module) -> frozenset[str]:
    return frozenset(imported_heads(tree))


class _Collector:
    def __init__(self, root: Path, files: Sequence[Path], cache: FactsCache | None) -> None:
        self.start = root if root.is_dir() else root.parent
        self.base = _package_base(self.start)
        # The packages the folder analysed is inside of.
        self.around = {
            d for d in [self.start, *self.start.parents] if d.is_relative_to(self.base) and d != self.base
        }
        self.project = Project(root=root, files=len(files))
        self.cache = cache
        self.names: dict[Path, str] = {}

    def _rel(self, file: Path) -> str:
        try:
            return str(file.relative_to(self.base))
        except ValueError:
            return str(file)

    def stop(self, where: str, deadline: Deadline) -> None:
        self.project.partial = True
        self.project.warnings.append(
            f"the time budget of {deadline.budget_s:g}s ran out while {where}; the graph is partial"
        )

    def _error(self, rel: str, line: int | None, message: str) -> None:
        self.project.errors.append(FileError(file=rel, line=line, message=message))

    def parse(self, file: Path) -> _Parsed | None:
        rel = self._rel(file)
        try:
            data = read_source(file)
        except (OSError, ValueError) as e:
            self._error(rel, None, f"cannot read: {e}")
            return None
        digest = content_hash(data)
        key = self.cache.key(analyser_version(), "heads", digest) if self.cache else ""
        # (heads, None) for a module, (None, (line, message)) for a syntax error.
        known = self.cache.get(key) if self.cache else None
        if known is not None:
            heads, error = known
            if error is not None:
                self._error(rel, *error)
                return None
            return _Parsed(file, data, digest, heads, None)
        try:
            tree = _parse(data, rel)
        except SyntaxError as e:
            if self.cache:
                self.cache.put(key, (None, (e.lineno, f"syntax error: {e.msg}")))
            self._error(rel, e.lineno, f"syntax error: {e.msg}")
            return None
        except ValueError as e:  # a null byte in the source
            self._error(rel, None, f"cannot read: {e}")
            return None
        heads = _heads_of(tree)
        if self.cache:
            self.cache.put(key, (heads, None))
        return _Parsed(file, data, digest, heads, tree)

    def name_modules(self, parsed: Sequence[_Parsed]) -> None:
        heads: set[str] = set()
        for one in parsed:
            heads |= one.heads
        inside = [one.file for one in parsed if one.file.is_relative_to(self.base)]
        above = [d.relative_to(self.base) for d in self.around]
        names, roots = module_names([f.relative_to(self.base) for f in inside], heads, above)
        self.names = {self.base / rel: name for rel, name in names.items()}
        self.project.package_roots = [str(r) for r in roots]
        # Scripts are declared beside the packages: in a root, or the folder above a `src/` root.
        folders = {self.base / r for r in roots} | {(self.base / r).parent for r in roots if r.parts}
        scripts, problems = read_entry_points(sorted(f for f in folders if f.is_relative_to(self.base)))
        self.project.entry_points = scripts
        self.project.warnings += problems

    def load(self, one: _Parsed) -> None:
        rel = self._rel(one.file)
        name = self.names.get(one.file, one.file.stem)
        if not name:
            return
        key = self.cache.key(analyser_version(), "facts", one.digest, name, rel) if self.cache else ""
        facts = self.cache.get(key) if self.cache else None
        if not isinstance(facts, FileFacts):
            tree = one.tree if one.tree is not None else _parse(one.data, rel)
            facts = _Recorder().record(tree, name, rel, one.file.name == "__init__.py")
            if self.cache:
                self.cache.put(key, facts)
        self.project.add(facts)


def _parse(data: bytes, rel: str) -> ast.Module:
    return ast.parse(data.decode("utf-8", errors="replace"), filename=rel)


class _Recorder:
    """Records one module into facts of its own, which refer to nothing outside the module."""

    def __init__(self) -> None:
        self.facts = FileFacts()
        # Short names for the tables this pass fills.
        self.modules = self.facts.modules
        self.packages = self.facts.packages
        self.units = self.facts.units
        self.classes = self.facts.classes
        self.properties = self.facts.properties
        self.aliases = self.facts.aliases

    def record(self, tree: ast.Module, name: str, rel: str, package: bool) -> FileFacts:
        if package:
            self.packages.add(name)
        scope = Scope(module=name, parent=None)
        self.modules[name] = scope
        unit = Unit(name=name, kind="module", file=rel, line=1, scope=scope)
        self.units[name] = unit
        self._body(tree.body, scope, name, unit, None)
        return self.facts

    def _body(
        self, stmts: Sequence[ast.stmt], scope: Scope, prefix: str, unit: Unit, cls: str | None
    ) -> None:
        for stmt in stmts:
            self._stmt(stmt, scope, prefix, unit, cls)

    def _stmt(self, node: ast.stmt, scope: Scope, prefix: str, unit: Unit, cls: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self._function(node, scope, prefix, unit, cls)
        elif isinstance(node, ast.ClassDef):
            self._class(node, scope, prefix, unit)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    scope.bind(alias.asname, Ref(alias.name))
                else:
                    head = alias.name.split(".")[0]
                    scope.bind(head, Ref(head))
        elif isinstance(node, ast.ImportFrom):
            self._import_from(node, scope)
        elif isinstance(node, ast.AnnAssign) and node.value is None and isinstance(node.target, ast.Name):
            # A declaration without a value (`repo: Repository`): the annotation says what it will hold.
            name = node.target.id
            scope.bind(name, Annotated(parse_annotation(node.annotation), scope, name))
        elif isinstance(node, ast.Return) and node.value is not None:
            unit.returned.append(node.value)
            self._children(node, scope, prefix, unit, cls)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self._assign(target, node.value, scope, unit, cls)
            self._children(node, scope, prefix, unit, cls)
        else:
            self._children(node, scope, prefix, unit, cls)

    def _children(self, node: ast.AST, scope: Scope, prefix: str, unit: Unit, cls: str | None) -> None:
        """Calls in a statement's expressions; its nested statements in the same scope; names it binds."""
        if isinstance(node, ast.For | ast.AsyncFor):
            self._shadow(node.target, scope)
        if isinstance(node, ast.AugAssign):
            self._shadow(node.target, scope)
        if isinstance(node, ast.ExceptHandler) and node.name:
            scope.bind(node.name, Unknown(f"'{node.name}' is an exception"))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self._stmt(child, scope, prefix, unit, cls)
            elif isinstance(child, ast.ExceptHandler | ast.match_case):
                self._children(child, scope, prefix, unit, cls)
            elif isinstance(child, ast.withitem):
                self._with(child, scope, isinstance(node, ast.AsyncWith))
                self._expr_calls(child.context_expr, scope, unit)
            elif isinstance(child, ast.expr):
                self._expr_calls(child, scope, unit)

    def _expr_calls(self, expr: ast.expr, scope: Scope, unit: Unit) -> None:
        for sub in _walk(expr):
            if isinstance(sub, ast.Call):
                unit.calls.append((sub, scope))
            elif isinstance(sub, ast.NamedExpr):
                self._shadow(sub.target, scope)
            elif isinstance(sub, ast.comprehension):
                # Comprehension and lambda variables get their own scope in Python; folding them into the
                # enclosing one only makes same-named outer bindings unknown, never wrong.
                self._shadow(sub.target, scope)
            elif isinstance(sub, ast.Lambda):
                for arg in [*sub.args.posonlyargs, *sub.args.args, *sub.args.kwonlyargs]:
                    scope.bind(arg.arg, Unknown(f"'{arg.arg}' is a lambda parameter"))

    def _with(self, item: ast.withitem, scope: Scope, asynchronous: bool) -> None:
        """`with Session() as session`: session is what Session's `__enter__` gives (`__aenter__` for async)."""
        target = item.optional_vars
        if isinstance(target, ast.Name):
            method = "__aenter__" if asynchronous else "__enter__"
            scope.bind(target.id, Entered(item.context_expr, scope, target.id, method))
        elif target is not None:
            self._shadow(target, scope)

    def _shadow(self, target: ast.expr, scope: Scope) -> None:
        """The names an assignment target rebinds; `x.attr = ...` and `x[i] = ...` rebind no name."""
        if isinstance(target, ast.Name):
            scope.bind(target.id, Unknown(f"'{target.id}' is assigned at run time"))
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._shadow(element, scope)
        elif isinstance(target, ast.Starred):
            self._shadow(target.value, scope)

    def _assign(
        self, target: ast.expr, value: ast.expr | None, scope: Scope, unit: Unit, cls: str | None
    ) -> None:
        binding: Binding
        if isinstance(value, ast.Await):
            value = value.value  # `x = await make()`: what make's annotation or returns say
        if isinstance(value, ast.Call):
            label = target.id if isinstance(target, ast.Name) else source_text(target)  # unparse is slow
            binding = InstanceOf(value.func, scope, label)
        elif value is not None and (
            isinstance(value, ast.Name | ast.Attribute | ast.IfExp | ast.Constant)
            or type(value) in LITERAL_TYPES
        ):
            binding = Alias(value, scope)
            if isinstance(target, ast.Name) and (scope.parent is None or scope.is_class):
                self.aliases.append((target.id, binding, unit))
        else:
            what = type(value).__name__ if value is not None else "nothing"
            binding = Unknown(f"'{source_text(target)}' holds a value ({what}) the analyser does not follow")
        if isinstance(target, ast.Name):
            scope.bind(target.id, binding)
            if scope.is_class and cls is not None:
                self._set_attribute(cls, target.id, binding)  # a class attribute, also seen through instances
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and unit.cls is not None
            and isinstance(scope.bindings.get(target.value.id), SelfOf)
        ):
            self._set_attribute(unit.cls, target.attr, binding)
        else:
            self._shadow(target, scope)

    def _set_attribute(self, cls: str, name: str, binding: Binding) -> None:
        attrs = self.classes[cls].attributes
        attrs[name] = joined(attrs.get(name), binding)

    def _import_from(self, node: ast.ImportFrom, scope: Scope) -> None:
        base = self._absolute(node, scope.module)
        for alias in node.names:
            if base is None:
                scope.bind(
                    alias.asname or alias.name, Unknown("relative import beyond the top-level package")
                )
            elif alias.name == "*":
                scope.stars.append(base)
            else:
                ref = Ref(f"{base}.{alias.name}" if base else alias.name)
                scope.bind(alias.asname or alias.name, ref)
                if alias.asname and alias.asname != alias.name:
                    self.aliases.append((alias.asname, ref, self.units[scope.module]))

    def _absolute(self, node: ast.ImportFrom, module: str) -> str | None:
        if node.level == 0:
            return node.module or ""
        package = module.split(".") if module in self.packages else module.split(".")[:-1]
        if node.level - 1 > len(package):
            return None
        kept = package[: len(package) - (node.level - 1)]
        return ".".join([*kept, *([node.module] if node.module else [])])

    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        scope: Scope,
        prefix: str,
        unit: Unit,
        cls: str | None,
    ) -> None:
        name = f"{prefix}.{node.name}"
        scope.bind(node.name, Ref(name))
        if cls is not None:
            self.classes[cls].members.add(node.name)
        # Decorators and defaults run where the function is defined.
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self._expr_calls(expr, scope, unit)
        parent = scope
        while parent.is_class and parent.parent is not None:
            parent = parent.parent  # class bodies are not enclosing scopes for their methods
        own = Scope(module=scope.module, parent=parent)
        params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        params += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
        decorators = {decorator_name(d) for d in node.decorator_list}
        if decorators & PROPERTY_DECORATORS:
            self.properties.add(name)
        for i, param in enumerate(params):
            if i == 0 and cls is not None and "staticmethod" not in decorators:
                own.bind(param.arg, SelfOf(cls, instance="classmethod" not in decorators))
            elif param.annotation is not None:
                own.bind(param.arg, Annotated(parse_annotation(param.annotation), scope, param.arg))
            else:
                own.bind(param.arg, Unknown(f"'{param.arg}' is a parameter without a type annotation"))
        kind: FunctionKind = "method" if cls is not None else "function"
        rel = self.units[scope.module].file
        fn = Unit(name=name, kind=kind, file=rel, line=node.lineno, scope=own, cls=cls)
        fn.params = [p.arg for p in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
        if node.returns is not None:
            fn.returns = Annotated(parse_annotation(node.returns), scope, f"{node.name}()")
        self.units[name] = fn
        self._body(node.body, own, name, fn, None)

    def _class(self, node: ast.ClassDef, scope: Scope, prefix: str, unit: Unit) -> None:
        name = f"{prefix}.{node.name}"
        scope.bind(node.name, Ref(name))
        for expr in [*node.decorator_list, *node.bases]:
            self._expr_calls(expr, scope, unit)
        self.classes[name] = ClassInfo(name=name, bases=list(node.bases), scope=scope)
        rel = self.units[scope.module].file
        self.units[name] = Unit(name=name, kind="class", file=rel, line=node.lineno, scope=scope)
        body = Scope(module=scope.module, parent=scope, is_class=True)
        self._body(node.body, body, name, unit, name)
