"""Pass 2: resolve every recorded call to a project function, an external name, or a stated reason it cannot."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from toolbox.code_analyzer.base import Deadline
from toolbox.code_analyzer.model import CallEdge, CallGraph, EdgeKind, ExternalCall, Function, UnresolvedCall
from toolbox.code_analyzer.python.bindings import (
    BUILTINS,
    LITERAL_TYPES,
    MAX_DEPTH,
    Alias,
    Annotated,
    Binding,
    Entered,
    InstanceOf,
    Project,
    Ref,
    Scope,
    SelfOf,
    Several,
    Unit,
    parse_annotation,
    scope_chain,
    source_text,
)
from toolbox.code_analyzer.python.collect import RESOLVE_SHARE
from toolbox.code_analyzer.python.roots import look_alike_externals
from toolbox.code_analyzer.targets import External as _External
from toolbox.code_analyzer.targets import Instance as _Instance
from toolbox.code_analyzer.targets import Super as _Super
from toolbox.code_analyzer.targets import Symbol as _Symbol
from toolbox.code_analyzer.targets import Unresolved as _Unresolved

__all__ = ["build_graph"]


@dataclass(frozen=True)
class _Union:
    """One of several things (`A() if c else B()`, a function with returns of two classes)."""

    options: tuple[_Target, ...]


_Target = _Symbol | _Instance | _Super | _External | _Unresolved | _Union
_NONE = _External("builtins.NoneType")
# Calls that take a function to call later, and where it goes: positions of the arguments, keyword names.
_CALLBACK_KEYWORDS = frozenset({"target", "callback", "func", "fn", "function", "handler"})
_CALLBACK_TAKERS: dict[str, tuple[int, ...]] = {
    "map": (0,),
    "filter": (0,),
    "starmap": (0,),
    "imap": (0,),
    "imap_unordered": (0,),
    "apply_async": (0,),
    "submit": (0,),
    "partial": (0,),
    "run_in_executor": (1,),
    "to_thread": (0,),
    "call_soon": (0,),
    "call_soon_threadsafe": (0,),
    "call_later": (1,),
    "call_at": (1,),
    "add_done_callback": (0,),
    "Thread": (),
    "Process": (),
    "Timer": (1,),
}


def _options(target: _Target) -> tuple[_Target, ...]:
    return target.options if isinstance(target, _Union) else (target,)


def _union(options: list[_Target]) -> _Target:
    flat: list[_Target] = []
    for option in options:
        for one in option.options if isinstance(option, _Union) else (option,):
            # One reason is enough: each unresolved option becomes an unresolved entry for the same call.
            if one not in flat and not (
                isinstance(one, _Unresolved) and any(isinstance(f, _Unresolved) for f in flat)
            ):
                flat.append(one)
    if len(flat) > 1 and _NONE in flat:
        flat.remove(_NONE)  # `-> C | None`, an early `return None`: the calls made on it are C's
    return flat[0] if len(flat) == 1 else _Union(tuple(flat))


def build_graph(project: Project, deadline: Deadline | None = None) -> CallGraph:
    deadline = deadline or Deadline.never()
    resolver = _Resolver(project)
    graph = CallGraph(
        language="python",
        root=str(project.root),
        files=project.files,
        errors=project.errors,
        package_roots=project.package_roots,
        warnings=list(project.warnings),
        partial=project.partial,
    )
    graph.functions = sorted(
        (Function(name=u.name, kind=u.kind, file=u.file, line=u.line) for u in project.units.values()),
        key=lambda f: f.name,
    )
    units = list(project.units.values())
    for done, unit in enumerate(units):
        if deadline.expired(RESOLVE_SHARE):
            graph.partial = True
            graph.warnings.append(
                f"the time budget of {deadline.budget_s:g}s ran out while resolving calls, after {done} of "
                f"{len(units)} functions; the graph is partial"
            )
            break
        for call, scope in unit.calls:
            try:
                resolver.record(graph, unit, call, scope)
            except RecursionError:  # a chain the guards did not foresee: this call only, not the analysis
                graph.unresolved.append(
                    UnresolvedCall(
                        caller=unit.name,
                        expression=source_text(call.func),
                        file=unit.file,
                        line=call.lineno,
                        reason="resolving it recursed too deep",
                    )
                )
    graph.edges = sorted(
        {(e.caller, e.callee, e.file, e.line, e.kind): e for e in graph.edges}.values(),
        key=lambda e: (e.caller, e.line, e.callee, e.kind),
    )
    graph.aliases = resolver.aliases(project)
    graph.entry_points = {
        name: resolver.function_name(dotted) for name, dotted in project.entry_points.items()
    }
    graph.warnings += _look_alike_warnings(graph, project)
    return graph


def _look_alike_warnings(graph: CallGraph, project: Project) -> list[str]:
    alike = look_alike_externals((c.callee for c in graph.external), project.units)
    if not alike:
        return []
    roots = ", ".join(f"{r}/" if r != "." else "the folder analysed" for r in project.package_roots) or "none"
    return [
        f"calls into {', '.join(alike)} were taken as external although the project defines functions of "
        f"those names under another prefix; module names were taken from the package roots {roots}. "
        "Analyse the folder that holds the package, or check its imports."
    ]


class _Resolver:
    def __init__(self, project: Project) -> None:
        self.modules = project.modules
        self.units = project.units
        self.classes = project.classes
        self.properties = project.properties
        self.returns_cache: dict[str, _Target] = {}
        # The bindings being resolved right now, by id: meeting one again is a cycle (`self.x = self.x.y`).
        self.active: set[int] = set()
        self.called_params: dict[str, dict[str, int]] = {}
        self.subclasses: dict[str, set[str]] | None = (
            None  # direct subclasses in the project, built when needed
        )
        self.descendants: dict[str, list[str]] = {}  # every subclass, nearest first, once asked for

    def aliases(self, project: Project) -> dict[str, list[str]]:
        found: dict[str, set[str]] = {}
        for name, binding, unit in project.aliases:
            target = self._binding(binding, unit, 0)
            for one in target.options if isinstance(target, _Union) else (target,):
                if isinstance(one, _Symbol) and one.name in self.units and one.name not in self.modules:
                    found.setdefault(name, set()).add(one.name)
        return {name: sorted(names) for name, names in sorted(found.items())}

    def function_name(self, dotted: str) -> str:
        """The qualified name of the function `dotted` names through imports and re-exports, else `dotted`."""
        target = self._dotted(dotted, 0)
        return target.name if isinstance(target, _Symbol) else dotted

    def record(self, graph: CallGraph, unit: Unit, call: ast.Call, scope: Scope) -> None:
        target = self._callee(call.func, scope, unit)
        for one in _options(target):
            self._record_one(graph, unit, call, call.func, one, "call")
        self._overrides(graph, unit, call, scope, target)
        self._callbacks(graph, unit, call, scope, target)

    def _overrides(self, graph: CallGraph, unit: Unit, call: ast.Call, scope: Scope, target: _Target) -> None:
        """`self.invoke()` runs the `invoke` of self's own class, which may be a subclass that overrides it: an
        edge of kind override to each subclass in the project that defines the method itself."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        receiver = self._lookup(func.value.id, scope)
        if not isinstance(receiver, SelfOf):
            return
        if not any(isinstance(one, _Symbol) and one.name in self.units for one in _options(target)):
            return
        for sub in self._descendants(receiver.cls):
            if func.attr in self.classes[sub].members:
                graph.edges.append(
                    CallEdge(
                        caller=unit.name,
                        callee=f"{sub}.{func.attr}",
                        file=unit.file,
                        line=call.lineno,
                        kind="override",
                    )
                )

    def _descendants(self, cls: str) -> list[str]:
        if self.subclasses is None:
            self.subclasses = {}
            for name, klass in self.classes.items():
                for base in klass.bases:
                    try:
                        resolved = self._expr(base, klass.scope, self.units[name], 0)
                    except RecursionError:  # as in build_graph: this base only
                        continue
                    for one in _options(resolved):
                        if isinstance(one, _Symbol) and one.name in self.classes and one.name != name:
                            self.subclasses.setdefault(one.name, set()).add(name)
        known = self.descendants.get(cls)
        if known is not None:
            return known
        found: list[str] = []
        seen = {cls}
        todo = deque(sorted(self.subclasses.get(cls, ())))
        while todo:
            current = todo.popleft()
            if current not in seen:
                seen.add(current)
                found.append(current)
                todo += sorted(self.subclasses.get(current, ()))
        self.descendants[cls] = found
        return found

    def _record_one(
        self, graph: CallGraph, unit: Unit, call: ast.Call, expr: ast.expr, target: _Target, kind: EdgeKind
    ) -> None:
        if isinstance(target, _Symbol):
            graph.edges.append(
                CallEdge(caller=unit.name, callee=target.name, file=unit.file, line=call.lineno, kind=kind)
            )
        elif isinstance(target, _External):
            if kind == "call":
                graph.external.append(ExternalCall(caller=unit.name, callee=target.name, line=call.lineno))
        else:
            reason = target.reason if isinstance(target, _Unresolved) else "not a callable the analyser knows"
            graph.unresolved.append(
                UnresolvedCall(
                    caller=unit.name,
                    expression=source_text(expr),
                    file=unit.file,
                    line=call.lineno,
                    reason=reason
                    if kind == "call"
                    else f"callback passed to {source_text(call.func)}: {reason}",
                )
            )

    def _callbacks(self, graph: CallGraph, unit: Unit, call: ast.Call, scope: Scope, callee: _Target) -> None:
        """A project function passed as an argument is called later: an edge of kind callback. Where the call is
        known to take a callback (`map`, `submit`, `Thread(target=...)`), a class passed is constructed and an
        argument that cannot be resolved is reported. Where the callee is a project function that calls the
        parameter the argument lands in, the callee calls it too: a callback edge from the callee."""
        taker = call.func.attr if isinstance(call.func, ast.Attribute) else source_text(call.func)
        positions = _CALLBACK_TAKERS.get(taker, ())
        arguments: list[tuple[ast.expr, bool, int | str]] = [
            (a, i in positions, i) for i, a in enumerate(call.args)
        ]
        arguments += [
            (k.value, k.arg in _CALLBACK_KEYWORDS, k.arg) for k in call.keywords if k.arg is not None
        ]
        receivers = [
            u for u in (self.units.get(one.name) for one in _options(callee) if isinstance(one, _Symbol)) if u
        ]
        for value, expected, slot in arguments:
            if not isinstance(value, ast.Name | ast.Attribute):
                continue
            target = self._expr(value, scope, unit, 0)
            for receiver in receivers:
                self._passed_to(graph, receiver, self._parameter(receiver, call, scope, unit, slot), target)
            for one in _options(target):
                if isinstance(one, _Symbol) and one.name in self.units and one.name not in self.modules:
                    if one.name in self.classes:
                        one = self._callee(value, scope, unit) if expected else one
                        if not expected or not isinstance(one, _Symbol):
                            continue
                    self._record_one(graph, unit, call, value, one, "callback")
                elif expected and isinstance(one, _Unresolved):
                    self._record_one(graph, unit, call, value, one, "callback")

    def _parameter(
        self, receiver: Unit, call: ast.Call, scope: Scope, unit: Unit, slot: int | str
    ) -> str | None:
        """The parameter of `receiver` an argument in `slot` (a position or a keyword) of `call` lands in."""
        if isinstance(slot, str):
            return slot if slot in receiver.params else None
        first = receiver.scope.bindings.get(receiver.params[0]) if receiver.params else None
        bound = isinstance(first, SelfOf) or (
            isinstance(first, Several) and any(isinstance(b, SelfOf) for b in first.options)
        )
        if bound and isinstance(call.func, ast.Attribute) and isinstance(first, SelfOf) and first.instance:
            # `Base.method(self, fn)`: called on the class, the instance is passed explicitly.
            owner = self._expr(call.func.value, scope, unit, 0)
            bound = not (isinstance(owner, _Symbol) and owner.name in self.classes)
        index = slot + 1 if bound else slot
        return receiver.params[index] if index < len(receiver.params) else None

    def _passed_to(self, graph: CallGraph, receiver: Unit, param: str | None, passed: _Target) -> None:
        line = self._params_called(receiver).get(param or "")
        if param is None or line is None:
            return
        for one in _options(passed):
            if isinstance(one, _Symbol) and one.name in self.units and one.name not in self.modules:
                called = self._called(one, ast.Name(id=param))
                if isinstance(called, _Symbol):
                    graph.edges.append(
                        CallEdge(
                            caller=receiver.name,
                            callee=called.name,
                            file=receiver.file,
                            line=line,
                            kind="callback",
                        )
                    )

    def _params_called(self, unit: Unit) -> dict[str, int]:
        """The parameters `unit` calls (`program(...)`), with the line of the first such call."""
        found = self.called_params.get(unit.name)
        if found is None:
            found = {}
            for call, scope in unit.calls:
                func = call.func
                if isinstance(func, ast.Name) and func.id in unit.params and scope is unit.scope:
                    found.setdefault(func.id, call.lineno)
            self.called_params[unit.name] = found
        return found

    def _callee(self, func: ast.expr, scope: Scope, unit: Unit, depth: int = 0) -> _Target:
        return self._called(self._expr(func, scope, unit, depth), func)

    def _called(self, target: _Target, func: ast.expr) -> _Target:
        if isinstance(target, _Union):
            return _union([self._called(one, func) for one in target.options])
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
            return self._made(self._callee(expr.func, scope, unit, depth + 1), depth)
        if isinstance(expr, ast.IfExp):
            return _union(
                [
                    self._expr(expr.body, scope, unit, depth + 1),
                    self._expr(expr.orelse, scope, unit, depth + 1),
                ]
            )
        if isinstance(expr, ast.Await):
            return self._expr(expr.value, scope, unit, depth + 1)
        literal = LITERAL_TYPES.get(type(expr))
        if isinstance(expr, ast.Constant):
            literal = type(expr.value).__name__
        if literal is not None:
            return _External(f"builtins.{literal}")
        return _Unresolved(f"a {type(expr).__name__} expression is not resolved statically")

    def _made(self, called: _Target, depth: int) -> _Target:
        """What a call returns: an instance of the class called, or what the function called returns."""
        if isinstance(called, _Union):
            return _union([self._made(one, depth) for one in called.options])
        if isinstance(called, _Symbol):
            owner = called.name.rsplit(".", 1)[0]
            if called.name.endswith(".__init__") and owner in self.classes:
                return _Instance(owner)
            if called.name in self.classes:
                return _Instance(called.name)
            return self._returned(called.name, depth)
        if isinstance(called, _External):
            return _External(f"{called.name}()")
        return called

    def _returned(self, name: str, depth: int) -> _Target:
        """Its return annotation, else the union of what its `return` statements give; cached, and a function
        met again while its own returns are worked out (recursion) gives unknown."""
        if name in self.returns_cache:
            return self.returns_cache[name]
        untracked = _Unresolved(f"the value returned by {name}() is not tracked")
        self.returns_cache[name] = untracked
        unit = self.units.get(name)
        result: _Target = untracked
        if unit is not None and unit.returns is not None:
            result = self._annotation(unit.returns, unit, depth + 1)
        elif unit is not None and unit.returned:
            options = [self._expr(value, unit.scope, unit, depth + 1) for value in unit.returned]
            if not any(isinstance(one, _Unresolved) for one in options):
                result = _union(options)
        if isinstance(result, _Unresolved):
            result = untracked
        self.returns_cache[name] = result
        return result

    def _annotation(self, annotated: Annotated, unit: Unit, depth: int) -> _Target:
        """An instance of the annotated class; `C | None`, `Optional[C]`, `Union[A, B]` give their members."""
        return self._annotated(annotated.annotation, annotated, unit, depth)

    def _annotated(self, expr: ast.expr, annotated: Annotated, unit: Unit, depth: int) -> _Target:
        expr = parse_annotation(expr)
        if isinstance(expr, ast.Constant) and expr.value is None:
            return _NONE
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return _union([self._annotated(side, annotated, unit, depth) for side in (expr.left, expr.right)])
        if isinstance(expr, ast.Subscript):
            outer = self._expr(expr.value, annotated.scope, unit, depth + 1)
            if isinstance(outer, _External) and outer.name.rsplit(".", 1)[-1] in ("Optional", "Union"):
                members = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
                return _union([self._annotated(m, annotated, unit, depth) for m in members])
            if isinstance(outer, _External) and outer.name.rsplit(".", 1)[-1] == "Annotated":
                first = expr.slice.elts[0] if isinstance(expr.slice, ast.Tuple) else expr.slice
                return self._annotated(first, annotated, unit, depth)
            return (
                outer
                if isinstance(outer, _External) and outer.name.rsplit(".", 1)[-1] != "Callable"
                else _Unresolved(f"'{annotated.name}' is of a type the analyser does not follow")
            )
        declared = self._expr(expr, annotated.scope, unit, depth)
        if isinstance(declared, _Symbol) and declared.name in self.classes:
            return _Instance(declared.name)
        if isinstance(declared, _External):
            return declared
        return _Unresolved(f"'{annotated.name}' is of a type the analyser does not follow")

    def _binding(self, binding: Binding, unit: Unit, depth: int) -> _Target:
        key = id(binding)
        if key in self.active:
            return _Unresolved("it is defined in terms of itself (a cycle of assignments or bases)")
        self.active.add(key)
        try:
            return self._bound(binding, unit, depth)
        finally:
            self.active.discard(key)

    def _bound(self, binding: Binding, unit: Unit, depth: int) -> _Target:
        if isinstance(binding, Several):
            return _union([self._binding(one, unit, depth + 1) for one in binding.options])
        if isinstance(binding, Entered):
            made = self._expr(binding.expr, binding.scope, unit, depth + 1)
            return _union([self._entered(one, binding, depth + 1) for one in _options(made)])
        if isinstance(binding, Ref):
            return self._dotted(binding.dotted, depth)
        if isinstance(binding, Alias):
            expr = binding.expr
            if isinstance(expr, ast.Name) and binding.scope.holds(expr.id, binding):
                # `TimeoutError = TimeoutError`: the right side is whatever the name meant before.
                if expr.id in BUILTINS:
                    return _External(f"builtins.{expr.id}")
                return _Unresolved(f"'{expr.id}' is bound to itself")
            return self._expr(expr, binding.scope, unit, depth)
        if isinstance(binding, InstanceOf):
            made = self._expr(ast.Call(func=binding.func, args=[], keywords=[]), binding.scope, unit, depth)
            parts = made.options if isinstance(made, _Union) else (made,)
            if all(isinstance(one, _Instance | _External) for one in parts):
                return made
            return _Unresolved(
                f"'{binding.name}' holds the result of {source_text(binding.func)}(), which the analyser does not follow"
            )
        if isinstance(binding, Annotated):
            declared = self._annotation(binding, unit, depth)
            if isinstance(declared, _Unresolved):
                return _Unresolved(f"'{binding.name}' is a parameter of a type the analyser does not follow")
            return declared
        if isinstance(binding, SelfOf):
            return _Instance(binding.cls) if binding.instance else _Symbol(binding.cls)
        return _Unresolved(binding.reason)

    def _entered(self, made: _Target, binding: Entered, depth: int) -> _Target:
        """What entering `made` gives: what its class's `__enter__` returns when that is another class (a
        return annotation, or the classes it constructs), else the instance itself (`return self`)."""
        if isinstance(made, _Instance):
            enter = self._member(made.cls, binding.method, depth, set())
            if isinstance(enter, _Symbol) and enter.name in self.units:
                given = self._returned(enter.name, depth)
                lineage = set(self._mro(made.cls, depth))
                if not isinstance(given, _Unresolved) and not all(
                    isinstance(one, _Instance) and one.cls in lineage for one in _options(given)
                ):
                    return given
            return made
        if isinstance(made, _External):
            return made
        return _Unresolved(
            f"'{binding.name}' holds what entering {source_text(binding.expr)} gives, which the analyser does not follow"
        )

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
        if isinstance(base, _Union):
            return _union([self._attribute(one, attr, depth) for one in base.options])
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
        for klass in self._mro(cls, depth):
            binding = self.classes[klass].attributes.get(attr)
            if binding is not None:
                return self._binding(binding, self.units[klass], depth + 1)
        return missing

    def _mro(self, cls: str, depth: int) -> Iterator[str]:
        seen: set[str] = set()
        todo = [cls]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.classes:
                continue
            seen.add(current)
            yield current
            for base in self.classes[current].bases:
                resolved = self._expr(base, self.classes[current].scope, self.units[current], depth + 1)
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
