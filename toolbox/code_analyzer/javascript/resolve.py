"""Pass 2: resolve every recorded call to a project function, an external name, or a stated reason it cannot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolbox.code_analyzer.javascript.bindings import (
    GLOBALS,
    LITERALS,
    MAX_DEPTH,
    PLAIN_THIS,
    Alias,
    Annotated,
    Binding,
    External,
    Imported,
    ObjectOf,
    Project,
    Ref,
    Scope,
    SuperOf,
    ThisOf,
    Unit,
)
from toolbox.code_analyzer.javascript.collect import unwrap
from toolbox.code_analyzer.javascript.modules import Entry, ModuleTable
from toolbox.code_analyzer.javascript.syntax import Node, field, line, string_value, text
from toolbox.code_analyzer.model import CallEdge, CallGraph, ExternalCall, Function, UnresolvedCall
from toolbox.code_analyzer.targets import External as _External
from toolbox.code_analyzer.targets import Instance as _Instance
from toolbox.code_analyzer.targets import Super as _Super
from toolbox.code_analyzer.targets import Symbol as _Symbol
from toolbox.code_analyzer.targets import Unresolved as _Unresolved

__all__ = ["LANGUAGE", "build_graph"]

LANGUAGE = "javascript/typescript"
# What every object has from Object.prototype, so `obj.toString()` is not "no such member".
_OBJECT_MEMBERS = frozenset(
    {"toString", "toLocaleString", "valueOf", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"}
)


@dataclass(frozen=True)
class _Module:
    name: str


@dataclass(frozen=True)
class _Object:
    name: str


@dataclass(frozen=True)
class _Require:
    """CommonJS's `require` itself: a call to it is an import, not an edge."""


_Target = _Symbol | _Module | _Object | _Instance | _Super | _External | _Require | _Unresolved


def build_graph(project: Project, table: ModuleTable, entries: Sequence[Entry]) -> CallGraph:
    resolver = _Resolver(project, table)
    graph = CallGraph(language=LANGUAGE, root=project.root, files=project.files, errors=project.errors)
    functions = [Function(name=u.name, kind=u.kind, file=u.file, line=u.line) for u in project.units.values()]
    for entry in entries:
        functions.append(Function(name=entry.name, kind="function", file=entry.package_json, line=entry.line))
        for callee in resolver.entry_points(table.names[entry.file]):
            graph.edges.append(
                CallEdge(caller=entry.name, callee=callee, file=entry.package_json, line=entry.line)
            )
    graph.functions = sorted({f.name: f for f in functions}.values(), key=lambda f: f.name)
    for unit in project.units.values():
        for call, scope in unit.calls:
            resolver.record(graph, unit, call, scope)
    graph.edges = sorted(
        {(e.caller, e.callee, e.file, e.line): e for e in graph.edges}.values(),
        key=lambda e: (e.caller, e.line, e.callee),
    )
    return graph


class _Resolver:
    def __init__(self, project: Project, table: ModuleTable) -> None:
        self.modules = project.modules
        self.units = project.units
        self.classes = project.classes
        self.objects = project.objects
        self.table = table

    # --- recording ------------------------------------------------------------------------------------------

    def entry_points(self, module: str) -> list[str]:
        """What a package's users can run of a module: its top-level code and the functions it exports."""
        found = [module]
        for name in self._export_names(module, set()):
            target = self._export(module, name, 0)
            if isinstance(target, _Object):
                found += [
                    t.name
                    for member in sorted(self.objects[target.name])
                    if isinstance(t := self._attribute(target, member, 0), _Symbol)
                ]
            elif isinstance(target, _Symbol | _Instance):
                cls = target.cls if isinstance(target, _Instance) else target.name
                if not isinstance(target, _Instance):
                    found.append(cls)
                if cls in self.classes:
                    # An exported class (or instance): its users call its methods.
                    found += [
                        f"{cls}.{m}" for m in sorted(self.classes[cls].members) if not m.startswith("#")
                    ]
        return list(dict.fromkeys(found))

    def record(self, graph: CallGraph, unit: Unit, call: Node, scope: Scope) -> None:
        target, expression = self._call_target(call, scope)
        at = line(call)
        if isinstance(target, _Symbol):
            graph.edges.append(CallEdge(caller=unit.name, callee=target.name, file=unit.file, line=at))
        elif isinstance(target, _External):
            graph.external.append(ExternalCall(caller=unit.name, callee=target.name, line=at))
        elif not isinstance(target, _Require):
            reason = target.reason if isinstance(target, _Unresolved) else "not a callable the analyser knows"
            graph.unresolved.append(
                UnresolvedCall(
                    caller=unit.name, expression=expression, file=unit.file, line=at, reason=reason
                )
            )
        # A function handed to another (`items.map(render)`, `on('x', this.handle)`) is called by it.
        arguments = field(call, "arguments")
        for arg in arguments.named_children if arguments is not None else []:
            if unwrap(arg).type in ("identifier", "member_expression"):
                passed = self._expr(arg, scope, 0)
                if isinstance(passed, _Symbol) and self._is_function(passed.name):
                    graph.edges.append(
                        CallEdge(caller=unit.name, callee=passed.name, file=unit.file, line=line(arg))
                    )

    def _is_function(self, name: str) -> bool:
        unit = self.units.get(name)
        return unit is not None and unit.kind in ("function", "method")

    def _call_target(self, call: Node, scope: Scope) -> tuple[_Target, str]:
        if call.type == "new_expression":
            ctor = field(call, "constructor")
            if ctor is None:
                return _Unresolved("no constructor"), text(call)
            return self._new(self._expr(ctor, scope, 0)), "new " + text(ctor)
        if call.type in ("jsx_opening_element", "jsx_self_closing_element"):
            tag = field(call, "name")
            if tag is None:
                return _Unresolved("no component"), text(call)
            target = self._expr(tag, scope, 0)
            return (_Symbol(target.name) if isinstance(target, _Symbol) else target), "<" + text(tag) + ">"
        fn = field(call, "function")
        if fn is None:
            return _Unresolved("no callee"), text(call)
        if fn.type == "import":
            return _Require(), text(fn)  # `import('./x')` loads a module, as require does
        return self._callee(fn, scope), text(fn)

    def _new(self, made: _Target) -> _Target:
        if isinstance(made, _Symbol) and made.name in self.classes:
            ctor = self._member(made.name, "constructor", 0)
            return ctor if isinstance(ctor, _Symbol) else made
        if isinstance(made, _Symbol | _External | _Unresolved):
            return made  # a function called with `new` (a class written the ES5 way) is called all the same
        return _Unresolved("not a class")

    def _callee(self, fn: Node, scope: Scope, depth: int = 0) -> _Target:
        target = self._expr(fn, scope, depth)
        if isinstance(target, _Super):
            base = self._base(target.cls, 0)
            return self._new(base) if base is not None else _Unresolved(f"class {target.cls} has no base")
        if (
            isinstance(target, _Symbol)
            and target.name in self.classes
            and self.units[target.name].kind == "class"
        ):
            return _Unresolved(f"class {target.name} called without new")
        if isinstance(target, _Module):
            return _Unresolved(f"module {target.name} is not callable")
        if isinstance(target, _Object):
            return _Unresolved(f"object {target.name} is not callable")
        if isinstance(target, _Instance):
            return _Unresolved(f"instances of {target.cls} are not callable")
        return target

    # --- expressions ----------------------------------------------------------------------------------------

    def _lookup(self, name: str, scope: Scope) -> Binding | None:
        owner = scope.owner_of(name)
        return owner.bindings[name] if owner is not None else None

    def _expr(self, node: Node, scope: Scope, depth: int) -> _Target:
        if depth > MAX_DEPTH:
            return _Unresolved("alias chain too deep (or cyclic)")
        node = unwrap(node)
        kind = node.type
        if kind in ("identifier", "shorthand_property_identifier", "type_identifier", "this", "super"):
            name = text(node)
            binding = self._lookup(name, scope)
            if binding is not None:
                return self._binding(binding, depth + 1)
            if name == "require":
                return _Require()
            if name in GLOBALS:
                return _External(name)
            return _Unresolved(f"'{name}' is not defined")
        if kind in ("member_expression", "nested_type_identifier"):
            obj = field(node, "object") or field(node, "module")
            prop = field(node, "property") or field(node, "name")
            if obj is None or prop is None:
                return _Unresolved(f"'{text(node)}' is not resolved statically")
            return self._attribute(self._expr(obj, scope, depth + 1), text(prop), depth + 1)
        if kind == "subscript_expression":
            key = string_value(field(node, "index"))
            obj = field(node, "object")
            if key is None or obj is None:
                return _Unresolved(f"'{text(node)}' is a computed member")
            return self._attribute(self._expr(obj, scope, depth + 1), key, depth + 1)
        if kind == "call_expression":
            return self._call_value(node, scope, depth)
        if kind == "new_expression":
            ctor = field(node, "constructor")
            made = self._expr(ctor, scope, depth + 1) if ctor is not None else _Unresolved("no constructor")
            if isinstance(made, _Symbol) and made.name in self.classes:
                return _Instance(made.name)
            if isinstance(made, _External):
                return made
            if isinstance(made, _Symbol):
                return _Unresolved(f"what new {made.name}() makes is not tracked")
            return made
        if kind in LITERALS:
            return _External(LITERALS[kind])
        if kind in ("arrow_function", "function_expression", "function"):
            return _Unresolved("a function written in place; its calls count as the enclosing function's")
        return _Unresolved(f"a {kind} expression is not resolved statically")

    def _call_value(self, node: Node, scope: Scope, depth: int) -> _Target:
        """What a call returns: the module for `require('./x')`; otherwise only external results are named."""
        fn = field(node, "function")
        called = self._callee(fn, scope, depth + 1) if fn is not None else _Unresolved("no callee")
        if isinstance(called, _Require):
            arguments = field(node, "arguments")
            first = (
                arguments.named_children[0] if arguments is not None and arguments.named_children else None
            )
            specifier = string_value(first)
            if specifier is None:
                return _Unresolved("require() of a computed name")
            module = self.modules.get(scope.module)
            file = self.table.resolve(module.file, specifier) if module is not None else None
            if file is not None:
                return self._export(self.table.names[file], "*", depth + 1)
            if specifier.startswith((".", "/")):
                return _Unresolved(f"'{specifier}' is not a file under the analysed folder")
            return _External(specifier)
        if isinstance(called, _Symbol):
            return _Unresolved(f"the value returned by {called.name}() is not tracked")
        if isinstance(called, _External):
            return _External(f"{called.name}()")
        return called

    def _binding(self, binding: Binding, depth: int) -> _Target:
        if isinstance(binding, Ref):
            return _Symbol(binding.name)
        if isinstance(binding, Imported):
            return self._export(binding.module, binding.name, depth)
        if isinstance(binding, External):
            return _External(binding.name)
        if isinstance(binding, Alias):
            target = self._expr(binding.node, binding.scope, depth)
            for attr in binding.attrs:
                target = self._attribute(target, attr, depth)
            return target
        if isinstance(binding, Annotated):
            declared = self._expr(binding.type_name, binding.scope, depth)
            if isinstance(declared, _Symbol) and declared.name in self.classes:
                return _Instance(declared.name)
            if isinstance(declared, _External):
                return declared
            return _Unresolved(f"'{binding.name}' is declared with a type the analyser does not follow")
        if isinstance(binding, ObjectOf):
            return _Object(binding.name)
        if isinstance(binding, ThisOf):
            if binding.owner in self.objects:
                return _Object(binding.owner)
            if binding.owner not in self.classes:
                return _Unresolved(PLAIN_THIS.reason)
            return _Instance(binding.owner) if binding.instance else _Symbol(binding.owner)
        if isinstance(binding, SuperOf):
            return _Super(binding.cls)
        return _Unresolved(binding.reason)

    # --- modules, objects, classes --------------------------------------------------------------------------

    def _export(self, module_name: str, name: str, depth: int) -> _Target:
        if depth > MAX_DEPTH:
            return _Unresolved(f"'{name}' of {module_name} is re-exported in a cycle")
        module = self.modules.get(module_name)
        if module is None:
            return _Unresolved(f"module {module_name} was not analysed")
        if name == "*":
            return (
                self._binding(module.whole, depth + 1) if module.whole is not None else _Module(module_name)
            )
        if name in module.exports:
            return self._binding(module.exports[name], depth + 1)
        if module.whole is not None:
            whole = self._binding(module.whole, depth + 1)
            # CommonJS seen from an ES module: the default import is `module.exports` itself.
            return whole if name == "default" else self._attribute(whole, name, depth + 1)
        for star in module.stars:
            if name in self._export_names(star, set()):
                return self._export(star, name, depth + 1)
        return _Unresolved(f"module {module_name} has no export '{name}'")

    def _export_names(self, module_name: str, seen: set[str]) -> list[str]:
        module = self.modules.get(module_name)
        if module is None or module_name in seen:
            return []
        seen.add(module_name)
        names = list(module.exports)
        if isinstance(module.whole, ObjectOf):
            names += list(self.objects.get(module.whole.name, {}))
        elif module.whole is not None:
            names.append("default")
        for star in module.stars:
            names += [n for n in self._export_names(star, seen) if n != "default"]
        return list(dict.fromkeys(names))

    def _attribute(self, base: _Target, attr: str, depth: int) -> _Target:
        if depth > MAX_DEPTH:
            return _Unresolved("alias chain too deep (or cyclic)")
        if isinstance(base, _Module):
            return self._export(base.name, attr, depth + 1)
        if isinstance(base, _Object):
            members = self.objects.get(base.name, {})
            if attr in members:
                return self._binding(members[attr], depth + 1)
            if attr in _OBJECT_MEMBERS:
                return _External(f"Object.prototype.{attr}")
            return _Unresolved(f"object {base.name} has no member '{attr}'")
        if isinstance(base, _Symbol):
            if base.name in self.classes:
                return self._member(base.name, attr, depth + 1)
            if attr in ("call", "apply", "bind"):
                return base  # f.call(thisArg, ...) calls f; f.bind(thisArg) is f, to be called later
            return _Unresolved(f"attribute '{attr}' of function {base.name}")
        if isinstance(base, _Instance):
            return self._member(base.cls, attr, depth + 1)
        if isinstance(base, _Super):
            parent = self._base(base.cls, depth + 1)
            if parent is None:
                return _Unresolved(f"class {base.cls} has no base")
            if isinstance(parent, _Symbol):
                return self._member(parent.name, attr, depth + 1) if parent.name in self.classes else parent
            return self._attribute(parent, attr, depth + 1)
        if isinstance(base, _External):
            return _External(f"{base.name}.{attr}")
        if isinstance(base, _Require):
            return _Unresolved(f"require.{attr}")
        return base

    def _base(self, cls: str, depth: int) -> _Target | None:
        info = self.classes[cls]
        return self._expr(info.base, info.scope, depth + 1) if info.base is not None else None

    def _member(self, cls: str, attr: str, depth: int) -> _Target:
        seen: set[str] = set()
        current = cls
        while current not in seen:
            seen.add(current)
            info = self.classes[current]
            if attr in info.members:
                return _Symbol(f"{current}.{attr}")
            if attr in info.attributes:
                return self._binding(info.attributes[attr], depth + 1)
            base = self._base(current, depth)
            if base is None:
                break
            if isinstance(base, _Symbol) and base.name in self.classes:
                current = base.name
                continue
            if isinstance(base, _External):
                return _External(f"{base.name}.{attr}")
            return _Unresolved(f"cannot tell where {cls}.{attr} comes from: its base is not resolved")
        if attr in _OBJECT_MEMBERS:
            return _External(f"Object.prototype.{attr}")
        return _Unresolved(f"class {cls} has no member '{attr}'")
