"""Pass 1: walk every module once and record scopes, bindings, units, classes and the calls each unit makes."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from toolbox.code_analyzer.base import Deadline
from toolbox.code_analyzer.model import FileError, FunctionKind
from toolbox.code_analyzer.python.bindings import (
    LITERAL_TYPES,
    PROPERTY_DECORATORS,
    Alias,
    Annotated,
    Binding,
    ClassInfo,
    Entered,
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

__all__ = ["RESOLVE_SHARE", "collect", "module_name"]

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


def collect(root: Path, files: Sequence[Path], deadline: Deadline | None = None) -> Project:
    """Parse every file, name the modules from the package roots their imports reveal, then record them; when
    `deadline` expires the project holds the files done so far and is marked partial."""
    deadline = deadline or Deadline.never()
    collector = _Collector(root, files)
    trees: list[tuple[Path, ast.Module]] = []
    for file in sorted(files):
        if deadline.expired(_PARSE_SHARE):
            collector.stop(f"parsing, after {len(trees)} of {len(files)} files", deadline)
            break
        tree = collector.parse(file)
        if tree is not None:
            trees.append((file, tree))
    collector.name_modules(trees)
    for done, (file, tree) in enumerate(trees):
        if deadline.expired(_RECORD_SHARE):
            collector.stop(f"recording, after {done} of {len(trees)} parsed files", deadline)
            break
        collector.load(file, tree)
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


class _Collector:
    def __init__(self, root: Path, files: Sequence[Path]) -> None:
        self.start = root if root.is_dir() else root.parent
        self.base = _package_base(self.start)
        # The packages the folder analysed is inside of.
        self.around = {
            d for d in [self.start, *self.start.parents] if d.is_relative_to(self.base) and d != self.base
        }
        self.project = Project(root=root, files=len(files))
        # Short names for the project's tables, which this pass fills.
        self.modules = self.project.modules
        self.packages = self.project.packages
        self.units = self.project.units
        self.classes = self.project.classes
        self.properties = self.project.properties
        self.errors = self.project.errors
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

    def parse(self, file: Path) -> ast.Module | None:
        rel = self._rel(file)
        try:
            source = read_source(file).decode("utf-8", errors="replace")
            return ast.parse(source, filename=rel)
        except SyntaxError as e:
            self.errors.append(FileError(file=rel, line=e.lineno, message=f"syntax error: {e.msg}"))
        except (OSError, ValueError) as e:
            self.errors.append(FileError(file=rel, line=None, message=f"cannot read: {e}"))
        return None

    def name_modules(self, trees: Sequence[tuple[Path, ast.Module]]) -> None:
        heads: set[str] = set()
        for _, tree in trees:
            heads |= imported_heads(tree)
        inside = [f for f, _ in trees if f.is_relative_to(self.base)]
        above = [d.relative_to(self.base) for d in self.around]
        names, roots = module_names([f.relative_to(self.base) for f in inside], heads, above)
        self.names = {self.base / rel: name for rel, name in names.items()}
        self.project.package_roots = [str(r) for r in roots]
        # Scripts are declared beside the packages: in a root, or the folder above a `src/` root.
        folders = {self.base / r for r in roots} | {(self.base / r).parent for r in roots if r.parts}
        scripts, problems = read_entry_points(sorted(f for f in folders if f.is_relative_to(self.base)))
        self.project.entry_points = scripts
        self.project.warnings += problems

    def load(self, file: Path, tree: ast.Module) -> None:
        rel = self._rel(file)
        name = self.names.get(file, file.stem)
        if not name:
            return
        if file.name == "__init__.py":
            self.packages.add(name)
        scope = Scope(module=name, parent=None)
        self.modules[name] = scope
        unit = Unit(name=name, kind="module", file=rel, line=1, scope=scope)
        self.units[name] = unit
        self._body(tree.body, scope, name, unit, None)

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
                self.project.aliases.append((target.id, binding, unit))
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
                    self.project.aliases.append((alias.asname, ref, self.units[scope.module]))

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
