"""Pass 2: resolve every recorded call to a project function, an external name, or a stated reason it cannot."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from toolbox.code_analyzer.model import CallEdge, CallGraph, ExternalCall, Function, UnresolvedCall
from toolbox.code_analyzer.python.bindings import (
    BUILTINS,
    LITERAL_TYPES,
    MAX_DEPTH,
    Alias,
    Annotated,
    Binding,
    InstanceOf,
    Project,
    Ref,
    Scope,
    SelfOf,
    Unit,
    scope_chain,
    source_text,
)

__all__ = ["build_graph"]


@dataclass(frozen=True)
class _Symbol:
    name: str  # a function, method, class or module of the project


@dataclass(frozen=True)
class _Instance:
    cls: str


@dataclass(frozen=True)
class _Super:
    cls: str


@dataclass(frozen=True)
class _External:
    name: str


@dataclass(frozen=True)
class _Unresolved:
    reason: str
    # True when a class's bases could not all be resolved, so "no such attribute" would be a guess.
    unknown_base: bool = False


_Target = _Symbol | _Instance | _Super | _External | _Unresolved


def build_graph(project: Project) -> CallGraph:
    resolver = _Resolver(project)
    graph = CallGraph(language="python", root=str(project.root), files=project.files, errors=project.errors)
    graph.functions = sorted(
        (Function(name=u.name, kind=u.kind, file=u.file, line=u.line) for u in project.units.values()),
        key=lambda f: f.name,
    )
    for unit in project.units.values():
        for call, scope in unit.calls:
            resolver.record(graph, unit, call, scope)
    graph.edges = sorted(
        {(e.caller, e.callee, e.file, e.line): e for e in graph.edges}.values(),
        key=lambda e: (e.caller, e.line, e.callee),
    )
    return graph


class _Resolver:
    def __init__(self, project: Project) -> None:
        self.modules = project.modules
        self.units = project.units
        self.classes = project.classes
        self.properties = project.properties

    def record(self, graph: CallGraph, unit: Unit, call: ast.Call, scope: Scope) -> None:
        target = self._callee(call.func, scope, unit)
        if isinstance(target, _Symbol):
            graph.edges.append(
                CallEdge(caller=unit.name, callee=target.name, file=unit.file, line=call.lineno)
            )
        elif isinstance(target, _External):
            graph.external.append(ExternalCall(caller=unit.name, callee=target.name, line=call.lineno))
        else:
            reason = target.reason if isinstance(target, _Unresolved) else "not a callable the analyser knows"
            graph.unresolved.append(
                UnresolvedCall(
                    caller=unit.name,
                    expression=source_text(call.func),
                    file=unit.file,
                    line=call.lineno,
                    reason=reason,
                )
            )

    def _callee(self, func: ast.expr, scope: Scope, unit: Unit) -> _Target:
        target = self._expr(func, scope, unit, 0)
        if isinstance(target, _Symbol):
            if target.name in self.classes:
                init = self._member(target.name, "__init__", 0, set())
                return init if isinstance(init, _Symbol) else target
            if target.name in self.modules:
                return _Unresolved(f"'{source_text(func)}' is a module, not a callable")
            return target
        if isinstance(target, _Instance):
            call = self._member(target.cls, "__call__", 0, set())
            return (
                call
                if isinstance(call, _Symbol)
                else _Unresolved(f"instances of {target.cls} are not callable")
            )
        return target

    def _lookup(self, name: str, scope: Scope) -> Binding | None:
        current: Scope | None = scope
        first = True
        while current is not None:
            if not current.is_class or first:
                if name in current.bindings:
                    return current.bindings[name]
                for star in current.stars:
                    if star in self.modules and name in self.modules[star].bindings:
                        return Ref(f"{star}.{name}")
            first = False
            current = current.parent
        return None

    def _expr(self, expr: ast.expr, scope: Scope, unit: Unit, depth: int) -> _Target:
        if depth > MAX_DEPTH:
            return _Unresolved("alias chain too deep (or cyclic)")
        if isinstance(expr, ast.Name):
            binding = self._lookup(expr.id, scope)
            if binding is None:
                if expr.id in BUILTINS:
                    return _External(f"builtins.{expr.id}")
                if any(s.stars for s in scope_chain(scope)):
                    return _Unresolved(
                        f"'{expr.id}' may come from a star import the analyser cannot see into"
                    )
                return _Unresolved(f"'{expr.id}' is not defined")
            return self._binding(binding, unit, depth + 1)
        if isinstance(expr, ast.Attribute):
            base = self._expr(expr.value, scope, unit, depth + 1)
            return self._attribute(base, expr.attr, depth + 1)
        if isinstance(expr, ast.Call):
            if (
                isinstance(expr.func, ast.Name)
                and expr.func.id == "super"
                and self._lookup("super", scope) is None
            ):
                if unit.cls is None:
                    return _Unresolved("super() outside a method")
                return _Super(unit.cls)
            called = self._callee(expr.func, scope, unit)
            if isinstance(called, _Symbol):
                owner = called.name.rsplit(".", 1)[0]
                if (
                    called.name.endswith(".__init__") and owner in self.classes
                ) or called.name in self.classes:
                    return _Instance(owner if called.name.endswith(".__init__") else called.name)
                return _Unresolved(f"the value returned by {called.name}() is not tracked")
            if isinstance(called, _External):
                return _External(f"{called.name}()")
            return called
        literal = LITERAL_TYPES.get(type(expr))
        if isinstance(expr, ast.Constant):
            literal = type(expr.value).__name__
        if literal is not None:
            return _External(f"builtins.{literal}")
        return _Unresolved(f"a {type(expr).__name__} expression is not resolved statically")

    def _binding(self, binding: Binding, unit: Unit, depth: int) -> _Target:
        if isinstance(binding, Ref):
            return self._dotted(binding.dotted, depth)
        if isinstance(binding, Alias):
            expr = binding.expr
            if isinstance(expr, ast.Name) and binding.scope.bindings.get(expr.id) is binding:
                # `TimeoutError = TimeoutError`: the right side is whatever the name meant before.
                if expr.id in BUILTINS:
                    return _External(f"builtins.{expr.id}")
                return _Unresolved(f"'{expr.id}' is bound to itself")
            return self._expr(expr, binding.scope, unit, depth)
        if isinstance(binding, InstanceOf):
            made = self._expr(ast.Call(func=binding.func, args=[], keywords=[]), binding.scope, unit, depth)
            if isinstance(made, _Instance | _External):
                return made
            return _Unresolved(
                f"'{binding.name}' holds the result of {source_text(binding.func)}(), which the analyser does not follow"
            )
        if isinstance(binding, Annotated):
            declared = self._expr(binding.annotation, binding.scope, unit, depth)
            if isinstance(declared, _Symbol) and declared.name in self.classes:
                return _Instance(declared.name)
            if isinstance(declared, _External):
                return declared
            return _Unresolved(f"'{binding.name}' is a parameter of a type the analyser does not follow")
        if isinstance(binding, SelfOf):
            return _Instance(binding.cls) if binding.instance else _Symbol(binding.cls)
        return _Unresolved(binding.reason)

    def _dotted(self, dotted: str, depth: int) -> _Target:
        if depth > MAX_DEPTH:
            return _Unresolved(f"'{dotted}' is re-exported in a cycle")
        if dotted in self.modules or dotted in self.units:
            return _Symbol(dotted)
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            if module in self.modules:
                scope = self.modules[module]
                binding = self._lookup(parts[i], scope)
                if binding is None:
                    return _Unresolved(f"module {module} has no '{parts[i]}'")
                target = self._binding(binding, self.units[module], depth + 1)
                for attr in parts[i + 1 :]:
                    target = self._attribute(target, attr, depth + 1)
                return target
        return _External(dotted)

    def _attribute(self, base: _Target, attr: str, depth: int) -> _Target:
        if isinstance(base, _Symbol):
            if base.name in self.modules:
                return self._dotted(f"{base.name}.{attr}", depth)
            if base.name in self.classes:
                member = self._member(base.name, attr, depth, set())
                if isinstance(member, _Unresolved):
                    return self._instance_attribute(base.name, attr, depth, member)
                return member
            if base.name in self.properties:
                return _Unresolved(f"the value of property {base.name} is not tracked")
            return _Unresolved(f"attribute '{attr}' of function {base.name}")
        if isinstance(base, _Instance):
            member = self._member(base.cls, attr, depth, set())
            if isinstance(member, _Unresolved):
                return self._instance_attribute(base.cls, attr, depth, member)
            return member
        if isinstance(base, _Super):
            return self._in_bases(base.cls, attr, depth, set())
        if isinstance(base, _External):
            return _External(f"{base.name}.{attr}")
        return base

    def _instance_attribute(self, cls: str, attr: str, depth: int, missing: _Unresolved) -> _Target:
        for klass in self._mro(cls):
            binding = self.classes[klass].attributes.get(attr)
            if binding is not None:
                return self._binding(binding, self.units[klass], depth + 1)
        return missing

    def _mro(self, cls: str) -> Iterator[str]:
        seen: set[str] = set()
        todo = [cls]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.classes:
                continue
            seen.add(current)
            yield current
            for base in self.classes[current].bases:
                resolved = self._expr(base, self.classes[current].scope, self.units[current], 0)
                if isinstance(resolved, _Symbol) and resolved.name in self.classes:
                    todo.append(resolved.name)

    def _member(self, cls: str, attr: str, depth: int, seen: set[str]) -> _Target:
        klass = self.classes[cls]
        if attr in klass.members or f"{cls}.{attr}" in self.units:
            return _Symbol(f"{cls}.{attr}")
        return self._in_bases(cls, attr, depth, seen | {cls})

    def _in_bases(self, cls: str, attr: str, depth: int, seen: set[str]) -> _Target:
        klass = self.classes[cls]
        external: list[str] = []
        unknown: list[str] = []
        for base in klass.bases:
            resolved = self._expr(base, klass.scope, self.units[cls], depth + 1)
            if isinstance(resolved, _Symbol) and resolved.name in self.classes:
                if resolved.name in seen:
                    continue
                found = self._member(resolved.name, attr, depth + 1, seen | {resolved.name})
                if not isinstance(found, _Unresolved):
                    return found
                if found.unknown_base:
                    unknown.append(found.reason)
            elif isinstance(resolved, _External):
                external.append(resolved.name)
            else:
                unknown.append(
                    f"cannot tell where {cls}.{attr} comes from: its base {source_text(base)} is not resolved"
                )
        if external:
            return _External(f"{external[0]}.{attr}")
        if unknown:
            return _Unresolved(unknown[0], unknown_base=True)
        if hasattr(object, attr):
            return _External(f"builtins.object.{attr}")
        return _Unresolved(f"class {cls} has no attribute '{attr}'")
