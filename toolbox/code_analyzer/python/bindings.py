"""What pass 1 records: bindings per scope, units (functions, methods, module code), classes, the project."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolbox.code_analyzer.model import FileError, FunctionKind

__all__ = [
    "BUILTINS",
    "LITERAL_TYPES",
    "MAX_DEPTH",
    "PROPERTY_DECORATORS",
    "Alias",
    "Annotated",
    "Binding",
    "ClassInfo",
    "Entered",
    "FileFacts",
    "InstanceOf",
    "Project",
    "Ref",
    "Scope",
    "SelfOf",
    "Several",
    "Unit",
    "Unknown",
    "decorator_name",
    "joined",
    "parse_annotation",
    "scope_chain",
    "source_text",
]

BUILTINS = frozenset(dir(builtins))
# Expressions whose type is certain without running anything: `", ".join(...)` is str.join.
LITERAL_TYPES: dict[type[ast.expr], str] = {
    ast.JoinedStr: "str",
    ast.List: "list",
    ast.ListComp: "list",
    ast.Dict: "dict",
    ast.DictComp: "dict",
    ast.Set: "set",
    ast.SetComp: "set",
    ast.Tuple: "tuple",
}
PROPERTY_DECORATORS = frozenset({"property", "cached_property"})
# Bounds the resolution of alias chains and re-exports, which may form cycles.
MAX_DEPTH = 25


@dataclass(frozen=True)
class Ref:
    """Bound to a dotted name (a definition or an import) resolved lazily."""

    dotted: str


@dataclass(frozen=True)
class Alias:
    """Bound to the value of an expression (`f = helpers.run`)."""

    expr: ast.expr
    scope: Scope


@dataclass(frozen=True)
class InstanceOf:
    """Bound to what calling an expression returns (`p = Processor()`): an instance if it is a class."""

    func: ast.expr
    scope: Scope
    name: str


@dataclass(frozen=True)
class Annotated:
    """A parameter with a type annotation: an instance of that class (static dispatch, as type checkers do)."""

    annotation: ast.expr
    scope: Scope
    name: str


@dataclass(frozen=True)
class SelfOf:
    """The first parameter of a method (an instance) or of a classmethod (the class)."""

    cls: str
    instance: bool


@dataclass(frozen=True)
class Entered:
    """Bound by `with expr as name` (`async with`): what the context manager's `__enter__` (`__aenter__`) gives."""

    expr: ast.expr
    scope: Scope
    name: str
    method: str  # __enter__ or __aenter__


@dataclass(frozen=True)
class Unknown:
    reason: str


@dataclass(frozen=True)
class Several:
    """A name bound more than once in one scope (`x = A()`, later `x = B()`): any of them, as for `A() if c else B()`."""

    options: tuple[Binding, ...]


Binding = Ref | Alias | InstanceOf | Annotated | SelfOf | Entered | Unknown | Several


def joined(old: Binding | None, new: Binding) -> Binding:
    """What a name holds once `new` is bound to it as well as `old` (flow-insensitive, so both)."""
    if old is None or old == new:
        return new
    before = old.options if isinstance(old, Several) else (old,)
    if new in before:
        return old
    return Several((*before, new))


@dataclass(eq=False)
class Scope:
    module: str
    parent: Scope | None
    is_class: bool = False
    bindings: dict[str, Binding] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings[name] = joined(self.bindings.get(name), binding)

    def holds(self, name: str, binding: Binding) -> bool:
        """Whether `binding` is (one of) what `name` is bound to here."""
        bound = self.bindings.get(name)
        return bound is binding or (isinstance(bound, Several) and any(b is binding for b in bound.options))


@dataclass(eq=False)
class Unit:
    name: str
    kind: FunctionKind
    file: str
    line: int
    scope: Scope
    cls: str | None = None  # the class a method belongs to (for super())
    calls: list[tuple[ast.Call, Scope]] = field(default_factory=list)
    returns: Annotated | None = None  # the return annotation, read in the scope the function is defined in
    returned: list[ast.expr] = field(default_factory=list)  # the values of its `return` statements
    params: list[str] = field(default_factory=list)  # positional and keyword parameters, in order


@dataclass(eq=False)
class ClassInfo:
    name: str
    bases: list[ast.expr]
    scope: Scope  # where the class statement is, to resolve its bases
    members: set[str] = field(default_factory=set)
    attributes: dict[str, Binding] = field(default_factory=dict)


@dataclass(eq=False)
class FileFacts:
    """What pass 1 records from one module, its scopes pointing only into each other: a pure function of the
    file's bytes, its module name and its path, so it can be cached under those."""

    modules: dict[str, Scope] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    units: dict[str, Unit] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    properties: set[str] = field(default_factory=set)
    aliases: list[tuple[str, Binding, Unit]] = field(default_factory=list)


@dataclass(eq=False)
class Project:
    """Everything pass 1 learnt; pass 2 only reads it."""

    root: Path
    files: int
    modules: dict[str, Scope] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    units: dict[str, Unit] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    properties: set[str] = field(default_factory=set)
    errors: list[FileError] = field(default_factory=list)
    # Other names a function goes by: `from .fmt import emit as write_out`, `run = start`.
    aliases: list[tuple[str, Binding, Unit]] = field(default_factory=list)
    entry_points: dict[str, str] = field(default_factory=dict)  # command name -> dotted function
    package_roots: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    partial: bool = False

    def add(self, facts: FileFacts) -> None:
        """A module's facts, in the order the modules are recorded: a later one's names replace an earlier's."""
        self.modules.update(facts.modules)
        self.packages |= facts.packages
        self.units.update(facts.units)
        self.classes.update(facts.classes)
        self.properties |= facts.properties
        self.aliases += facts.aliases


def decorator_name(expr: ast.expr) -> str:
    """`property`, `functools.cached_property` -> `cached_property`, `app.route(...)` -> `route`."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""


def parse_annotation(expr: ast.expr) -> ast.expr:
    """String annotations (`"Order"`, or every annotation under `from __future__ import annotations`) parsed."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        try:
            return ast.parse(expr.value, mode="eval").body
        except SyntaxError:
            return expr
    return expr


def scope_chain(scope: Scope) -> Iterator[Scope]:
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def source_text(expr: ast.expr) -> str:
    try:
        return ast.unparse(expr)
    except Exception:  # unparse of odd trees is best effort; the reason line still tells the story
        return type(expr).__name__
